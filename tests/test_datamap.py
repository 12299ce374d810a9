"""Data maps: the packaged ClipStream map, plain Fides datasets, and their problems."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tutela.datamap import check, load_datamap
from tutela.errors import InputError
from tutela.taxonomy import load_taxonomy

PLAIN = """
dataset:
  - fides_key: shop
    name: Shop
    collections:
      - name: customer
        fields:
          - name: email
            data_categories: [user.contact.email]
            fidesops_meta: {identity: email, data_type: string}
          - name: id
            data_categories: [user.unique_id]
            fides_meta: {primary_key: true}
      - name: orders
        fields:
          - name: customer_id
            data_categories: [user.unique_id]
            fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}
          - name: shipping
            data_categories: [user.contact.address]
"""


def test_clipstream_map_is_clean() -> None:
    dm = load_datamap()
    assert check(dm, load_taxonomy()) == []
    assert dm.tutela is not None and "location_pings" in dm.tutela.collections
    assert dm.categories("media")["lat"] == ("user.location.precise",)
    assert "account_id" not in dm.categories("media")  # identifiers are not acts


def test_plain_fides_dataset_loads_unchanged(tmp_path: Path) -> None:
    f = tmp_path / "shop.yml"
    f.write_text(PLAIN)
    dm = load_datamap(f)
    assert dm.tutela is None and dm.dataset.fides_key == "shop"
    assert check(dm, load_taxonomy()) == []


@pytest.mark.parametrize(("change", "where", "message"), [
    (("user.contact.address]", "user.bogus]"), "orders.shipping", "unknown data category `user.bogus`"),
    (("field: customer.id", "field: customer.nope"), "orders.customer_id", "reference to missing field"),
    (("fidesops_meta: {identity: email, data_type: string}", "fidesops_meta: {data_type: string}"),
     "shop", "no identity field"),
    (("direction: from}", "direction: to}"), "orders", "unreachable from any identity"),
])
def test_problems_name_file_and_key(tmp_path: Path, change: tuple[str, str], where: str, message: str) -> None:
    f = tmp_path / "shop.yml"
    f.write_text(PLAIN.replace(*change))
    problems = check(load_datamap(f), load_taxonomy())
    assert any(p.where == f"{f}: {where}" and message in p.message for p in problems), problems


def test_bad_yaml_and_bad_shape_are_input_errors(tmp_path: Path) -> None:
    f = tmp_path / "x.yml"
    f.write_text("dataset: [unclosed")
    with pytest.raises(InputError, match="not valid YAML"):
        load_datamap(f)
    f.write_text("dataset: []")
    with pytest.raises(InputError) as info:
        load_datamap(f)
    assert info.value.where and info.value.where.startswith(str(f))
    with pytest.raises(InputError, match="cannot read"):
        load_datamap(tmp_path / "missing.yml")


def test_declarations_are_checked(tmp_path: Path) -> None:
    from importlib import resources

    base = resources.files("tutela.data.datamaps")
    (tmp_path / "cs.yml").write_text(base.joinpath("clipstream.yml").read_text())
    decl = base.joinpath("clipstream.tutela.yml").read_text()
    (tmp_path / "cs.tutela.yml").write_text(decl.replace("time: watched_at", "time: watched_on")
                                            .replace("use: personalize.content.profiled", "use: nope"))
    problems = check(load_datamap(tmp_path / "cs.yml"), load_taxonomy())
    messages = {p.message for p in problems}
    assert "field `watch_history.watched_on` is not in the dataset" in messages
    assert "unknown data use `nope`" in messages
    (tmp_path / "cs.tutela.yml").write_text(decl.replace("  subjects:", "  subjectz:"))
    with pytest.raises(InputError) as info:
        load_datamap(tmp_path / "cs.yml")
    assert info.value.where is not None and "cs.tutela.yml: tutela.subject" in info.value.where


def test_cli_import_stores_only_clean_maps(tmp_path: Path) -> None:
    f = tmp_path / "shop.yml"
    f.write_text(PLAIN)
    env = {"TUTELA_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "tutela", "datamap", "import", str(f), "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "home" / "datamaps" / "shop.yml").read_text() == PLAIN
    bad = tmp_path / "bad.yml"
    bad.write_text(PLAIN.replace("fides_key: shop", "fides_key: bad").replace("user.contact.address]", "user.x]"))
    out = subprocess.run([sys.executable, "-m", "tutela", "datamap", "import", str(bad), "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1
    assert json.loads(out.stdout)["problems"][0]["message"] == "unknown data category `user.x`"
    assert not (tmp_path / "home" / "datamaps" / "bad.yml").exists()
