"""The ClipStream estate generator: determinism, a realistic mix, real media files, every
target (SQLite, Parquet, PostgreSQL, MariaDB) and the ground truth kept apart."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from tutela.clipstream import AS_OF, generate, load_truth, records
from tutela.clipstream import truth as truthmod
from tutela.clipstream.generate import _Gen
from tutela.clipstream.media import read_jpeg_gps, read_mp4_location
from tutela.clipstream.schema import TABLES
from tutela.clipstream.truth import Person, person_grant
from tutela.errors import InputError
from tutela.rulebook import load_rulebook

N = 300
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
MARIA = "mysql+pymysql://root@127.0.0.1:3306"
AGE_RE = re.compile(r"\b(?:I'm|I am|age)\s+(\d{1,2})\b|\b(\d{1,2})\s*(?:y/o|yo|years old)\b", re.I)


@pytest.fixture(autouse=True)
def tutela_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TUTELA_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def book() -> Any:
    return load_rulebook()


def read_sql(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                    for t in TABLES}
    finally:
        engine.dispose()


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# ---------------------------------------------------------------------------- determinism
def test_same_seed_same_estate_other_seed_other_estate(tmp_path: Path) -> None:
    a, b, c = (tmp_path / f"{x}.db" for x in "abc")
    sa_ = generate(f"sqlite:///{a}", N, 11, media_files=20)
    generate(f"sqlite:///{b}", N, 11, media_files=20)
    generate(f"sqlite:///{c}", N, 12, media_files=0)
    ra, rb, rc = read_sql(f"sqlite:///{a}"), read_sql(f"sqlite:///{b}"), read_sql(f"sqlite:///{c}")
    assert ra == rb
    assert ra["accounts"] != rc["accounts"] and ra["watch_history"] != rc["watch_history"]
    assert {k: len(v) for k, v in ra.items()} == sa_["tables"]
    assert load_truth(str(a)) == load_truth(f"sqlite:///{b}".replace(str(b), str(a)))
    assert [f["rule"] for f in load_truth(str(a))] == sorted(f["rule"] for f in load_truth(str(a)))
    # the same files, byte for byte
    ma, mb = tmp_path / "a-media", tmp_path / "b-media"
    files = sorted(p.relative_to(ma) for p in ma.rglob("*") if p.is_file())
    assert len(files) >= 20
    assert all((ma / f).read_bytes() == (mb / f).read_bytes() for f in files)


# ---------------------------------------------------------------------------- realistic mix
def test_realistic_mix(tmp_path: Path) -> None:
    db = tmp_path / "mix.db"
    s = generate(str(db), 1000, 5, media_files=0)
    assert 0.19 <= s["mix"]["minors"] / 1000 <= 0.31
    assert s["mix"]["liars"] > 0 and s["mix"]["liars_stating_age"] > 0
    assert s["mix"]["public_default_minors"] > 0 and s["mix"]["profiled_ads_to_minors"] > 0
    t = read_sql(f"sqlite:///{db}")
    acc = {r[0]: r for r in t["accounts"]}
    countries = {r[5] for r in t["accounts"]}
    assert {"NL", "DE", "FR", "GB", "US", "US-CA", "US-IL", "BR", "IN"} <= countries
    assert len(countries) >= 25
    declared_minor = sum(age_on(r[4], AS_OF) < 18 for r in t["accounts"])
    assert 0.1 <= declared_minor / 1000 <= 0.3
    # minors' profiles public by default
    public_default = [p for p in t["profiles"] if p[3] == "public" and p[4] == "default"
                      and age_on(acc[p[0]][4], AS_OF) < 18]
    assert public_default
    # children who declared an adult birth date and stated their real age in a text
    texts = ([(p[0], p[1], acc[p[0]][8].date()) for p in t["profiles"] if p[1]]
             + [(m[1], m[4], m[7].date()) for m in t["media"] if m[4]]
             + [(m[1], m[3], m[4].date()) for m in t["messages"]])
    liars = {aid for aid, text, day in texts
             if (m := AGE_RE.search(text)) and age_on(acc[aid][4], day) >= 18
             and 5 <= int(m.group(1) or m.group(2)) <= 17}
    assert len(liars) >= 5
    # consents: missing, unverified "parents", verified parents, lapsed
    cons = t["consents"]
    assert any(c[3] == "parent" and c[4] == "declared" for c in cons)
    assert any(c[3] == "parent" and c[4] == "verified" for c in cons)
    assert any(c[7] is not None for c in cons) and any(c[8] is not None for c in cons)
    assert len({c[1] for c in cons}) < 1000
    # profiled ads, face templates (incl. US-IL), geotagged media, transfers to non-adequate countries
    assert {a[3] for a in t["ad_impressions"]} == {"profiled", "contextual"}
    assert any(acc[f[1]][5] == "US-IL" for f in t["face_templates"])
    assert any(m[5] is not None for m in t["media"]) and any(m[5] is None for m in t["media"])
    procs = {p[0]: p for p in t["processors"]}
    assert any(procs[x[2]][3] in ("IN", "CN") and procs[x[2]][5] is None for x in t["transfers"])
    times = [r[-1] for name in ("watch_history", "location_pings", "ad_impressions") for r in t[name]]
    assert min(times) >= dt.datetime(2024, 11, 1) and max(times) < dt.datetime(2026, 11, 1)


# ---------------------------------------------------------------------------- media files
def test_media_files_carry_location(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    s = generate(f"sqlite:///{db}", N, 3)
    folder = Path(s["media_dir"])
    assert folder == tmp_path / "m-media"
    t = read_sql(f"sqlite:///{db}")
    photos = [m for m in t["media"] if m[2] == "photo" and m[5] is not None]
    videos = [m for m in t["media"] if m[2] == "video" and m[5] is not None]
    plain = [m for m in t["media"] if m[5] is None]
    assert photos and videos and plain
    assert all((folder / m[3]).is_file() for m in t["media"])
    for m in photos[:5]:
        lat, lon = read_jpeg_gps(folder / m[3]) or (None, None)
        assert lat == pytest.approx(m[5], abs=1e-4) and lon == pytest.approx(m[6], abs=1e-4)
    for m in videos[:5]:
        loc = read_mp4_location(folder / m[3])
        assert loc == f"{m[5]:+08.4f}{m[6]:+09.4f}/"
    for m in plain[:5]:
        path = folder / m[3]
        assert (read_jpeg_gps(path) if m[2] == "photo" else read_mp4_location(path)) is None
    avatars = [p for p in t["profiles"] if p[2]]
    assert avatars and all((folder / p[2]).is_file() for p in avatars)
    # with a cap, only the first media rows get files
    s2 = generate(f"sqlite:///{tmp_path / 'cap.db'}", N, 3, media_files=10)
    assert len(list((tmp_path / "cap-media" / "media").iterdir())) == 10 and s2["media_files"] >= 10


# ---------------------------------------------------------------------------- ground truth
EXPECTED = ("EU-EPRIVACY.art5-3.location", "EU-DSA.art28-2", "EU-GDPR.art25-2", "EU-GDPR.art44-46",
            "US-IL-BIPA.15-b", "US-COPPA.312-5-a-1", "EU-GDPR.art6-1-a.personalisation")


def test_truth_default_and_lawful(tmp_path: Path, tutela_home: Path) -> None:
    db, ok = tmp_path / "d.db", tmp_path / "lawful.db"
    s = generate(str(db), 1500, 7, media_files=0)
    findings = load_truth(f"sqlite:///{db}")
    rules = {f["rule"]: f for f in findings}
    assert set(EXPECTED) <= set(rules), sorted(rules)
    assert all(f["rows"] >= f["subjects"] > 0 and f["examples"] for f in findings)
    assert any(f["subjects_age_from_signal"] for f in findings)
    # stored apart from the estate, under TUTELA_HOME
    assert Path(s["truth"]).parent == tutela_home / "truth"
    assert not any("truth" in p.name for p in tmp_path.iterdir() if p != tutela_home)
    generate(f"sqlite:///{ok}", 1500, 7, lawful=True, media_files=0)
    assert load_truth(str(ok)) == []


def test_truth_equals_plain_reference_loop(book: Any) -> None:
    for seed, lawful in ((1, False), (2, False), (3, True)):
        g = _Gen(N, seed, lawful, None, book)
        g.accounts()
        g.content()
        fast = truthmod.compute(book, g.t, g.people, AS_OF)
        assert fast == truthmod.compute_plain(book, g.t, g.people, AS_OF)
        assert (fast == []) == lawful


def _one(book: Any, jur: str, birth: dt.date, grants: list[tuple[Any, ...]],
         signals: Sequence[tuple[int, dt.date]] = (), table: str = "watch_history") -> set[str]:
    p = Person(1, jur, birth, dt.date(2025, 1, 1), list(signals), [person_grant(*g) for g in grants])
    at = dt.datetime(2026, 6, 1, 12)
    rows: dict[str, list[tuple[Any, ...]]] = {
        "watch_history": [(1, 1, 5, 30, at)] if table == "watch_history" else [],
        "location_pings": [(1, 1, 52.3, 4.9, 10.0, at)] if table == "location_pings" else [],
    }
    return {f["rule"] for f in truthmod.compute(book, rows, {1: p}, AS_OF)}


def test_truth_semantics_on_single_subjects(book: Any) -> None:
    day = dt.date(2025, 1, 1)
    kid = dt.date(2013, 3, 1)  # 13 on 2026-06-01; NL consent age 16
    adult = dt.date(1990, 1, 1)
    all_scopes = "personalization|location|processing"
    # an unverified "parent" does not count; a verified one does
    unverified = [(all_scopes, "parent", "declared", day, None, None)]
    assert "EU-GDPR.art6-1-a.personalisation" in _one(book, "NL", kid, unverified)
    assert _one(book, "NL", kid, [(all_scopes, "parent", "verified", day, None, None)]) == set()
    # no consent, a lapsed consent
    assert "EU-GDPR.art6-1-a.personalisation" in _one(book, "NL", adult, [])
    assert _one(book, "NL", adult, [(all_scopes, "self", "declared", day, None, None)]) == set()
    assert _one(book, "NL", adult, [(all_scopes, "self", "declared", day, dt.date(2026, 1, 1), None)])
    assert _one(book, "NL", adult, [(all_scopes, "self", "declared", day, None, dt.date(2026, 5, 31))])
    # a child who declared an adult birth date but said "I'm 11": the self consent no longer counts
    grants = [(all_scopes, "self", "declared", day, None, None)]
    assert _one(book, "NL", adult, grants, [(11, dt.date(2025, 3, 1))]) == {"EU-GDPR.art6-1-a.personalisation"}
    # precise location of an EU child without verified parental consent
    assert "EU-EPRIVACY.art5-3.location" in _one(book, "FR", kid, [], table="location_pings")
    # a COPPA child
    assert "US-COPPA.312-5-a-1" in _one(book, "US", dt.date(2015, 1, 1), [("collection", "parent", "declared", day,
                                                                           None, None)])


def _truth(book: Any, jur: str, birth: dt.date, grants: list[tuple[Any, ...]],
           rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, dict[str, Any]]:
    """The truth for one subject, checked against the plain loop."""
    p = Person(1, jur, birth, dt.date(2025, 1, 1), [], [person_grant(*g) for g in grants])
    fast = truthmod.compute(book, rows, {1: p}, AS_OF)
    assert fast == truthmod.compute_plain(book, rows, {1: p}, AS_OF)
    return {f["rule"]: f for f in fast}


def test_truth_retention_and_unverified_parents(book: Any) -> None:
    day = dt.date(2025, 1, 1)
    kid, adult = dt.date(2014, 6, 1), dt.date(1990, 1, 1)  # 12 all through 2026; an adult
    # location_pings are kept 90 days: on 2026-11-01, 2026-08-02 is 91 days old, 2026-08-03 exactly 90
    ats = (dt.datetime(2026, 3, 1, 9), dt.datetime(2026, 8, 2, 9), dt.datetime(2026, 8, 3, 9), dt.datetime(2026, 10, 1))
    pings = {"location_pings": [(i, 1, 52.3, 4.9, 10.0, at) for i, at in enumerate(ats, 1)]}
    location = "EU-EPRIVACY.art5-3.location"
    # lawful pings of a child (a verified parent consented): the two older than 90 days are kept too long
    got = _truth(book, "NL", kid, [("location", "parent", "verified", day, None, None)], pings)
    assert {r: (f["subjects"], f["rows"], f["unverified_parent"]) for r, f in got.items()} == {
        "EU-GDPR.art5-1-e": (1, 2, 0)}
    # the same pings on an unverified parent's consent: denied, counted under the denying rule only
    got = _truth(book, "NL", kid, [("location", "parent", "declared", day, None, None)], pings)
    assert {r: (f["subjects"], f["rows"], f["unverified_parent"]) for r, f in got.items()} == {location: (1, 4, 1)}
    # no parental consent at all: denied, and verifying nothing would not have helped
    assert _truth(book, "NL", kid, [("location", "self", "declared", day, None, None)], pings)[location][
        "unverified_parent"] == 0
    # an unverified parent whose consent would not have sufficed (another scope) is not counted
    assert _truth(book, "NL", kid, [("marketing", "parent", "declared", day, None, None)], pings)[location][
        "unverified_parent"] == 0
    # an adult's lawful pings: storage limitation is modelled for children only
    assert _truth(book, "NL", adult, [("location", "self", "declared", day, None, None)], pings) == {}
    # a COPPA child with verified parental consent to collection
    got = _truth(book, "US", dt.date(2016, 1, 1), [("collection", "parent", "verified", day, None, None)], pings)
    assert {r: f["rows"] for r, f in got.items()} == {"US-COPPA.312-10.retention": 2}


def test_retention_planted_and_lawful_within(book: Any) -> None:
    cmap, _ = records.datamap()
    for lawful in (False, True):
        g = _Gen(N, 4, lawful, None, book)
        g.accounts()
        g.content()
        past: dict[str, set[int]] = {}
        for name, cm in cmap.items():
            if cm.retention is not None and cm.time is not None:
                past[name] = {r[cm.subject] for r in g.t[name] if cm.past_retention(r[cm.time].date(), AS_OF)}
        assert set(past) == {"media", "watch_history", "location_pings", "ad_impressions"}
        if lawful:
            assert not any(past.values()) and not g.never_purged
        else:
            assert past["location_pings"] and past["ad_impressions"]
            assert set().union(*past.values()) <= g.never_purged  # only the cohort the deletion job missed
            assert 0.1 <= len(g.never_purged) / N <= 0.3 and g.stats["never_purged"] == len(g.never_purged)


def test_implied_birth_29_february() -> None:
    assert truthmod.implied_birth(dt.date(2028, 2, 29), 11) == dt.date(2017, 2, 28)
    assert truthmod.implied_birth(dt.date(2026, 6, 1), 11) == dt.date(2015, 6, 1)


# ---------------------------------------------------------------------------- targets
def _counts_sql(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in TABLES}
    finally:
        engine.dispose()


def test_sqlite_replaces_tables_and_keeps_others(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE other (x INTEGER)")
        conn.exec_driver_sql("CREATE TABLE accounts (junk TEXT)")
    engine.dispose()
    s = generate(f"sqlite:///{db}", N, 1, media_files=0)
    assert _counts_sql(f"sqlite:///{db}") == s["tables"]
    assert not (tmp_path / "x.db.tmp").exists()
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM other").scalar() == 0
    engine.dispose()


def test_parquet_target(tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    s = generate(f"parquet://{folder}", N, 2, media_files=5)
    sql = tmp_path / "same.db"
    generate(str(sql), N, 2, media_files=0)
    ref = read_sql(f"sqlite:///{sql}")
    for t in TABLES:
        table = pq.read_table(folder / f"{t.name}.parquet")
        assert table.column_names == [c.name for c in t.columns]
        assert table.num_rows == s["tables"][t.name]
    acc = pq.read_table(folder / "accounts.parquet").to_pylist()
    assert [tuple(r.values()) for r in acc] == ref["accounts"]
    assert str(pq.read_table(folder / "watch_history.parquet").schema.field("watched_at").type) == "timestamp[us]"
    assert (tmp_path / "lake-media" / "media").is_dir()
    assert load_truth(f"parquet://{folder}") == load_truth(str(sql).replace(str(sql), f"sqlite:///{sql}"))


def _server_db(base: str, kind: str) -> Any:
    name = f"tutela_test_estate_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{base}/{'test' if kind == 'pg' else ''}", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:  # make test starts the servers: absence is a failure
        admin.dispose()
        pytest.fail(f"{kind} server not reachable: {exc}")
    return admin, name


@pytest.mark.parametrize("kind", ["pg", "maria"])
def test_server_targets(kind: str, tmp_path: Path) -> None:
    base = PG if kind == "pg" else MARIA
    admin, name = _server_db(base, kind)
    url = f"{base}/{name}"
    try:
        s = generate(url, N, 4, media_dir=tmp_path / "media", media_files=5)
        assert _counts_sql(url) == s["tables"]
        generate(str(tmp_path / "ref.db"), N, 4, media_files=0)
        assert read_sql(url) == read_sql(f"sqlite:///{tmp_path / 'ref.db'}")
        assert load_truth(url) == load_truth(str(tmp_path / "ref.db"))
        again = generate(url, 50, 4, media_dir=tmp_path / "media", media_files=0)  # tables recreated
        assert _counts_sql(url)["accounts"] == 50 == again["tables"]["accounts"]
    finally:
        with admin.connect() as conn:
            if kind == "pg":
                conn.exec_driver_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("url", [f"{PG.replace('5432', '1')}/nothing", f"{MARIA.replace('3306', '1')}/nothing"])
def test_unreachable_server_writes_nothing(url: str, tmp_path: Path, tutela_home: Path) -> None:
    with pytest.raises(InputError, match="cannot connect"):
        generate(url, N, 1, media_dir=tmp_path / "media")
    assert not (tmp_path / "media").exists()
    assert not (tutela_home / "truth").exists()


@pytest.mark.parametrize("url", ["foo://x/y", "oracle://scott@localhost/db", "postgresql+psycopg://u@127.0.0.1:5432",
                                 "sqlite://", "parquet://"])
def test_bad_urls(url: str, tutela_home: Path) -> None:
    with pytest.raises(InputError):
        generate(url, 10, 1)
    assert not (tutela_home / "truth").exists()


def test_missing_folder_and_missing_truth(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        generate(str(tmp_path / "no" / "such.db"), 10, 1)
    with pytest.raises(InputError, match="no ground truth"):
        load_truth(str(tmp_path / "never.db"))
    with pytest.raises(InputError):
        generate(str(tmp_path / "z.db"), 0, 1)
    # a media folder holding anything else is never replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(InputError, match="not a ClipStream media folder"):
        generate(str(tmp_path / "w.db"), 10, 1, media_dir=tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"
    assert not (tmp_path / "w.db").exists()


# ---------------------------------------------------------------------------- CLI
def _app() -> typer.Typer:
    from tutela.cli import estate_generate, estate_truth

    app = typer.Typer()
    estate = typer.Typer()
    app.add_typer(estate, name="estate")
    estate.command("generate")(estate_generate.run)
    estate.command("truth")(estate_truth.run)
    return app


def test_cli_generate_and_truth(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "cli.db"
    out = runner.invoke(_app(), ["estate", "generate", "--accounts", "200", "--seed", "9", "--out", str(db),
                                 "--no-media", "--format", "json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["tables"]["accounts"] == 200 and summary["media_files"] == 0
    out = runner.invoke(_app(), ["estate", "truth", f"sqlite:///{db}", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == load_truth(str(db))
    out = runner.invoke(_app(), ["estate", "generate", "--accounts", "100", "--out", str(tmp_path / "t.db"),
                                 "--media-files", "3"])
    assert out.exit_code == 0, out.output
    assert "ground truth" in out.stdout and "watch_history" in out.stdout
    out = runner.invoke(_app(), ["estate", "truth", str(tmp_path / "t.db")])
    assert out.exit_code == 0 and "EU-" in out.stdout


def test_rows_scales_event_tables(tmp_path: Path) -> None:
    s = generate(str(tmp_path / "r.db"), 100, 1, rows=20_000, media_files=0)
    events = sum(s["tables"][t] for t in ("watch_history", "ad_impressions", "location_pings"))
    assert events == 20_000
    assert load_truth(str(tmp_path / "r.db"))
