"""Verify a ledger: every link of the chain, every checkpoint, and name the first bad entry.

What each check catches (the first failing one in seq order is reported):

- a gap in the numbers: an entry deleted (`entry n is missing`);
- `hash_n != SHA-256(hash_{n-1} || entry_n)`: an entry edited, its hash edited, or an entry
  before it deleted or moved (the link to its predecessor breaks);
- an entry whose own `seq` is not its row's: rows renumbered after a deletion or insertion;
- a checkpoint whose signature fails, or that a key not trusted signed;
- a checkpoint whose head is not the chain's hash at its seq: entries in the range it covers
  were changed and all hashes after them recomputed (which needs no key). The chain alone
  cannot tell which entry of that range is forged, so the first entry after the last
  checkpoint that held is named: no entry before it is in doubt;
- a checkpoint past the ledger's end: the tail was truncated.

Truncating the tail after the last checkpoint, or deleting the checkpoints too, cannot be seen
from the database alone: keep a checkpoint outside it (`tutela ledger checkpoint --out`) and
give it to `verify` (`--checkpoint`).

Each link is checked against the stored hash of the entry before it, so links are independent
of one another. The fast reading asks the database for blocks of 8,192 numbers as two values
(the entries joined by newlines, the hashes joined) and computes one SHA-256 per entry; a second
thread reads the next block meanwhile. A block that does not hold is read again row by row (the
reference reading), which names the first bad entry. (An entry's own `seq` is checked on that
path only: with the chain intact from h_0 and the numbers contiguous, every row holds the entry
first written at its number, so it cannot differ there.)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tutela.ledger.chain import GENESIS
from tutela.ledger.checkpoint import Checkpoint
from tutela.ledger.store import Block, Store

_sha256 = hashlib.sha256


def _link(prev: bytes, entry: bytes) -> bytes:
    return _sha256(prev + entry).digest()


@dataclass(frozen=True)
class Problem:
    seq: int
    what: str


@dataclass
class Report:
    entries: int = 0
    head_seq: int = 0
    head: bytes | None = None
    checkpoints: int = 0
    proven_upto: int = 0  # the highest seq a trusted checkpoint vouches for
    pinned: bool = False
    first_bad: Problem | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.first_bad is None

    def to_dict(self) -> dict[str, Any]:
        bad = None if self.first_bad is None else {"seq": self.first_bad.seq, "problem": self.first_bad.what}
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "head": self.head.hex() if self.head else None, "checkpoints": self.checkpoints,
                "proven_upto": self.proven_upto, "keys_pinned": self.pinned, "first_bad": bad,
                "notes": self.notes, "seconds": round(self.seconds, 3)}


def _first_gap(seqs: list[int], expected: int) -> Problem | None:
    if seqs[0] == expected and seqs[-1] - seqs[0] + 1 == len(seqs):
        return None
    for i, s in enumerate(seqs):
        if s != expected + i:
            return Problem(expected + i, f"entry {expected + i} is missing (the next entry is {s})")
    return None


def _first_own_seq_wrong(seqs: list[int], entries: list[bytes]) -> Problem | None:
    # the entry ends `,"seq":N,"time":"<27 characters>"}`; its hash held, so it is well formed as written
    for s, e in zip(seqs, entries, strict=True):
        if not e.endswith(b',"seq":%d,"time":"' % s, 0, len(e) - 29):
            return Problem(s, f"row {s} holds an entry numbered otherwise (rows were renumbered)")
    return None


def _rows_problem(seqs: list[int], entries: list[bytes], hashes: list[bytes], prev: bytes,
                  expected: int) -> Problem | None:
    """The reference reading of a run of rows: numbers, links, each entry's own number."""
    gap = _first_gap(seqs, expected)
    if gap is not None:
        return gap
    computed = list(map(_link, [prev, *hashes[:-1]], entries))
    if computed != hashes:
        i = next(i for i, (a, b) in enumerate(zip(computed, hashes, strict=True)) if a != b)
        return Problem(seqs[i], "its hash does not match its content and the hash before it (the entry "
                                "or its hash was changed, or an entry before it removed or moved)")
    return _first_own_seq_wrong(seqs, entries)


