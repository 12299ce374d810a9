"""Random tampering with a ledger on SQLite and PostgreSQL: every edit, deletion, reordering,
insertion and truncation that a signed checkpoint (kept in the database or outside it) covers
is found, and the first bad seq is named. What no checkpoint covers is shown to pass: that is
the documented limit (docs/ledger.md), tested exactly."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, insert, text
from sqlalchemy.exc import IntegrityError

from tutela.errors import InputError
from tutela.ledger import Checkpoint, Ledger, canonical_json
from tutela.ledger.chain import GENESIS
from tutela.ledger.checkpoint import key_id, new_key_text, private_key
from tutela.ledger.store import Store
from tutela.ledger.verify import _block_holds, _rows_problem

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KEY = private_key(new_key_text())
TRUSTED = {key_id(KEY.public_key()): KEY.public_key()}
EVERY = 10
Rows = list[tuple[int, bytes, bytes]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        Callable[[], tuple[str, str]]]:
    """A fresh ledger location per call: a new SQLite file, or a new table prefix in PostgreSQL."""
    folder = tmp_path_factory.mktemp("ledgers")
    made: list[str] = []

    def make() -> tuple[str, str]:
        name = f"t{uuid.uuid4().hex[:12]}_"
        made.append(name)
        return (f"sqlite:///{folder / name}.db", "") if request.param == "sqlite" else (PG, name)

    yield make
    if request.param == "postgresql":
        engine = create_engine(PG)
        with engine.begin() as conn:
            for name in made:
                conn.execute(text(f"DROP TABLE IF EXISTS {name}ledger_entries, {name}ledger_checkpoints"))
        engine.dispose()


def body(i: int) -> dict[str, object]:
    return {"job_id": f"job-{i % 3}", "subject": f"ps:{i:032x}", "store": "clipstream", "collection": "videos",
            "rows": i, "receipt": hashlib.sha256(str(i).encode()).hexdigest()}


def build(url: str, prefix: str, sizes: list[int]) -> Ledger:
    ledger = Ledger(url, prefix=prefix, checkpoint_every=EVERY, signing_key=KEY)
    n = 0
    for j, size in enumerate(sizes):
        bodies = [body(n + i) for i in range(size)]
        if size == 1:
            ledger.append("erasure_receipt", bodies[0])
        else:
            ledger.append_many("erasure_receipt", pa.Table.from_pylist(bodies) if j % 2 else bodies)
        n += size
    return ledger


def read(store: Store) -> Rows:
    return store.entry_rows(0, 10**9)


def write(store: Store, rows: Rows) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(store.entries))
        if rows:
            conn.execute(insert(store.entries), [{"seq": s, "entry": e, "hash": h} for s, e, h in rows])


def rechain(rows: Rows, start: int) -> Rows:
    """What an attacker without the key can do: renumber and rehash everything from index `start`."""
    out, prev = rows[:start], rows[start - 1][2] if start else GENESIS
    for i in range(start, len(rows)):
        entry = json.loads(rows[i][1])
        entry["seq"] = i + 1
        raw = canonical_json(entry)
        prev = hashlib.sha256(prev + raw).digest()
        out.append((i + 1, raw, prev))
    return out


def forged(rows: Rows, k: int) -> bytes:
    entry = json.loads(rows[k - 1][1])
    entry["body"]["rows"] += 1000  # a receipt that says more was erased than was
    return canonical_json(entry)


def fast_and_reference(store: Store, size: int) -> tuple[bool, bool]:
    """Does the chain hold by the fast reading (aggregated blocks) and by the reference (row by row)?"""
    upto = store.last_seq()
    prev, expected, fast = GENESIS, 1, True
    for block in store.blocks(0, upto, size):
        fast = fast and _block_holds(block, prev, expected)
        prev, expected = block.hashes[-32:], block.last + 1
    prev, expected, reference = GENESIS, 1, True
    for seqs, entries, hashes in store.chunks(0, upto, size):
        reference = reference and _rows_problem(seqs, entries, hashes, prev, expected) is None
        prev, expected = hashes[-1], seqs[-1] + 1
    return fast, reference


ATTACKS = ["edit_byte", "edit_hash", "delete", "delete_renumber", "swap", "insert_lazy",
           "edit_rechain", "delete_rechain", "insert_rechain", "swap_rechain", "truncate"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_tampering_is_found_and_the_first_bad_seq_named(new_url: Callable[[], tuple[str, str]],
                                                                data: st.DataObject) -> None:
    url, prefix = new_url()
    sizes = data.draw(st.lists(st.integers(1, 9), min_size=3, max_size=7), label="batches")
    ledger = build(url, prefix, sizes)
    try:
        store, rows = ledger.store, read(ledger.store)
        n = len(rows)
        outside = [Checkpoint.sign(KEY, n, rows[-1][2], "2026-12-03T12:00:00.000000Z")] \
            if data.draw(st.booleans(), label="a checkpoint kept outside") else []
        signed = sorted({cp.seq for cp in ledger.checkpoints()} | {cp.seq for cp in outside})
        assert ledger.verify(TRUSTED, outside).ok
        attack = data.draw(st.sampled_from(ATTACKS), label="attack")
        k = data.draw(st.integers(1, n - 1), label="k")
        expected: int | None = k
        if attack == "edit_byte":
            seq, entry, h = rows[k - 1]
            pos = data.draw(st.integers(0, len(entry) - 1))
            rows[k - 1] = (seq, entry[:pos] + bytes([entry[pos] ^ data.draw(st.integers(1, 255))]) + entry[pos + 1:], h)
        elif attack == "edit_hash":
            seq, entry, h = rows[k - 1]
            rows[k - 1] = (seq, entry, bytes([h[0] ^ 1]) + h[1:])
        elif attack == "delete":
            del rows[k - 1]
        elif attack == "delete_renumber":
            rows = rows[:k - 1] + [(s - 1, e, h) for s, e, h in rows[k:]]
        elif attack == "swap":
            j = data.draw(st.integers(k + 1, n), label="j")
            (_, ek, hk), (_, ej, hj) = rows[k - 1], rows[j - 1]
            rows[k - 1], rows[j - 1] = (k, ej, hj), (j, ek, hk)
        elif attack == "insert_lazy":  # a forged entry that links to its predecessor; nothing after it rehashed
            fake = forged(rows, k)
            prev = rows[k - 2][2] if k > 1 else GENESIS
            rows = rows[:k - 1] + [(k, fake, hashlib.sha256(prev + fake).digest())] + \
                [(s + 1, e, h) for s, e, h in rows[k - 1:]]
            expected = k + 1  # the forged entry's own link holds; the one after it breaks
        elif attack == "truncate":
            rows = rows[:k]
            expected = k + 1 if any(s > k for s in signed) else None
        else:
            if attack == "edit_rechain":
                rows[k - 1] = (k, forged(rows, k), rows[k - 1][2])
            elif attack == "delete_rechain":
                del rows[k - 1]
            elif attack == "insert_rechain":
                rows.insert(k - 1, (k, forged(rows, k), b""))
            else:
                rows[k - 1], rows[k] = rows[k], rows[k - 1]
            rows = rechain(rows, k - 1)
            # only a signed head at or after k shows it: one within the ledger names the first entry after the
            # last checkpoint that holds; one past its (new) end names the first missing entry
            last = len(rows)
            expected = (max([s for s in signed if s < k], default=0) + 1 if any(k <= s <= last for s in signed)
                        else last + 1 if any(s > last for s in signed) else None)
        write(store, rows)
        fast, reference = fast_and_reference(store, data.draw(st.integers(1, 16), label="block size"))
        assert fast == reference
        report = ledger.verify(TRUSTED, outside)
        if expected is None:
            assert report.ok, report.to_dict()  # the limit: no signed head covers the change
            assert report.proven_upto < k + (attack == "truncate")
        else:
            assert not report.ok
            assert report.first_bad is not None and report.first_bad.seq == expected, (attack, k, report.to_dict())
    finally:
        ledger.close()


def test_checkpoints_signed_by_an_untrusted_key_or_deleted_are_caught_only_as_documented(
        new_url: Callable[[], tuple[str, str]]) -> None:
    url, prefix = new_url()
    ledger = build(url, prefix, [5, 9, 9, 2])  # 25 entries; signed where a batch crossed 10 and 20
    try:
        store = ledger.store
        kept = ledger.checkpoints()
        assert [cp.seq for cp in kept] == [14, 23]
        outside = ledger.checkpoint()  # signs seq 25; a copy is kept outside
        # an attacker rewrites from entry 3 on and signs the new head with a key of their own
        write(store, rechain([*read(store)[:2], *[(0, forged(read(store), 3), b"")], *read(store)[3:]], 2))
        theirs = private_key(new_key_text())
        with store.engine.begin() as conn:
            conn.execute(delete(store.checkpoints))
        with store.writing() as conn:
            seq, head = store.head(conn)
            assert head is not None
            store.add_checkpoint(conn, Checkpoint.sign(theirs, seq, head, "2026-12-03T12:00:00.000000Z").row())
        report = ledger.verify(TRUSTED)
        assert report.first_bad is not None and report.first_bad.seq == 25 and "not a trusted key" in \
            report.first_bad.what
        untrusting = ledger.verify(None)  # no key pinned: the forged checkpoint passes, and verify says why
        assert untrusting.ok and not untrusting.to_dict()["keys_pinned"] and "proves nothing" in untrusting.notes[0]
        with_outside = ledger.verify(TRUSTED, [outside])
        assert with_outside.first_bad is not None and with_outside.first_bad.seq == 1
    finally:
        ledger.close()


def test_a_second_row_at_a_seq_is_refused_by_the_table(new_url: Callable[[], tuple[str, str]]) -> None:
    url, prefix = new_url()
    ledger = build(url, prefix, [3])
    try:
        seq, entry, h = read(ledger.store)[-1]
        with pytest.raises(IntegrityError), ledger.store.writing() as conn:
            ledger.store.insert(conn, [(seq, entry, h)])
        assert ledger.verify(TRUSTED).ok
    finally:
        ledger.close()


def test_the_read_ahead_gives_the_same_blocks_stops_early_and_forwards_errors(
        new_url: Callable[[], tuple[str, str]]) -> None:
    url, prefix = new_url()
    ledger = build(url, prefix, [7, 9, 9, 5])  # 30 entries
    try:
        store = ledger.store
        assert list(store.blocks_ahead(0, 30, size=4)) == list(store.blocks(0, 30, size=4))
        assert [(b.first, b.last, b.count) for b in store.blocks(0, 30, size=8)] == \
               [(1, 8, 8), (9, 16, 8), (17, 24, 8), (25, 30, 6)]
        ahead = store.blocks_ahead(0, 30, size=2)
        assert next(ahead).last == 2
        ahead.close()  # the reader thread ends; nothing hangs
        with store.engine.begin() as conn:
            conn.execute(delete(store.entries).where(store.entries.c.seq.between(9, 16)))
        assert [(b.first, b.last, b.count) for b in store.blocks_ahead(0, 30, size=8)][1] == (9, 16, 0)
        report = ledger.verify(TRUSTED)
        assert report.first_bad is not None and report.first_bad.seq == 9
        with store.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {store.entries.name}"))
        with pytest.raises(InputError, match="cannot read the ledger"):
            list(store.blocks_ahead(0, 30, size=8))
    finally:
        ledger.close()
