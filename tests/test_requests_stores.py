"""A rights request records where its estate's stores are, and never looks complete when it is not.

Issue 8, part 4: the request records the media folder and Redis (a Redis password never), so
a run needs neither again; a declared store that cannot be searched stops the run unless
`allow_partial`, and then every output (result, export, receipt) names it; a store searched
that held nothing says `searched, 0 found`. On SQLite and PostgreSQL, with real media files
and a real Redis. The CLI, the API and the page in a real browser: test_requests_partial.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from estate_fixture import server_database
from test_requests_estate import REDIS, Estate, approved, file_state, make_estate, read_all, split
from tutela.connectors import ConnectorUnavailable
from tutela.connectors.estate import EstateConfig
from tutela.connectors.locations import media_folder
from tutela.connectors.places import StoresMissing, locate, secret_env
from tutela.datamap import load_datamap
from tutela.engine import Engine
from tutela.rights.deadlines import load_deadlines
from tutela.rights.export import render_html
from tutela.rights.lifecycle import RequestStore, rights_requests
from tutela.store.state import StateStore


@pytest.fixture(params=["sqlite", "postgresql"])
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Estate]:
    with make_estate(request.param, tmp_path) as e:
        yield e


def drop_keys(prefix: str, subject: int) -> None:
    client = redis.Redis.from_url(REDIS)
    try:
        client.delete(*(f"{prefix}clipstream:{k}:{subject}" for k in ("session", "recent", "segment")))
    finally:
        client.close()


def by_store(stores: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {s["store"]: s for s in stores}


def test_a_request_records_its_stores_so_the_run_needs_no_media_or_redis(estate: Estate, engine: Engine) -> None:
    drop_keys(estate.prefix, 4)  # subject 4's cache is empty: Redis is searched and holds nothing for them
    made = estate.desk(engine)  # the create call knows the media folder and Redis
    try:
        rid = approved(made, {"kind": "access", "subject": "4"})
        recorded = made.show(rid)["stores"]
    finally:
        made.close()
    assert recorded["files"] == {"kind": "files", "location": estate.media.resolve().as_uri(), "prefix": "",
                                 "source": "given"}
    assert recorded["redis"] == {"kind": "redis", "location": REDIS, "prefix": estate.prefix, "source": "given"}
    desk = engine.requests(EstateConfig(estate.url), state=estate.state)  # the run is given neither
    try:
        done = desk.run(rid)
        export, _digest = desk.export(rid)
    finally:
        desk.close()
    result = done["result"]
    assert done["status"] == "done" and result["complete"] is True and done["partial"] is False
    stores = by_store(result["stores"])
    assert stores["files"]["searched"] is True and stores["files"]["found"] == 2  # media/4/0.jpg, media/4/1.mp4
    assert stores["files"]["source"] == "recorded"
    assert stores["redis"] == {"store": "redis", "kind": "redis", "location": REDIS, "source": "recorded",
                               "searched": True, "found": 0, "cause": None, "reason": None}
    assert sorted(f["path"] for f in export["files"]) == ["media/4/0.jpg", "media/4/1.mp4"]
    assert export["complete"] is True and by_store(export["stores"])["redis"]["found"] == 0
    page = render_html(export, {})
    assert 'id="incomplete"' not in page and "searched, 0 found" in page and "searched, 2 found" in page


def test_a_missing_store_stops_the_run_and_nothing_is_erased(estate: Estate, engine: Engine) -> None:
    before, files = read_all(estate.url), file_state(estate.media)
    desk = engine.requests(EstateConfig(estate.url, media=estate.media), state=estate.state)  # no Redis anywhere
    try:
        rid = approved(desk, {"kind": "erasure", "subject": 1, "scope": "account"})
        assert desk.show(rid)["stores"]["redis"]["location"] is None
        with pytest.raises(StoresMissing) as err:
            desk.run(rid)
        shown = desk.show(rid)
    finally:
        desk.close()
    assert err.value.names == ["redis"] and "`redis` (redis): no Redis server given" in err.value.message
    assert "--redis" in (err.value.hint or "") and "--allow-partial" in (err.value.hint or "")
    assert shown["status"] == "failed" and "redis" in shown["error"] and shown["result"] is None
    assert read_all(estate.url) == before and file_state(estate.media) == files  # nothing written anywhere
    assert estate.state.receipts(job_id=rid) == []


def test_a_partial_erasure_says_so_in_its_result_and_its_receipt(estate: Estate, engine: Engine) -> None:
    mine, others = split(read_all(estate.url), 1)
    desk = engine.requests(EstateConfig(estate.url, media=estate.media), state=estate.state)
    try:
        rid = approved(desk, {"kind": "erasure", "subject": 1, "scope": "account"})
        done = desk.run(rid, allow_partial=True)
    finally:
        desk.close()
    assert split(read_all(estate.url), 1)[1] == others and mine["accounts"] == [[1]]
    result = done["result"]
    assert done["status"] == "done" and done["partial"] is True and result["complete"] is False
    stores = by_store(result["stores"])
    assert stores["redis"]["searched"] is False and stores["redis"]["found"] is None
    assert stores["redis"]["cause"] == "no_location" and "no Redis server given" in str(stores["redis"]["reason"])
    assert stores["files"]["searched"] is True and stores["files"]["found"] == 3  # two media files, one avatar
    assert stores["estate"]["searched"] is True
    receipt = json.loads(estate.state.receipts(job_id=rid)[0]["body"])
    assert receipt["complete"] is False
    assert {s["store"]: s["searched"] for s in receipt["stores"]} == {"estate": True, "files": True, "redis": False}
    assert redis.Redis.from_url(REDIS).exists(f"{estate.prefix}clipstream:session:1") == 1  # not searched, kept


def test_a_store_that_does_not_answer_is_named_and_partial_runs_name_it_too(estate: Estate, engine: Engine) -> None:
    desk = engine.requests(EstateConfig(estate.url, media=estate.media, redis="redis://127.0.0.1:1/0"),
                           state=estate.state)
    try:
        rid = approved(desk, {"kind": "access", "subject": "2"})
        with pytest.raises(ConnectorUnavailable) as err:
            desk.run(rid)
        assert "`redis`" in err.value.message and "--allow-partial" in (err.value.hint or "")
        done = desk.run(rid, allow_partial=True)
        export, _ = desk.export(rid)
    finally:
        desk.close()
    redis_ = by_store(done["result"]["stores"])["redis"]
    assert redis_["searched"] is False and redis_["cause"] == "unreachable"
    assert redis_["location"] == "redis://127.0.0.1:1/0"
    public = by_store(export["stores"])["redis"]
    assert public == {"store": "redis", "kind": "redis", "searched": False, "found": None,
                      "reason": "it did not answer when the request ran"}  # no host in what the requester gets
    assert export["complete"] is False and "127.0.0.1:1" not in json.dumps(export)
    page = render_html(export, {})
    assert 'id="incomplete"' in page and 'data-store="redis"' in page and "not searched" in page


def test_a_redis_password_is_never_recorded_and_comes_from_the_environment(
        tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with make_estate("sqlite", tmp_path) as estate:
        secret_url = "redis://:s3cret-pw@127.0.0.1:6379/0"
        desk = engine.requests(EstateConfig(estate.url, media=estate.media, redis=secret_url), state=estate.state)
        try:
            rid = approved(desk, {"kind": "access", "subject": "1"})
            view = desk.show(rid)
        finally:
            desk.close()
        assert view["stores"]["redis"]["location"] == "redis://:***@127.0.0.1:6379/0"
        with sa.create_engine(estate.state.url).connect() as c:
            stored = c.execute(sa.select(rights_requests.c.stores)).scalar_one()
        assert "s3cret-pw" not in stored and "s3cret-pw" not in (tmp_path / "state.db").read_bytes().decode("latin-1")
        dm = load_datamap()
        bare = EstateConfig(estate.url)
        monkeypatch.delenv(secret_env("redis"), raising=False)
        place = next(p for p in locate(dm, bare, view["stores"]) if p.store == "redis")
        assert place.url is None and "TUTELA_STORE_PASSWORD_REDIS is not set" in str(place.problem)
        monkeypatch.setenv("TUTELA_STORE_PASSWORD_REDIS", "p@ss/word")
        place = next(p for p in locate(dm, bare, view["stores"]) if p.store == "redis")
        assert place.url == "redis://:p%40ss%2Fword@127.0.0.1:6379/0" and place.location == view["stores"]["redis"][
            "location"]
        monkeypatch.delenv("TUTELA_STORE_PASSWORD_REDIS")
        desk = engine.requests(bare, state=estate.state)
        try:
            with pytest.raises(StoresMissing) as err:
                desk.run(rid)
        finally:
            desk.close()
        assert "TUTELA_STORE_PASSWORD_REDIS" in err.value.message and "s3cret" not in str(err.value)


def test_one_rule_for_the_media_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tutela.clipstream import generate

    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    assert media_folder(f"sqlite:///{tmp_path}/shop.db") == tmp_path / "shop-media"
    assert media_folder(f"parquet://{tmp_path}/lake") == tmp_path / "lake-media"
    assert media_folder("postgresql+psycopg://u:pw@db.example:5433/shop") == (
        tmp_path / "home" / "media" / "postgresql-db.example-5433-shop")
    url = f"sqlite:///{tmp_path}/gen.db"
    s = generate(url, 30, 1, media_files=3)  # the generator writes where the desk and remediation look
    assert Path(s["media_dir"]) == media_folder(url) and any(media_folder(url).rglob("*.jpg"))
    with server_database("postgresql") as pg:
        s = generate(pg, 30, 1, media_files=2)
        assert Path(s["media_dir"]) == media_folder(pg) and media_folder(pg).is_relative_to(tmp_path / "home")
        desk = Engine().requests(EstateConfig(pg), state=StateStore(f"sqlite:///{tmp_path / 'st.db'}"))
        try:
            rid = approved(desk, {"kind": "access", "subject": "1"})
            assert desk.show(rid)["stores"]["files"] == {"kind": "files", "location": media_folder(pg).as_uri(),
                                                         "prefix": "", "source": "default"}
        finally:
            desk.close()


OLD_COLUMNS = [c for c in rights_requests.columns if c.name != "stores"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_state_store_from_before_gets_the_column_and_its_requests_still_run(
        kind: str, tmp_path: Path, engine: Engine) -> None:
    with make_estate("sqlite", tmp_path) as estate, (
            server_database("postgresql") if kind == "postgresql"
            else nullcontext(f"sqlite:///{tmp_path / 'old-state.db'}")) as state_url:
        old = sa.MetaData()
        sa.Table("rights_requests", old, *(sa.Column(c.name, c.type, primary_key=c.primary_key,
                                                     nullable=c.nullable) for c in OLD_COLUMNS))
        db = sa.create_engine(state_url)
        old.create_all(db)  # the table as an earlier Tutela made it
        db.dispose()
        state = StateStore(state_url)
        try:
            store = RequestStore(state, load_deadlines())
            assert "stores" in {c["name"] for c in sa.inspect(state.engine).get_columns("rights_requests")}
            desk = engine.requests(estate.config(), state=state)
            try:
                rid = approved(desk, {"kind": "access", "subject": "1"})
                with state.tx() as c:  # a request recorded before stores were: no locations
                    c.execute(rights_requests.update().values(stores=None))
                assert store.get(rid)["stores"] is None
                done = desk.run(rid)  # falls back to the run's own configuration
            finally:
                desk.close()
            assert done["result"]["complete"] is True
            RequestStore(state, store.deadlines)  # a second open finds the column there: no change
        finally:
            state.close()


def test_an_export_from_before_says_it_may_be_incomplete() -> None:
    page = render_html({"subject": "1", "dataset": "d", "request": {"id": "r", "received": "2026-01-01"},
                        "generated_at": "x", "collections": [], "rows": 0, "files": [], "unreachable": []}, {})
    assert 'id="incomplete"' in page and "may be incomplete" in page


def _datamap_with(tmp: Path, files: str | None, redis_url: str | None) -> Path:
    """ClipStream's data map, copied, with `location`s on its declared stores."""
    from importlib import resources

    import yaml

    base = resources.files("tutela.data.datamaps")
    (tmp / "maps").mkdir(exist_ok=True)
    (tmp / "maps" / "clipstream.yml").write_text(base.joinpath("clipstream.yml").read_text("utf-8"), "utf-8")
    decl = yaml.safe_load(base.joinpath("clipstream.tutela.yml").read_text("utf-8"))
    decl["tutela"]["stores"]["files"]["location"] = files
    decl["tutela"]["stores"]["redis"]["location"] = redis_url
    (tmp / "maps" / "clipstream.tutela.yml").write_text(yaml.safe_dump(decl), "utf-8")
    return tmp / "maps" / "clipstream.yml"


