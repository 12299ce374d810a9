"""`tutela datamap draft`: a Fides dataset and declarations drafted from real SQLite, PostgreSQL and
MariaDB schemas, every guess marked `# review`, and the draft passes `tutela datamap check`."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from cli_inprocess import run_cli
from tutela.datamap import load_datamap
from tutela.datamap.draft import Column, TableSchema, draft, guesses
from tutela.taxonomy import load_taxonomy

Cap = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch
P = "nc_"  # this file's table prefix


def shop_schema() -> sa.MetaData:
    """A small shop for children: members, their orders and order lines, messages, a lookup table."""
    md = sa.MetaData()
    sa.Table(f"{P}members", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(80)),
             sa.Column("first_name", sa.String(40)), sa.Column("date_of_birth", sa.Date),
             sa.Column("country_code", sa.String(2)), sa.Column("last_ip", sa.String(45)),
             sa.Column("created_at", sa.DateTime))
    sa.Table(f"{P}orders", md, sa.Column("order_id", sa.Integer, primary_key=True),
             sa.Column("member", sa.Integer, sa.ForeignKey(f"{P}members.id")), sa.Column("street", sa.String(80)),
             sa.Column("placed_at", sa.DateTime))
    sa.Table(f"{P}order_lines", md, sa.Column("line_id", sa.Integer, primary_key=True),
             sa.Column("order_id", sa.Integer, sa.ForeignKey(f"{P}orders.order_id")), sa.Column("sku", sa.String(20)))
    sa.Table(f"{P}messages", md, sa.Column("message_id", sa.Integer, primary_key=True),
             sa.Column("sender_id", sa.Integer), sa.Column("body", sa.Text), sa.Column("sent_at", sa.DateTime))
    sa.Table(f"{P}skus", md, sa.Column("sku", sa.String(20), primary_key=True), sa.Column("title", sa.String(80)))
    return md


@contextmanager
def server_db(kind: str) -> Iterator[str]:
    """A database of this file's own on the local PostgreSQL or MariaDB server, dropped afterwards."""
    name = f"tutela_newcomer_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine({"postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                              "mariadb": "mysql+pymysql://root@127.0.0.1:3306/"}[kind], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:  # the URL as a user types it: PostgreSQL without a driver, which Tutela supplies
        yield (f"postgresql://postgres@127.0.0.1:5432/{name}" if kind == "postgresql"
               else f"mysql+pymysql://root@127.0.0.1:3306/{name}")
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if kind == "postgresql" else ""))
        admin.dispose()