def _block_holds(block: Block, prev: bytes, expected: int) -> bool:
    """The fast reading: the entries split at their newlines, one SHA-256 each, one comparison."""
    n = block.count
    if not n or block.first != expected or block.last - block.first + 1 != n or len(block.hashes) != 32 * n:
        return False
    entries = block.entries.split(b"\n")
    if len(entries) != n:  # an entry holds a newline: none written by the ledger does
        return False
    hashes = block.hashes
    prevs = [prev, *[hashes[j:j + 32] for j in range(0, 32 * n - 32, 32)]]
    return b"".join(map(_link, prevs, entries)) == hashes


def _chain(store: Store, upto: int, good: dict[int, list[Checkpoint]], report: Report) -> Problem | None:
    prev, expected, proven = GENESIS, 1, 0
    for block in store.blocks_ahead(0, upto):
        hashes, first, last = block.hashes, block.first, block.last
        if not _block_holds(block, prev, expected):  # something is off: the reference reading names it
            seen = False
            for seqs, entries, row_hashes in store.chunks(expected - 1, last, size=max(block.count, 1) + 1):
                problem = _rows_problem(seqs, entries, row_hashes, prev, expected)
                if problem is not None:
                    return problem
                seen, hashes, first = True, b"".join(row_hashes), seqs[0]
            if not seen:  # no rows in this range: the next range's numbers show the gap
                continue
        for s in sorted(good.keys() & range(first, last + 1)):
            h = hashes[32 * (s - first):32 * (s - first) + 32]
            for cp in good[s]:
                if cp.head != h:
                    return Problem(proven + 1, f"entries {proven + 1}..{s} do not lead to the head signed by the "
                                               f"checkpoint at seq {s} (one of them was changed, inserted or "
                                               "removed and the hashes after it recomputed)")
            proven = s
        report.entries += len(hashes) // 32
        report.head, report.head_seq = hashes[-32:], last
        report.proven_upto = proven
        prev, expected = hashes[-32:], last + 1
    if expected <= upto:
        return Problem(expected, f"entry {expected} is missing (the ledger's last entry is {upto})")
    return None


def verify(store: Store, trusted: dict[str, Ed25519PublicKey] | None = None,
           external: Iterable[Checkpoint] = ()) -> Report:
    """Check `store`'s chain and checkpoints (and checkpoints kept elsewhere, `external`).
    `trusted`: key id → public key; None trusts the keys the checkpoints carry (and says so)."""
    started = time.perf_counter()
    report = Report(pinned=trusted is not None)
    kept = [Checkpoint.from_row(r) for r in store.read_checkpoints()]
    outside = list(external)
    upto = store.last_seq()  # after the checkpoints: every checkpoint read is at or below it unless truncated
    report.checkpoints = len(kept) + len(outside)
    problems: list[Problem] = []
    good: dict[int, list[Checkpoint]] = {}
    beyond: list[tuple[str, Checkpoint]] = []
    for cp in kept + outside:
        origin = "the checkpoint kept outside" if cp in outside else "the checkpoint"
        why = cp.problem(trusted)
        if why is not None:
            problems.append(Problem(cp.seq, f"{origin} at seq {cp.seq} is not valid: {why}"))
        elif cp.seq > upto:
            beyond.append((origin, cp))
        else:
            good.setdefault(cp.seq, []).append(cp)
    chain_problem = _chain(store, upto, good, report)
    if chain_problem is not None:
        problems.append(chain_problem)
    elif beyond:
        origin, cp = max(beyond, key=lambda b: b[1].seq)
        doubt = (f"; entries {report.proven_upto + 1}..{upto} are not vouched for either"
                 if report.proven_upto < upto else "")
        problems.append(Problem(upto + 1, f"the ledger ends at seq {upto}, but {origin} at seq {cp.seq} signed "
                                          f"more: entries {upto + 1}..{cp.seq} were removed{doubt}"))
    report.first_bad = min(problems, key=lambda p: p.seq) if problems else None
    if not report.pinned:
        report.notes.append("no trusted public key given: checkpoints were checked against the keys they carry, "
                            "which proves nothing against someone who can write the database")
    if report.ok and report.proven_upto < report.head_seq:
        report.notes.append(f"entries {report.proven_upto + 1}..{report.head_seq} follow the last checkpoint: "
                            "a truncation of them would not show")
    report.seconds = time.perf_counter() - started
    return report
