"""`Ledger`: append, append many, checkpoint, read, verify.

    ledger = Ledger("sqlite:///ledger.db")           # or postgresql+psycopg://…; None: TUTELA_LEDGER_URL
    ledger.append("consent_event", {...})            # one entry, one transaction: (seq, hash)
    ledger.append_many("decision", table_or_dicts)   # one transaction for the lot
    ledger.checkpoint()                              # signs the head (TUTELA_LEDGER_KEY)
    ledger.verify().ok
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tutela.errors import InputError
from tutela.ledger.chain import (
    GENESIS,
    chain,
    check_kind,
    encode_table,
    entry_bytes,
    format_time,
    table_bodies,
    validate_body,
)
from tutela.ledger.checkpoint import Checkpoint, key_id, private_key, public_key
from tutela.ledger.config import environment
from tutela.ledger.store import Store
from tutela.ledger.verify import Report, verify

Clock = Callable[[], dt.datetime]
MakeBody = Callable[[dict[str, Any] | None], Mapping[str, Any] | None]  # the last body of a kind -> the next


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def trusted_keys(texts: Sequence[str] = ()) -> dict[str, Ed25519PublicKey] | None:
    """Keys `verify` trusts: those given, else TUTELA_LEDGER_PUBLIC_KEYS, else the public half of
    TUTELA_LEDGER_KEY; None when there are none."""
    env = environment()
    keys = [public_key(t, "--public-key") for t in texts]
    if not keys and env.public_keys:
        keys = [public_key(t) for t in env.public_keys.split(",") if t.strip()]
    if not keys and env.key:
        keys = [private_key(env.key).public_key()]
    return {key_id(k): k for k in keys} or None


class Ledger:
    """One tamper-evident ledger. `checkpoint_every`: sign the head whenever an append crosses a
    multiple of it (needs a signing key). `clock` gives the time written into entries."""

    def __init__(self, url: str | None = None, prefix: str = "", checkpoint_every: int | None = None,
                 signing_key: Ed25519PrivateKey | None = None, clock: Clock = _now, create: bool = True):
        env = environment()
        self.store = Store(url or env.url, prefix, create=create)
        self.clock = clock
        self.signing_key = signing_key or (private_key(env.key) if env.key else None)
        if checkpoint_every is not None and (checkpoint_every < 1 or self.signing_key is None):
            self.store.close()
            raise InputError("periodic checkpoints need a positive interval and a signing key",
                             where="checkpoint_every", hint="set TUTELA_LEDGER_KEY")
        self.checkpoint_every = checkpoint_every

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, kind: str, body: Mapping[str, Any]) -> tuple[int, bytes]:
        """Validate `body` for `kind` and append it in its own transaction: (seq, hash)."""
        clean = validate_body(kind, body)
        with self.store.writing() as conn:
            seq, head = self.store.head(conn)
            entry = entry_bytes(seq + 1, kind, self._time(), clean)
            (h,) = chain(head or GENESIS, [entry])
            self.store.insert(conn, [(seq + 1, entry, h)])
            self._periodic(conn, seq, seq + 1, h)
        return seq + 1, h

    def append_after_last(self, kind: str, make: MakeBody) -> tuple[int, bytes] | None:
        """Under the writers' lock: `make(body of the newest entry of kind, or None)` gives the body to
        append, or None to append nothing (so two writers cannot both append the same change)."""
        with self.store.writing() as conn:
            raw = self.store.last_of_kind(kind, conn)
            body = make(json.loads(raw)["body"] if raw else None)
            if body is None:
                return None
            clean = validate_body(kind, body)
            seq, head = self.store.head(conn)
            entry = entry_bytes(seq + 1, kind, self._time(), clean)
            (h,) = chain(head or GENESIS, [entry])
            self.store.insert(conn, [(seq + 1, entry, h)])
            self._periodic(conn, seq, seq + 1, h)
        return seq + 1, h

    def append_many(self, kind: str, bodies: pa.Table | Sequence[Mapping[str, Any]]) -> tuple[int, bytes | None]:
        """Append every body (a pyarrow table, one column per field, or a list of mappings) in ONE
        transaction, all or none; every body is validated before anything is written.
        Returns (last seq, head hash)."""
        check_kind(kind)
        table = bodies if isinstance(bodies, pa.Table) else None
        rows = None if table is not None else [validate_body(kind, b, f"[{i}]") for i, b in enumerate(bodies)]
        with self.store.writing() as conn:
            seq, head = self.store.head(conn)
            time = self._time()
            entries = encode_table(kind, table, seq + 1, time) if table is not None else None
            if entries is None:
                if rows is None:
                    rows = [validate_body(kind, b, f"[{i}]") for i, b in enumerate(table_bodies(table))]
                entries = [entry_bytes(seq + 1 + i, kind, time, b) for i, b in enumerate(rows)]
            if not entries:
                return seq, head
            hashes = chain(head or GENESIS, entries)
            last = seq + len(entries)
            self.store.insert(conn, list(zip(range(seq + 1, last + 1), entries, hashes, strict=True)))
            self._periodic(conn, seq, last, hashes[-1])
        return last, hashes[-1]

    def _time(self) -> str:
        return format_time(self.clock())

    def _periodic(self, conn: Any, before: int, after: int, head: bytes) -> None:
        every = self.checkpoint_every
        if every and after // every > before // every and self.signing_key is not None:
            cp = Checkpoint.sign(self.signing_key, after, head, self._time())
            self.store.add_checkpoint(conn, cp.row())

    def checkpoint(self) -> Checkpoint:
        """Sign the current head now (under the writers' lock, so it names a real head)."""
        if self.signing_key is None:
            raise InputError("no signing key for checkpoints", where="TUTELA_LEDGER_KEY",
                             hint="set TUTELA_LEDGER_KEY (see docs/ledger.md)")
        with self.store.writing() as conn:
            seq, head = self.store.head(conn)
            if head is None:
                raise InputError("the ledger is empty: nothing to sign", where="--db")
            cp = Checkpoint.sign(self.signing_key, seq, head, self._time())
            self.store.add_checkpoint(conn, cp.row())
        return cp

    def checkpoints(self) -> list[Checkpoint]:
        return [Checkpoint.from_row(r) for r in self.store.read_checkpoints()]

    def entries(self, kind: str | None = None, after: int = 0) -> Iterator[dict[str, Any]]:
        """Entries after seq `after`, in order, as written (with their hash), optionally of one kind."""
        while True:
            rows = self.store.entry_rows(after)
            if not rows:
                return
            for seq, raw, h in rows:
                entry = json.loads(raw)
                if kind is None or entry["kind"] == kind:
                    yield {**entry, "hash": h.hex()}
                after = seq

    def verify(self, trusted: dict[str, Ed25519PublicKey] | None = None,
               external: Sequence[Checkpoint] = ()) -> Report:
        return verify(self.store, trusted if trusted is not None else trusted_keys(), external)

    @staticmethod
    def pseudonym(subject_id: str, key: bytes | None = None) -> str:
        """`ps:` + 32 hex digits of HMAC-SHA-256(key, id): the same id gives the same pseudonym under
        one key; without the key it cannot be turned back or recomputed. Key: TUTELA_LEDGER_PSEUDONYM_KEY."""
        if key is None:
            text = environment().pseudonym_key
            if not text:
                raise InputError("no pseudonym key", where="TUTELA_LEDGER_PSEUDONYM_KEY",
                                 hint="set it to at least 16 random bytes, kept apart from the ledger")
            key = text.encode()
        if len(key) < 16:
            raise InputError("the pseudonym key is shorter than 16 bytes", where="TUTELA_LEDGER_PSEUDONYM_KEY")
        return "ps:" + hmac.new(key, subject_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
