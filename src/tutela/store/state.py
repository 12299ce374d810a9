"""Tutela's own state: remediation jobs, checkpoints, receipts, settled transfers, rights requests.

One SQLite file by default (`$TUTELA_HOME/state.db`, or the SQLAlchemy URL in `TUTELA_STATE`),
apart from every estate. Each write is one short transaction, so a job killed at any point
leaves the store consistent: a checkpoint is either there or not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, OperationalError

from tutela import settings
from tutela.errors import InputError, StoreUnavailable
from tutela.settings import home
from tutela.store.migrate import migrate

meta = sa.MetaData()

jobs = sa.Table(
    "jobs", meta,
    sa.Column("job_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # remediation | erasure | access
    sa.Column("estate_key", sa.String(64), nullable=False, index=True),
    sa.Column("estate", sa.String(512), nullable=False),  # URL without password
    sa.Column("status", sa.String(16), nullable=False),  # pending_approval|approved|planning|running|paused|done|...
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),  # JSON: rules, as_of, data map, plan summary
    sa.Column("note", sa.Text),  # why it paused or failed (no personal data)
)

checkpoints = sa.Table(
    "checkpoints", meta,
    sa.Column("job_id", sa.String(40), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("batch", sa.Integer, primary_key=True),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("done_at", sa.DateTime, nullable=False),
)

failures = sa.Table(  # items a job could not change or verify; `open` until a later attempt changes them
    "job_failures", meta,
    sa.Column("job_id", sa.String(40), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("batch", sa.Integer, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("item_digest", sa.String(64), primary_key=True),  # sha256 of `item` (keys of any length)
    sa.Column("item", sa.Text, nullable=False),  # JSON list of the key's values; "*" = the whole batch
    sa.Column("reason", sa.Text, nullable=False),  # no personal data: a status word and a cause
    sa.Column("open", sa.Boolean, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

receipts = sa.Table(
    "receipts", meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("estate_key", sa.String(64), nullable=False, index=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # canonical JSON
    sa.Column("digest", sa.String(64), nullable=False),  # sha256(prev + body)
    sa.Column("prev", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),  # a retry's receipt follows the first
    sa.UniqueConstraint("job_id", "subject", "attempt", name="one_receipt_per_subject_attempt"),
)

settled = sa.Table(  # past transfers whose route is blocked and whose recipient was asked to erase
    "settled_transfers", meta,
    sa.Column("estate_key", sa.String(64), primary_key=True),
    sa.Column("transfer", sa.String(64), primary_key=True),  # the transfer record's key, as text
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(96), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

blocked_routes = sa.Table(
    "blocked_routes", meta,
    sa.Column("estate_key", sa.String(64), primary_key=True),
    sa.Column("recipient", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),  # the collection whose data went
    sa.Column("rule", sa.String(96), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

erasure_requests = sa.Table(  # to recipients abroad, one per (recipient, job), listing subjects
    "erasure_requests", meta,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("estate_key", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("subjects", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

GENESIS = "0" * 64


def canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def chain(prev: str, body: str) -> str:
    return hashlib.sha256((prev + body).encode()).hexdigest()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class StateStore:
    def __init__(self, url: str | None = None):
        if url is None:
            url = settings.state_url() or ""
        if not url:
            path = home() / "state.db"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"cannot create Tutela's state folder: {exc.strerror}", where=str(path.parent),
                                 hint="set TUTELA_HOME to a writable folder") from None
            url = f"sqlite:///{path}"
        self.url = url
        try:
            self.engine = sa.create_engine(url)
            migrate(self.engine)  # Alembic: tutela/store/migrations
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot open Tutela's state store: {exc.__class__.__name__}",
                                   where="TUTELA_STATE / TUTELA_HOME") from None
        except (DatabaseError, ArgumentError) as exc:
            raise InputError(f"cannot open Tutela's state store: {exc.__class__.__name__}",
                             where="TUTELA_STATE / TUTELA_HOME") from None

    @classmethod
    def existing(cls) -> StateStore | None:
        """The state store if there is one, else None: for readers (an audit), which must not
        create Tutela's home folder or a state file just to find it empty."""
        if not settings.state_url() and not (home() / "state.db").is_file():
            return None
        return cls()

    @contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- jobs
    def create_job(self, job_id: str, kind: str, estate: str, key: str, spec: Mapping[str, Any],
                   status: str = "planning") -> None:
        t = now()
        with self.tx() as c:
            c.execute(jobs.insert().values(job_id=job_id, kind=kind, estate_key=key, estate=estate,
                                           status=status, created_at=t, updated_at=t, spec=canonical(spec)))

    def move_job(self, job_id: str, before: str, after: str, spec: Mapping[str, Any]) -> bool:
        """Set a job from status `before` to `after` with `spec`, only if it is still `before`."""
        with self.tx() as c:
            q = jobs.update().where(jobs.c.job_id == job_id, jobs.c.status == before)
            return bool(c.execute(q.values(status=after, updated_at=now(), spec=canonical(spec))).rowcount == 1)

    def job(self, job_id: str) -> dict[str, Any]:
        with self.engine.connect() as c:
            row = c.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).mappings().first()
        if row is None:
            raise InputError(f"no job `{job_id}` in the state store", where="--resume",
                             hint="`tutela remediate --list` shows the jobs")
        out = dict(row)
        out["spec"] = json.loads(out["spec"])
        return out

    def jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)).mappings().all()
        return [dict(r) | {"spec": json.loads(r["spec"])} for r in rows]

    def set_status(self, job_id: str, status: str, note: str | None = None,
                   spec: Mapping[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now(), "note": note}
        if spec is not None:
            values["spec"] = canonical(spec)
        with self.tx() as c:
            c.execute(jobs.update().where(jobs.c.job_id == job_id).values(**values))

    # -- checkpoints
    def done_batches(self, job_id: str) -> dict[tuple[int, int], int]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(checkpoints.c.step, checkpoints.c.batch, checkpoints.c.rows)
                             .where(checkpoints.c.job_id == job_id)).all()
        return {(s, b): n for s, b, n in rows}

    def checkpoint(self, job_id: str, step: int, batch: int, rows: int,
                   failed: Sequence[tuple[str, str]] = (), attempt: int = 1) -> None:
        """Record a batch as done (rows changed) with the items that failed, in one transaction.

        A batch retried by a later attempt closes its earlier failures, adds its rows and
        records what still fails."""
        t = now()
        try:
            with self.tx() as c:
                had = c.execute(sa.select(checkpoints.c.rows).where(
                    (checkpoints.c.job_id == job_id) & (checkpoints.c.step == step)
                    & (checkpoints.c.batch == batch))).scalar()
                if had is None:
                    c.execute(checkpoints.insert().values(job_id=job_id, step=step, batch=batch, rows=rows,
                                                          done_at=t))
                elif attempt > 1:
                    c.execute(checkpoints.update().where(
                        (checkpoints.c.job_id == job_id) & (checkpoints.c.step == step)
                        & (checkpoints.c.batch == batch)).values(rows=had + rows, done_at=t))
                else:
                    return  # recorded already by an earlier run of the same batch: nothing more to record
                c.execute(failures.update().where(
                    (failures.c.job_id == job_id) & (failures.c.step == step) & (failures.c.batch == batch)
                    & failures.c.open).values(open=False))
                if failed:
                    c.execute(failures.insert(), [
                        {"job_id": job_id, "step": step, "batch": batch, "attempt": attempt, "item": item,
                         "item_digest": hashlib.sha256(item.encode()).hexdigest(), "reason": reason, "open": True,
                         "at": t} for item, reason in dict(failed).items()])
        except IntegrityError:
            return  # a concurrent run recorded the same batch first

    def failures(self, job_id: str, open_only: bool = True) -> list[dict[str, Any]]:
        q = sa.select(failures).where(failures.c.job_id == job_id)
        if open_only:
            q = q.where(failures.c.open)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q.order_by(failures.c.step, failures.c.batch, failures.c.item))
                    .mappings()]

    # -- receipts (a hash chain per store: each digest covers the previous one)
    def add_receipts(self, job_id: str, key: str, bodies: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
        """Append one receipt per subject and attempt not yet receipted for this job; how many were added."""
        with self.tx() as c:
            have = {(r, a) for r, a in c.execute(
                sa.select(receipts.c.subject, receipts.c.attempt).where(receipts.c.job_id == job_id))}
            prev = c.execute(sa.select(receipts.c.digest).order_by(receipts.c.seq.desc()).limit(1)).scalar()
            prev = prev or GENESIS
            rows = []
            for subject, body in bodies:
                if (subject, body.get("attempt", 1)) in have:
                    continue
                text = canonical(body)
                digest = chain(prev, text)
                rows.append({"job_id": job_id, "estate_key": key, "subject": subject, "body": text,
                             "digest": digest, "prev": prev, "attempt": body.get("attempt", 1)})
                prev = digest
            if rows:
                c.execute(receipts.insert(), rows)
        return len(rows)

    def receipts(self, job_id: str | None = None, key: str | None = None,
                 subject: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(receipts).order_by(receipts.c.seq)
        if job_id:
            q = q.where(receipts.c.job_id == job_id)
        if key:
            q = q.where(receipts.c.estate_key == key)
        if subject:
            q = q.where(receipts.c.subject == subject)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def verify_receipts(self) -> tuple[int, list[int]]:
        """Recompute the chain: (receipts checked, seq numbers whose digest does not match)."""
        bad: list[int] = []
        prev = GENESIS
        n = 0
        with self.engine.connect() as c:
            for r in c.execute(sa.select(receipts).order_by(receipts.c.seq)).mappings():
                n += 1
                if r["prev"] != prev or chain(prev, r["body"]) != r["digest"]:
                    bad.append(int(r["seq"]))
                prev = r["digest"]
        return n, bad

    # -- transfers that cannot be undone inside the estate: block the route, ask the recipient to erase
    def settle_transfers(self, job_id: str, key: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Record blocked routes, settled transfer records and one erasure request per recipient.

        Idempotent: a second call for the same job adds nothing. Returns settled transfer records.
        """
        t = now()
        with self.tx() as c:
            have = {r for (r,) in c.execute(sa.select(settled.c.transfer).where(settled.c.estate_key == key))}
            routes = {(r, s) for r, s in c.execute(sa.select(blocked_routes.c.recipient, blocked_routes.c.source)
                                                   .where(blocked_routes.c.estate_key == key))}
            asked = {r for (r,) in c.execute(sa.select(erasure_requests.c.recipient)
                                             .where(erasure_requests.c.job_id == job_id))}
            new = [r for r in rows if str(r["transfer"]) not in have]
            if new:
                c.execute(settled.insert(), [
                    {"estate_key": key, "transfer": str(r["transfer"]), "subject": str(r["sid"]),
                     "recipient": str(r["recipient"]), "rule": r["rule"], "job_id": job_id, "at": t} for r in new])
            for route in sorted({(str(r["recipient"]), str(r["source"])) for r in rows} - routes):
                rule = next(r["rule"] for r in rows if (str(r["recipient"]), str(r["source"])) == route)
                c.execute(blocked_routes.insert().values(estate_key=key, recipient=route[0], source=route[1],
                                                         rule=rule, job_id=job_id, at=t))
            per: dict[str, set[str]] = {}
            for r in rows:
                per.setdefault(str(r["recipient"]), set()).add(str(r["sid"]))
            for recipient, subjects in sorted(per.items()):
                if recipient in asked:
                    continue
                body = canonical({"to": recipient, "job": job_id, "request": "erase personal data received",
                                  "subjects": sorted(subjects, key=lambda s: (len(s), s)), "at": t.isoformat()})
                c.execute(erasure_requests.insert().values(
                    request_id=uuid.uuid4().hex[:16], estate_key=key, recipient=recipient, job_id=job_id,
                    subjects=len(subjects), body=body, digest=hashlib.sha256(body.encode()).hexdigest(), at=t))
        return len(new)

    def settled_transfers(self, key: str) -> set[str]:
        with self.engine.connect() as c:
            return {r for (r,) in c.execute(sa.select(settled.c.transfer).where(settled.c.estate_key == key))}

    def blocked(self, key: str) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(sa.select(blocked_routes).where(blocked_routes.c.estate_key == key))
                    .mappings()]

    def erasure_requests(self, key: str) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            q = sa.select(erasure_requests).where(erasure_requests.c.estate_key == key)
            return [dict(r) for r in c.execute(q).mappings()]
