"""The stream guard's subject-state table built from stored consents (the consent desk's
accounts and their grants), so the guard decides on the same grants `tutela decide` reads.

One state row holds one `grant_by` and one `assurance` for all of a subject's grants (the table's
format, docs/guard.md). Where a subject's live grants differ, the row is built conservatively:
the holder whose consent the law asks for (the parent below the age of digital consent, the
subject otherwise) keeps their grants and the other party's are left out, and the lowest
assurance among those kept stands for all of them. Leaving a grant out, or lowering an
assurance, can only make the guard stricter; every grant left out is counted in `dropped`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tutela.guard.stream_state import ASSURANCES
from tutela.policy.model import Grant


@dataclass(frozen=True)
class SubjectGrants:
    """One subject as the consent store knows it: where, how old on the day, the holder the law
    asks consent of (`self` or `parent`), and its grants (history included; dated)."""

    subject: str
    jurisdiction: str
    age: int
    holder: str
    grants: Sequence[Grant]


@dataclass
class StateBuild:
    table: pa.Table
    subjects: int = 0
    granted_scopes: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # why -> grants left out

    def to_dict(self) -> dict[str, object]:
        return {"subjects": self.subjects, "granted_scopes": self.granted_scopes, "dropped": dict(self.dropped)}


SCHEMA = pa.schema([("subject_id", pa.string()), ("jurisdiction", pa.string()), ("age", pa.int64()),
                    ("grants", pa.int64()), ("grant_by", pa.string()), ("assurance", pa.string()),
                    ("separate", pa.int64())])


def state_from_grants(subjects: Iterable[SubjectGrants], bits: Sequence[str], day: dt.date) -> StateBuild:
    """The state table of `subjects` on `day` over the guard's `bits` (stream_guard.yaml grant_bits)."""
    index = {scope: i for i, scope in enumerate(bits)}
    rows: dict[str, list[object]] = {name: [] for name in SCHEMA.names}
    build = StateBuild(pa.table({}), dropped={})

    def drop(why: str, n: int = 1) -> None:
        build.dropped[why] = build.dropped.get(why, 0) + n

    for s in subjects:
        live = [g for g in s.grants if g.valid_on(day)]
        kept = [g for g in live if g.by == s.holder]
        if len(kept) < len(live):
            drop(f"given by {'the subject' if s.holder == 'parent' else 'a parent'}, not by the holder",
                 len(live) - len(kept))
        mask = separate = 0
        for g in kept:
            known = [index[sc] for sc in g.scopes if sc in index]
            if len(known) < len(g.scopes):
                drop("a scope the stream guard does not carry", len(g.scopes) - len(known))
            for i in known:
                mask |= 1 << i
                if len(g.scopes) == 1:  # given for this scope alone
                    separate |= 1 << i
        level = min((ASSURANCES.index(g.assurance) for g in kept), default=0)
        rows["subject_id"].append(s.subject)
        rows["jurisdiction"].append(s.jurisdiction)
        rows["age"].append(s.age)
        rows["grants"].append(mask)
        rows["grant_by"].append(s.holder if mask else None)
        rows["assurance"].append(ASSURANCES[level])
        rows["separate"].append(separate)
        build.subjects += 1
        build.granted_scopes += bin(mask).count("1")
    build.table = pa.table(rows, schema=SCHEMA)
    return build


def write_state(table: pa.Table, path: Path) -> None:
    """Write the state table to `path` (.parquet, or .arrow for Arrow IPC) whole or not at all: a
    temporary file beside it, flushed, then renamed over it, so a guard re-reading the file
    (StateSource) never sees half of it."""
    import os

    import pyarrow.parquet as pq

    from tutela.errors import InputError

    if path.suffix not in (".parquet", ".arrow"):
        raise InputError(f"the state file must end in .parquet or .arrow, not `{path.suffix or path.name}`",
                         where=str(path))
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if path.suffix == ".parquet":
            pq.write_table(table, tmp)
        else:
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write the state file: {exc.strerror}", where=str(path)) from None