def create(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    shop_schema().create_all(engine)
    engine.dispose()


def drafted(capsys: Cap, monkeypatch: MP, url: str, out: Path) -> dict[str, object]:
    code, text, err = run_cli(capsys, monkeypatch, "datamap", "draft", "--url", url, "--out", str(out),
                              "--name", "shop", "--format", "json")
    assert code == 0, err + text
    return dict(json.loads(text))


def check_draft(capsys: Cap, monkeypatch: MP, out: Path) -> None:
    """The draft loads, passes `datamap check`, and says what it guessed, with `# review` on each guess."""
    dataset, decl = out / "shop.yml", out / "shop.tutela.yml"
    code, text, err = run_cli(capsys, monkeypatch, "datamap", "check", str(dataset), "--format", "json")
    report = json.loads(text)
    assert (code, report["ok"], report["problems"]) == (0, True, []), err
    dm = load_datamap(dataset)  # declarations found beside it, as `<name>.tutela.yml`
    assert dm.tutela is not None and dm.tutela.dataset == "shop"
    cats = {(c.name, f.name): f.data_categories for c in dm.dataset.collections for f in c.fields}
    assert cats[(f"{P}members", "email")] == ("user.contact.email",)
    assert cats[(f"{P}members", "date_of_birth")] == ("user.demographic.date_of_birth",)
    assert cats[(f"{P}members", "country_code")] == ("user.contact.address.country",)
    assert cats[(f"{P}members", "last_ip")] == ("user.device.ip_address",)
    assert cats[(f"{P}members", "first_name")] == ("user.name.first",)
    assert cats[(f"{P}orders", "street")] == ("user.contact.address.street",)
    assert cats[(f"{P}messages", "body")] == ("user.content.private",)
    assert cats[(f"{P}order_lines", "sku")] == ()  # no guess: left for the user
    members = dm.collection(f"{P}members")
    ident = next(f for f in members.fields if f.name == "id").fides_meta
    assert ident is not None and ident.identity == "id" and ident.primary_key
    member = next(f for f in dm.collection(f"{P}orders").fields if f.name == "member").fides_meta
    assert member is not None and member.references[0].field == f"{P}members.id"  # from the foreign key
    line = next(f for f in dm.collection(f"{P}order_lines").fields if f.name == "order_id").fides_meta
    assert line is not None and line.references[0].field == f"{P}orders.order_id"
    sender = next(f for f in dm.collection(f"{P}messages").fields if f.name == "sender_id").fides_meta
    assert sender is not None and sender.references[0].field == f"{P}members.id"  # by its name
    t = dm.tutela
    assert (t.subjects.collection, t.subjects.key, t.subjects.jurisdiction, t.subjects.birth_date) == (
        f"{P}members", "id", "country_code", "date_of_birth")
    assert {n: (d.subject, d.time) for n, d in t.collections.items()} == {
        f"{P}members": ("id", "created_at"), f"{P}orders": ("member", "placed_at"),
        f"{P}messages": ("sender_id", "sent_at")}
    assert all(d.acts[0].use == "essential.service" for d in t.collections.values())
    for path in (dataset, decl):
        for line_text in path.read_text("utf-8").splitlines():
            if re.search(r"data_categories: \[\w|identity|references|(^|\s)(subject|collection|key|jurisdiction|"
                         r"birth_date|time|acts):", line_text) and not line_text.lstrip().startswith("#"):
                assert "# review" in line_text, line_text


def test_draft_from_sqlite(tmp_path: Path, capsys: Cap, monkeypatch: MP) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    create(url)
    summary = drafted(capsys, monkeypatch, url, tmp_path / "draft")
    assert summary["subject"] == f"{P}members" and f"{P}order_lines.sku" in summary["uncategorised"]  # type: ignore[operator]  # the summary is parsed JSON
    check_draft(capsys, monkeypatch, tmp_path / "draft")


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_draft_from_a_server(kind: str, tmp_path: Path, capsys: Cap, monkeypatch: MP) -> None:
    with server_db(kind) as url:
        create(url)
        summary = drafted(capsys, monkeypatch, url, tmp_path / "draft")
    assert summary["subject"] == f"{P}members"
    check_draft(capsys, monkeypatch, tmp_path / "draft")


def test_the_draft_of_a_clipstream_estate_audits(tmp_path: Path, capsys: Cap, monkeypatch: MP) -> None:
    url = f"sqlite:///{tmp_path / 'cs.db'}"
    code, _, _ = run_cli(capsys, monkeypatch, "estate", "generate", "--accounts", "40", "--seed", "5", "--out", url,
                         "--format", "json")
    assert code == 0
    drafted(capsys, monkeypatch, url, tmp_path)
    code, text, err = run_cli(capsys, monkeypatch, "audit", "--estate", url, "--datamap", str(tmp_path / "shop.yml"),
                              "--as-of", "2026-11-01", "--format", "json")
    assert code == 0, err
    assert isinstance(json.loads(text), list)


def test_draft_errors(tmp_path: Path, capsys: Cap, monkeypatch: MP) -> None:
    code, text, _ = run_cli(capsys, monkeypatch, "datamap", "draft", "--url", str(tmp_path / "x.db"), "--format",
                            "json")
    err = json.loads(text)
    assert code == 3 and err["where"] == "--url" and f"sqlite:///{tmp_path / 'x.db'}" in err["hint"]
    code, text, _ = run_cli(capsys, monkeypatch, "datamap", "draft", "--url",
                            "postgresql://postgres:s3cret-pw@127.0.0.1:1/x", "--format", "json")
    assert code == 4 and json.loads(text)["error"] == "StoreUnavailable" and "s3cret-pw" not in text
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(empty).connect().close()  # a database file without tables
    code, text, _ = run_cli(capsys, monkeypatch, "datamap", "draft", "--url", empty, "--format", "json")
    assert code == 3 and json.loads(text)["message"] == "the database has no tables"
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    create(url)
    drafted(capsys, monkeypatch, url, tmp_path / "d")
    before = (tmp_path / "d" / "shop.yml").read_text("utf-8")
    code, text, _ = run_cli(capsys, monkeypatch, "datamap", "draft", "--url", url, "--out", str(tmp_path / "d"),
                            "--name", "shop", "--format", "json")
    assert code == 3 and "--force" in json.loads(text)["hint"]
    assert (tmp_path / "d" / "shop.yml").read_text("utf-8") == before
    code, _, _ = run_cli(capsys, monkeypatch, "datamap", "draft", "--url", url, "--out", str(tmp_path / "d"),
                         "--name", "shop", "--force")
    assert code == 0


def test_draft_of_a_schema_without_a_subject_says_so() -> None:
    tables = [TableSchema("widgets", (Column("widget_id", True), Column("colour")))]
    d = draft(tables, "w", "sqlite:///w.db", load_taxonomy())
    assert d.subject is None and "no table looks like the subjects'" in d.declarations
    assert yaml.safe_load(d.dataset)["dataset"][0]["collections"][0]["name"] == "widgets"


def test_the_guess_table_names_only_taxonomy_keys() -> None:
    tax = load_taxonomy()
    table = guesses()
    assert all(g.category in tax.categories for g in table.categories)
    assert table.category("Parent_Email") == "user.contact.email" and table.category("thread_id") is None
    assert table.category("on") is None  # YAML 1.1 words stay names: `_s` quotes them
    tables = [TableSchema("users", (Column("id", True), Column("on"), Column("yes")))]
    fields = yaml.safe_load(draft(tables, "u", "x", tax).dataset)["dataset"][0]["collections"][0]["fields"]
    assert [f["name"] for f in fields] == ["id", "on", "yes"]
