"""Several processes append to one ledger at the same time (SQLite and PostgreSQL): the chain
never forks, no entry is lost, and the ledger verifies."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tutela.ledger import Ledger
from tutela.ledger.checkpoint import key_id, new_key_text, private_key

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRITERS, ROUNDS, BATCH = 3, 40, 5


def body(writer: int, i: int) -> dict[str, Any]:
    return {"source": "api", "rulebook_version": "2026.12", "effect": "deny", "subject": f"w{writer}-{i}"}


def writer(url: str, prefix: str, key: str, number: int, start: Any) -> None:
    ledger = Ledger(url, prefix=prefix, checkpoint_every=25, signing_key=private_key(key))
    start.wait()
    n = 0
    for r in range(ROUNDS):
        if r % 2:
            ledger.append("decision", body(number, n))
            n += 1
        else:
            ledger.append_many("decision", [body(number, n + j) for j in range(BATCH)])
            n += BATCH
    ledger.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}", ""
        return
    prefix = f"c{uuid.uuid4().hex[:12]}_"
    yield PG, prefix
    engine = create_engine(PG)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {prefix}ledger_entries, {prefix}ledger_checkpoints"))
    engine.dispose()


def test_concurrent_writers_never_fork_the_chain(where: tuple[str, str]) -> None:
    url, prefix = where
    key = new_key_text()
    Ledger(url, prefix=prefix).close()  # the tables exist before the writers race
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=writer, args=(url, prefix, key, w, start)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    per_writer = ROUNDS // 2 * (BATCH + 1)
    with Ledger(url, prefix=prefix) as ledger:
        entries = list(ledger.entries())
        pub = private_key(key).public_key()
        report = ledger.verify({key_id(pub): pub})
        assert report.ok, report.to_dict()
        assert report.entries == WRITERS * per_writer and report.checkpoints >= 1
        assert report.proven_upto > 0
    assert [e["seq"] for e in entries] == list(range(1, WRITERS * per_writer + 1))
    subjects = Counter(e["body"]["subject"] for e in entries)
    assert len(subjects) == WRITERS * per_writer and set(subjects.values()) == {1}