def test_a_store_located_in_the_data_map_needs_nothing_else(tmp_path: Path, engine: Engine) -> None:
    with make_estate("sqlite", tmp_path) as estate:
        dm = _datamap_with(tmp_path, "../media-root", REDIS)  # relative to the data map's folder
        desk = engine.requests(EstateConfig(estate.url, datamap=dm, redis_prefix=estate.prefix), state=estate.state)
        try:
            rid = approved(desk, {"kind": "access", "subject": "1"})
            assert desk.show(rid)["stores"]["files"] == {"kind": "files", "location": estate.media.resolve().as_uri(),
                                                         "prefix": "", "source": "data map"}
            done = desk.run(rid)
        finally:
            desk.close()
        stores = by_store(done["result"]["stores"])
        assert done["result"]["complete"] is True and stores["files"]["found"] == 3 and stores["redis"]["found"] == 3


def test_a_password_in_the_data_map_is_refused(tmp_path: Path) -> None:
    from tutela.errors import InputError

    dm = _datamap_with(tmp_path, None, "redis://:hunter2@127.0.0.1:6379/0")
    with pytest.raises(InputError) as err:
        load_datamap(dm)
    assert "a password in a data map" in err.value.message and "TUTELA_STORE_PASSWORD_" in err.value.message
    assert "hunter2" not in str(err.value) and "location" in str(err.value.where)
    assert load_datamap(_datamap_with(tmp_path, None, "redis://:***@127.0.0.1:6379/0")).tutela is not None


def test_a_media_folder_that_is_not_there_is_a_missing_store_not_an_outage(tmp_path: Path, engine: Engine) -> None:
    with make_estate("sqlite", tmp_path) as estate:
        desk = engine.requests(EstateConfig(estate.url, media=tmp_path / "nowhere", redis=REDIS,
                                            redis_prefix=estate.prefix), state=estate.state)
        try:
            rid = approved(desk, {"kind": "access", "subject": "1"})
            with pytest.raises(StoresMissing) as err:  # 422 / exit 3, not 503: running again will not help
                desk.run(rid)
            done = desk.run(rid, allow_partial=True)
        finally:
            desk.close()
        assert err.value.names == ["files"] and "cannot be opened: media folder not found" in err.value.message
        files = by_store(done["result"]["stores"])["files"]
        assert files["searched"] is False and files["cause"] == "bad_location"
