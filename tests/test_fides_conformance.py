"""Fides semantics on a plain Fides dataset of our own (tests/data/fides_shop) on PostgreSQL and
MariaDB: rows per collection for access (every reference path feeds a collection, 0-row
collections listed, skip_processing never read), exactly which columns a category-targeted
erasure policy changes (before/after dumps of every table), and a request's whole life on a
dataset without Tutela declarations."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from estate_fixture import server_database
from tutela.api import create_app
from tutela.connectors import ESTATE, erasure_targets, open_connector, plan
from tutela.connectors.estate import EstateConfig
from tutela.connectors.strategies import KEY_ENV, decrypt
from tutela.datamap import check, load_datamap
from tutela.datamap.check import notes
from tutela.datamap.erasure import parse_policy
from tutela.engine import Engine
from tutela.errors import InputError
from tutela.rights.export import json_value
from tutela.rights.fulfil import SubjectOps
from tutela.store.state import StateStore
from tutela.taxonomy import load_taxonomy

DATA = Path(__file__).parent / "data" / "fides_shop"
KEY = "conformance-key-not-a-secret-0123"
SUBJECT = "customer-1@example.com"
KINDS = ["postgresql", "mariadb"]
TOKEN = "alice-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTACT_AND_FINANCIAL = {"key": "contact_and_financial", "rules": [
    {"key": "contact", "targets": [{"data_category": "user.contact"}]},  # no strategy: null_rewrite
    {"key": "financial", "masking_strategy": {"strategy": "hash"}, "targets": ["user.financial"]},
]}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


@contextmanager
def shop(kind: str) -> Iterator[str]:
    with server_database(kind) as url:
        engine = sa.create_engine(url)
        lines = [ln for ln in (DATA / "seed.sql").read_text("utf-8").splitlines() if ln and not ln.startswith("--")]
        with engine.begin() as conn:
            for stmt in lines:
                conn.exec_driver_sql(stmt.rstrip(";"))
        engine.dispose()
        yield url


def dump(url: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Every table: primary key -> row (JSON values), so two dumps compare cell by cell."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            out[table.name] = {str(r["id"]): {k: json_value(v) for k, v in r.items()}
                               for r in conn.execute(sa.select(table)).mappings()}
    engine.dispose()
    return out


def changes(before: dict[str, dict[str, dict[str, Any]]],
            after: dict[str, dict[str, dict[str, Any]]]) -> dict[tuple[str, str, str], Any]:
    assert {t: set(rows) for t, rows in before.items()} == {t: set(rows) for t, rows in after.items()}  # no rows gone
    return {(t, pk, col): after[t][pk][col] for t, rows in before.items() for pk, row in rows.items()
            for col, v in row.items() if after[t][pk][col] != v}


def ops(url: str) -> SubjectOps:
    return SubjectOps(load_datamap(DATA / "shop.yml"), {ESTATE: open_connector(url)})


def test_the_dataset_checks_clean_and_names_what_is_skipped() -> None:
    dm = load_datamap(DATA / "shop.yml")
    assert dm.tutela is None and check(dm, load_taxonomy()) == []
    said = [(n.where, n.message) for n in notes(dm)]
    assert said == [(f"{dm.source}: audit_trail", "fides_meta.skip_processing: never read or erased by a request")]
    p = plan(dm)
    assert p.skip_processing == ("audit_trail",) and "audit_trail" not in [n.id for n in p.nodes]
    assert p.unreachable == () and p.cycles == ()
    assert {e.parent for e in p.node("address").inputs} == {"customer", "employee", "orders", "payment_card"}
    ids = [n.id for n in p.nodes]
    assert all(ids.index(e.parent) < ids.index(n.id) for n in p.nodes for e in n.inputs if e.parent)


@pytest.mark.parametrize("kind", KINDS)
def test_access_reads_every_path_and_lists_empty_and_skipped_collections(kind: str) -> None:
    with shop(kind) as url:
        subject = ops(url)
        try:
            export = subject.access(SUBJECT, {})
        finally:
            subject.stores[ESTATE].close()
    by_name = {c["name"]: c for c in export["collections"]}
    assert {n: len(c["rows"]) for n, c in by_name.items()} == {
        "customer": 1, "employee": 0, "report": 2, "service_request": 0, "visit": 1,
        "address": 2, "login": 3, "orders": 2, "payment_card": 1}
    assert sorted(r["id"] for r in by_name["address"]["rows"]) == [1, 2]  # home (customer) and shipping (orders)
    assert all(c["searched"] for c in export["collections"])
    assert export["skipped"] == [{"collection": "audit_trail", "why": export["skipped"][0]["why"]}]
    assert "skip_processing" in export["skipped"][0]["why"]
    text = json.dumps(export)
    for other in ("customer-2@example.com", "Sampleville", "refund", "called about", "ord_ccc-333"):
        assert other not in text, other
    prefs = {f["name"]: f["categories"] for f in by_name["customer"]["fields"]}["preferences"]
    assert prefs == ["system.operations", "user.contact.email"]  # the nested document's categories


@pytest.mark.parametrize("kind", KINDS)
def test_category_policy_changes_exactly_the_covered_columns(kind: str) -> None:
    policy = parse_policy(CONTACT_AND_FINANCIAL, "policy", load_taxonomy())
    with shop(kind) as url:
        before = dump(url)
        subject = ops(url)
        try:
            done = subject.erase(SUBJECT, delete_rows=False, policy=policy)
            after = dump(url)
            again = subject.erase(SUBJECT, delete_rows=False, policy=policy)
        finally:
            subject.stores[ESTATE].close()
        assert dump(url) == after  # a second run finds nothing (the identity is erased) and changes nothing
    got = changes(before, after)
    assert set(got) == {
        ("address", "1", "street"), ("address", "1", "city"), ("address", "1", "state"),
        ("address", "2", "street"), ("address", "2", "city"), ("address", "2", "state"),  # zip: preserve
        ("customer", "1", "email"), ("customer", "1", "preferences"),  # name (user.name) is not targeted
        ("payment_card", "pay_aaa-111", "ccn"), ("payment_card", "pay_aaa-111", "code"),
        ("payment_card", "pay_aaa-111", "name"),  # preferred is `user`: an ancestor, not covered
        ("report", "1", "email"), ("report", "2", "email"), ("visit", "1", "email")}
    for col in ("city", "state"):
        assert got[("address", "1", col)] is None and got[("address", "2", col)] is None
    assert decrypt(got[("address", "1", "street")]) == "123 Example Street"  # aes_encrypt override, GCM
    assert decrypt(got[("address", "2", "street")]) == "4 Example Lane"
    assert got[("customer", "1", "email")] is None and got[("visit", "1", "email")] is None
    ccn = got[("payment_card", "pay_aaa-111", "ccn")]  # hmac override, SHA-512
    assert ccn == "h:" + hmac.new(KEY.encode(), b"4111111111111111", hashlib.sha512).hexdigest()
    assert re.fullmatch(r"[a-z0-9]{8}-r", got[("payment_card", "pay_aaa-111", "code")])  # random_string_rewrite
    card = got[("payment_card", "pay_aaa-111", "name")]  # the rule's hash
    assert card == "h:" + hmac.new(KEY.encode(), b"Example Card 1", hashlib.sha256).hexdigest()
    rows = sorted((c["collection"], tuple(c["fields"]), c["rows"]) for c in done["changes"] if c["rows"])
    assert rows == [("address", ("city", "state", "street"), 2), ("customer", ("email",), 1),
                    ("customer", ("preferences",), 1), ("payment_card", ("ccn", "code", "name"), 1),
                    ("report", ("email",), 2), ("visit", ("email",), 1)]
    assert [c["fields"] for c in done["changes"]][-4:] != []  # identity targets come last:
    assert all(c["fields"] in (["email"], ["alt_email"]) for c in done["changes"][-5:])
    assert sum(c["rows"] for c in again["changes"]) == 0
    assert done["skipped"][0]["collection"] == "audit_trail"


@pytest.mark.parametrize("kind", KINDS)
def test_erasing_user_name_changes_only_names(kind: str) -> None:
    policy = parse_policy({"rules": [{"targets": ["user.name"]}]}, "policy", load_taxonomy())
    with shop(kind) as url:
        before = dump(url)
        subject = ops(url)
        try:
            subject.erase("customer-2@example.com", delete_rows=False, policy=policy)
        finally:
            subject.stores[ESTATE].close()
        got = changes(before, dump(url))
    assert got == {("customer", "2", "name"): "MASKED-x"}  # string_rewrite with format_preservation


def test_identity_fields_are_masked_after_every_other_target() -> None:
    dm = load_datamap(DATA / "shop.yml")
    policy = parse_policy(CONTACT_AND_FINANCIAL, "policy", load_taxonomy())
    targets = erasure_targets(plan(dm), dm, policy=policy)
    identity = [i for i, e in enumerate(targets) if set(e.target.masks) & {"email", "alt_email"}]
    assert identity and identity == list(range(len(targets) - len(identity), len(targets)))
    assert all(set(targets[i].target.masks) <= {"email", "alt_email"} for i in identity)
    address = [e for e in targets if e.node == "address"]
    assert len(address) == 1  # four paths into address, all on `id`: one target


def desk_for(url: str, tmp_path: Path, datamap: Path, engine: Engine) -> Any:
    return engine.requests(EstateConfig(url, datamap=datamap), state=StateStore(f"sqlite:///{tmp_path / 's.db'}"))


def test_a_request_on_a_plain_fides_dataset(tmp_path: Path, engine: Engine) -> None:
    with shop("postgresql") as url:
        desk = desk_for(url, tmp_path, DATA / "shop.yml", engine)
        try:
            with pytest.raises(InputError, match="no jurisdiction") as info:
                desk.create({"kind": "access", "subject": SUBJECT}, by="alice")
            assert info.value.where == "body.jurisdiction"
            made = desk.create({"kind": "access", "subject": SUBJECT, "jurisdiction": "US-CA"}, by="alice")
            assert made["jurisdiction"] == "US-CA"
            assert any(u.startswith("age:") and "COPPA" in u for u in made["undecided"])
            desk.approve(made["id"], by="bob")
            done = desk.run(made["id"])
            assert done["result"]["skipped"][0]["collection"] == "audit_trail" and done["result"]["undecided"]
            export, _digest = desk.export(made["id"])
            empty = next(c for c in export["collections"] if c["name"] == "service_request")
            assert empty["rows"] == [] and empty["searched"]
            page = desk.export_html(made["id"])
            assert 'data-skipped="audit_trail"' in page and "cannot decide" in page
            with pytest.raises(InputError, match=r"unknown data category `user\.bogus`") as info:
                desk.create({"kind": "erasure", "subject": SUBJECT, "scope": "data", "jurisdiction": "US",
                             "policy": {"rules": [{"targets": ["user.bogus"]}]}}, by="alice")
            assert info.value.where == "body.policy.rules[0].targets[0].data_category"
            aged = desk.create({"kind": "erasure", "subject": SUBJECT, "scope": "data", "jurisdiction": "US",
                                "age": 11, "policy": {"rules": [{"targets": ["user.name"]}]}}, by="alice")
            assert not any(u.startswith("age:") for u in aged["undecided"]) and aged["policy"]["key"] == "request"
            desk.approve(aged["id"], by="bob")
            erased = desk.run(aged["id"])
            assert erased["result"]["policy"] == "request"
            assert {c["collection"]: c["rows"] for c in erased["result"]["collections"] if c["rows"]} == {"customer": 1}
        finally:
            desk.close()


def test_requests_refuse_a_data_map_that_check_refuses(tmp_path: Path, engine: Engine) -> None:
    text = (DATA / "shop.yml").read_text("utf-8")
    bogus = tmp_path / "bogus.yml"
    bogus.write_text(text.replace("[user.sensor]", "[user.sensorr]"))
    cut = tmp_path / "cut.yml"  # login no longer references customer: unreachable
    link = "fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}\n          - {name: time"
    assert link in text
    cut.write_text(text.replace(link, "fides_meta: {data_type: integer}\n          - {name: time"))
    with shop("postgresql") as url:
        desk = desk_for(url, tmp_path, bogus, engine)
        try:
            with pytest.raises(InputError, match=r"unknown data category `user\.sensorr`") as info:
                desk.create({"kind": "access", "subject": SUBJECT, "jurisdiction": "US"}, by="alice")
            assert info.value.hint and "datamap check" in info.value.hint
        finally:
            desk.close()
        desk = desk_for(url, tmp_path, cut, engine)
        try:
            with pytest.raises(InputError, match="`login`") as info:
                desk.create({"kind": "access", "subject": SUBJECT, "jurisdiction": "US"}, by="alice")
            assert info.value.hint and "--allow-unreachable" in info.value.hint
            made = desk.create({"kind": "access", "subject": SUBJECT, "jurisdiction": "US",
                                "allow_unreachable": True}, by="alice")
            desk.approve(made["id"], by="bob")
            assert desk.run(made["id"])["result"]["unreachable"] == ["login"]
        finally:
            desk.close()


def test_policy_over_the_api_and_the_cli(tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    state = f"sqlite:///{tmp_path / 'api.db'}"
    monkeypatch.setenv("TUTELA_STATE", state)
    monkeypatch.setenv("TUTELA_STAFF_TOKENS", f"alice={TOKEN}")
    with shop("mariadb") as url:
        client = TestClient(create_app(engine, estate=EstateConfig(url, datamap=DATA / "shop.yml")))
        cbc = {"strategy": "aes_encrypt", "configuration": {"mode": "CBC"}}
        bad = client.post("/v1/requests", headers=AUTH, json={
            "kind": "erasure", "subject": SUBJECT, "scope": "data", "jurisdiction": "US",
            "policy": {"rules": [{"targets": ["user.contact"], "masking_strategy": cbc}]}})
        assert bad.status_code == 422 and bad.json()["where"] == "body.policy.rules[0].masking_strategy"
        made = client.post("/v1/requests", headers=AUTH, json={
            "kind": "erasure", "subject": SUBJECT, "scope": "data", "jurisdiction": "US",
            "policy": {"key": "names", "rules": [{"targets": [{"data_category": "user.name"}]}]}})
        assert made.status_code == 201, made.text
        assert made.json()["policy"]["key"] == "names"
        assert client.get(f"/v1/requests/{made.json()['id']}", headers=AUTH).json()["policy"]["key"] == "names"
        policy = tmp_path / "policy.yml"
        policy.write_text("policy:\n  key: p\n  rules:\n    - targets: [user.contact]\n"
                          "      masking_strategy: {strategy: string_rewrite, configuration: {rewrite_valu: x}}\n")
        out = subprocess.run([sys.executable, "-m", "tutela", "requests", "create", "--estate", url, "--datamap",
                              str(DATA / "shop.yml"), "--kind", "erasure", "--scope", "data", "--subject", SUBJECT,
                              "--jurisdiction", "US", "--policy", str(policy)], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "TUTELA_STATE": state})
        assert out.returncode == 3 and "Traceback" not in out.stderr
        assert f"{policy}: policy.rules[0].masking_strategy" in " ".join(out.stderr.split())


@pytest.mark.parametrize(("old", "new", "message"), [
    ("- {name: total_visits, data_categories: [system.operations]}",
     "- {name: total_visits, data_categories: [user.behavior], "
     "fides_meta: {masking_strategy_override: {strategy: hash}}}",
     "`hash` needs a text field"),
    ("- {name: state, data_categories: [user.contact.address.state]}",
     "- {name: state, data_categories: [user.contact.address.state], "
     "fides_meta: {masking_strategy_override: {strategy: aes_encrypt}}}",
     "`aes_encrypt` writes 42 characters; the column holds 20"),
])
def test_a_strategy_that_cannot_run_fails_before_any_write(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = (DATA / "shop.yml").read_text("utf-8")
    assert old in text
    (tmp_path / "shop.yml").write_text(text.replace(old, new))
    dm = load_datamap(tmp_path / "shop.yml")
    assert check(dm, load_taxonomy()) == []  # nothing the data map alone shows: the store's types decide
    policy = parse_policy({"rules": [{"targets": ["user"]}]}, "policy", load_taxonomy())
    with shop("postgresql") as url:
        before = dump(url)
        subject = SubjectOps(dm, {ESTATE: open_connector(url)})
        try:
            with pytest.raises(InputError, match=message):
                subject.erase(SUBJECT, delete_rows=False, policy=policy)
        finally:
            subject.stores[ESTATE].close()
        assert dump(url) == before


def test_a_declared_length_refuses_a_longer_mask_in_check_and_at_create(tmp_path: Path, engine: Engine) -> None:
    text = (DATA / "shop.yml").read_text("utf-8")
    old = "fides_meta: {data_type: string}}\n          - {name: preferred"
    assert old in text
    (tmp_path / "shop.yml").write_text(text.replace(old, "fides_meta: {data_type: string, length: 20}}\n"
                                                         "          - {name: preferred"))
    (tmp_path / "hashed.yml").write_text(text.replace(old, "fides_meta: {data_type: string, length: 20, "
                                                           "masking_strategy_override: {strategy: hash}}}\n"
                                                           "          - {name: preferred"))
    problems = [p.message for p in check(load_datamap(tmp_path / "hashed.yml"), load_taxonomy())]
    assert problems == ["`hash` writes up to 66 characters; the field's length is 20"]
    with shop("postgresql") as url:
        desk = desk_for(url, tmp_path, tmp_path / "shop.yml", engine)
        try:
            with pytest.raises(InputError, match="writes up to 66 characters") as info:
                desk.create({"kind": "erasure", "subject": SUBJECT, "scope": "data", "jurisdiction": "US",
                             "policy": {"rules": [{"targets": ["user.financial"],
                                                   "masking_strategy": {"strategy": "hash"}}]}}, by="alice")
            assert info.value.where is not None and info.value.where.endswith("payment_card.name")
            assert desk.list() == []  # nothing recorded
        finally:
            desk.close()


def test_declarations_may_leave_jurisdiction_and_birth_date_out(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "shop.yml").write_text((DATA / "shop.yml").read_text("utf-8"))
    (tmp_path / "shop.tutela.yml").write_text(
        "tutela:\n  dataset: shop\n  subjects: {collection: customer, key: email}\n  collections: {}\n")
    dm = load_datamap(tmp_path / "shop.yml")
    assert dm.tutela is not None and dm.tutela.subjects.jurisdiction is None and check(dm, load_taxonomy()) == []
    with shop("mariadb") as url:
        subject = SubjectOps(dm, {ESTATE: open_connector(url)})
        try:
            who = subject.find(SUBJECT)
            assert (who.jurisdiction, who.birth_date) == (None, None)
            assert len(subject.undecided(who, None)) == 1  # age only: declarations exist
            assert "declares no birth-date column" in subject.undecided(who, None)[0]
            assert subject.undecided(who, 9) == []
            with pytest.raises(InputError, match=r"unknown subject `nobody@example\.com`"):
                subject.find("nobody@example.com")
        finally:
            subject.stores[ESTATE].close()
        with pytest.raises(InputError, match="declarations name no `jurisdiction` column") as info:
            engine.audit(url, datamap=tmp_path / "shop.yml")
        assert info.value.hint and "declare both columns" in info.value.hint
