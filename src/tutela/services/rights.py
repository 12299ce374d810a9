"""The rights desk: what the CLI and the API call for access and erasure requests (docs/rights.md).

    desk = engine.requests(EstateConfig("sqlite:///estate.db", media=Path("media")))
    r = desk.create({"kind": "erasure", "subject": "42", "scope": "account"}, by="alice")
    desk.approve(r["id"], by="bob")        # staff approval; nothing runs before it
    desk.run(r["id"])                      # erase, list the transfers kept, write a receipt
    desk.close()

Connectors are opened on first use and kept for the desk's life (the API holds one desk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy.engine import make_url

from tutela.connectors import ESTATE, Connector, ConnectorUnavailable, open_connector
from tutela.datamap import DataMap, check, load_datamap
from tutela.datamap.check import UNREACHABLE
from tutela.datamap.erasure import parse_policy
from tutela.datamap.models import FilesStoreDecl, RedisStoreDecl
from tutela.errors import InputError
from tutela.rulebook import Rulebook
from tutela.services.deadlines import DeadlineBook, load_deadlines
from tutela.services.dsr import SubjectOps
from tutela.services.export import render_html
from tutela.services.request_options import OptionsStore, RequestOptions
from tutela.services.requests import RequestStore, parse_request
from tutela.services.source import redact
from tutela.services.state import StateStore, estate_key, now
from tutela.taxonomy import Taxonomy


@dataclass(frozen=True)
class EstateConfig:
    """Where one estate's data lives: its database or Parquet folder, media folder, Redis."""

    url: str
    media: Path | None = None
    redis: str | None = None
    datamap: Path | None = None
    redis_prefix: str = ""  # put before every Redis key (tests and tenants sharing a server)
    extra: dict[str, str] = field(default_factory=dict)  # further declared stores: name -> URL

    @property
    def key(self) -> str:
        return estate_key(self.url)


class RightsDesk:
    def __init__(self, rulebook: Rulebook, taxonomy: Taxonomy, estate: EstateConfig | None,
                 state: StateStore | None = None, deadlines: DeadlineBook | None = None):
        self.rulebook = rulebook
        self.taxonomy = taxonomy
        self.estate = estate
        self._own_state = state is None
        self.state = state or StateStore()
        self.requests = RequestStore(self.state, deadlines or load_deadlines())
        self.options = OptionsStore(self.state)
        self._ops: SubjectOps | None = None
        self._unreachable: list[str] = []  # collections with personal data no reference reaches

    # -- the request's life ------------------------------------------------------------------
    def create(self, raw: Any, by: str) -> dict[str, Any]:
        """Validate, find the subject in the estate, compute the deadline, store it (pending approval)."""
        today = now().date()
        req = parse_request(raw, today)
        policy = parse_policy(req.policy, "body.policy", self.taxonomy) if req.policy is not None else None
        ops = self._subject_ops("create a request")
        self._require_reachable(req.allow_unreachable, "body.allow_unreachable")
        if policy is not None:
            ops.check_policy(policy)
        who = ops.find(req.subject)
        code = req.jurisdiction or who.jurisdiction
        if not code:
            raise InputError("the estate records no jurisdiction for this subject; give one",
                             where="body.jurisdiction")
        where = "body.jurisdiction" if req.jurisdiction else "the subject's jurisdiction in the estate"
        jur = self.rulebook.jurisdiction(code, where=where)
        received = req.received or today
        age = req.age if req.age is not None else who.age_on(received)
        assert self.estate is not None
        made = self.requests.create(req, estate_key=self.estate.key, estate=redact(self.estate.url),
                                    jurisdiction=jur.code, codes=[jur.code, *jur.inherits],
                                    age=age, by=by, today=today)
        options = RequestOptions(policy, req.allow_unreachable, tuple(ops.undecided(who, req.age)))
        self.options.save(made["id"], options)
        return {**made, **options.to_dict()}

    def list(self, status: str | None = None, kind: str | None = None, subject: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        return self.requests.list(status=status, kind=kind, subject=subject, limit=limit)

    def show(self, request_id: str) -> dict[str, Any]:
        return {**self.requests.get(request_id), **self.options.load(request_id).to_dict()}

    def approve(self, request_id: str, by: str, note: str | None = None) -> dict[str, Any]:
        return self.requests.decide(request_id, by, approve=True, note=note)

    def reject(self, request_id: str, by: str, reason: str) -> dict[str, Any]:
        if not reason or not reason.strip():
            raise InputError("a rejection needs a reason", where="reason")
        return self.requests.decide(request_id, by, approve=False, note=f"rejected: {reason.strip()}")

    def extend(self, request_id: str, by: str, reason: str) -> dict[str, Any]:
        if not reason or not reason.strip():
            raise InputError("an extension needs the reason the requester is told", where="reason")
        return self.requests.extend(request_id, by, reason.strip(), now().date())

    def run(self, request_id: str, allow_unreachable: bool = False) -> dict[str, Any]:
        """Run an approved request; a failure is recorded on the request (without personal data)."""
        row = self.requests.row(request_id)
        ops = self._subject_ops("run a request")
        assert self.estate is not None
        if row["estate_key"] != self.estate.key:
            raise InputError(f"request `{request_id}` was made for another estate ({row['estate']})",
                             where="estate", hint="run it against the estate it names")
        options = self.options.load(request_id)
        self._require_reachable(allow_unreachable or options.allow_unreachable, "allow_unreachable")
        view = self.requests.claim(request_id)
        error = "interrupted"
        try:
            if view["kind"] == "access":
                out = self._access(ops, view, options)
            else:
                out = self._erase(ops, view, options)
            error = ""
            return {**out, **options.to_dict()}
        except ConnectorUnavailable as exc:
            error = f"a store was unavailable: {exc.message} ({exc.where})"
            raise
        except InputError as exc:
            error = f"{exc.where}: {exc.message}" if exc.where else exc.message
            raise
        finally:
            if error:
                self.requests.fail(request_id, error)

    def export(self, request_id: str) -> tuple[dict[str, Any], str]:
        return self.requests.export(request_id)

    def export_html(self, request_id: str) -> str:
        data, _digest = self.requests.export(request_id)
        return render_html(data, data.get("categories", {}))

    def close(self) -> None:
        if self._ops is not None:
            for conn in self._ops.stores.values():
                conn.close()
            self._ops = None
        if self._own_state:
            self.state.close()

    # -- running -----------------------------------------------------------------------------
    def _access(self, ops: SubjectOps, view: dict[str, Any], options: RequestOptions) -> dict[str, Any]:
        names = {k: e.name for k, e in self.taxonomy.categories.entries.items()}
        found = ops.access(view["subject"], names)
        export = {"request": {k: view[k] for k in ("id", "kind", "received", "due", "jurisdiction")},
                  "generated_at": now().isoformat(), "estate": view["estate"], **found,
                  "undecided": list(options.undecided)}
        counts = [{"store": c["store"], "collection": c["name"], "action": "read", "rows": len(c["rows"])}
                  for c in export["collections"]]
        if export["files"]:
            counts.append({"store": "files", "collection": "files", "action": "read", "rows": len(export["files"])})
        body = {"request": view["id"], "kind": "access", "subject": view["subject"], "at": now().isoformat(),
                "approved_by": view["decided_by"], "read": counts}
        digest = self._receipt(view, body)
        result = {"collections": counts, "rows": export["rows"], "files": len(export["files"]),
                  "unreachable": export["unreachable"], "not_searched": export["not_searched"],
                  "skipped": export["skipped"], "undecided": list(options.undecided), "receipt": {"digest": digest}}
        return self.requests.finish(view["id"], result, export=export)

    def _erase(self, ops: SubjectOps, view: dict[str, Any], options: RequestOptions) -> dict[str, Any]:
        done = ops.erase(view["subject"], delete_rows=view["scope"] == "account", policy=options.policy)
        body = {"request": view["id"], "kind": "erasure", "scope": view["scope"], "subject": view["subject"],
                "at": now().isoformat(), "approved_by": view["decided_by"], "changes": done["changes"],
                "kept": done["kept"], "unreachable": done["unreachable"], "not_searched": done["not_searched"]}
        digest = self._receipt(view, body)
        result = {"collections": [{k: c[k] for k in ("store", "collection", "action", "rows")}
                                  for c in done["changes"]],
                  "rows": sum(c["rows"] for c in done["changes"]),
                  "kept": {"collection": done["kept"]["collection"], "records": len(done["kept"]["records"])},
                  "unreachable": done["unreachable"], "not_searched": done["not_searched"],
                  "skipped": done["skipped"], "undecided": list(options.undecided),
                  "policy": options.policy.key if options.policy else None, "receipt": {"digest": digest}}
        return self.requests.finish(view["id"], result)

    def _receipt(self, view: dict[str, Any], body: dict[str, Any]) -> str:
        """One receipt per request in the state store's hash chain (a re-run keeps the first)."""
        assert self.estate is not None
        self.state.add_receipts(view["id"], self.estate.key, [(view["subject"], body)])
        got = self.state.receipts(job_id=view["id"], subject=view["subject"])
        return str(got[-1]["digest"])

    def _subject_ops(self, why: str) -> SubjectOps:
        if self.estate is None:
            raise InputError(f"no estate to {why} against", where="estate",
                             hint="give --estate URL (for the API: `tutela serve --estate URL`)")
        if self._ops is None:
            self._ops = self._open(self.estate)
        return self._ops

    def _open(self, cfg: EstateConfig) -> SubjectOps:
        """The data map, checked as `tutela datamap check` checks it, and its stores opened."""
        dm = load_datamap(cfg.datamap)
        problems = check(dm, self.taxonomy)
        self._unreachable = [p.where.rsplit(": ", 1)[-1] for p in problems if p.message == UNREACHABLE]
        bad = [p for p in problems if p.message != UNREACHABLE]
        if bad:
            raise InputError(f"the data map has {len(bad)} problem(s), the first: {bad[0].where}: {bad[0].message}",
                             where=dm.source, hint="`tutela datamap check` lists them all")
        return SubjectOps(dm, open_stores(cfg, dm))

    def _require_reachable(self, allowed: bool, where: str) -> None:
        if self._unreachable and not allowed:
            raise InputError(f"collection(s) {', '.join(f'`{n}`' for n in self._unreachable)} hold personal data "
                             "that no reference from the identity reaches, so a request would not search them",
                             where=where, hint="fix the references, or let the request proceed with "
                                               "--allow-unreachable (`allow_unreachable: true`)")


def open_stores(cfg: EstateConfig, dm: DataMap) -> dict[str, Connector]:
    """The estate's connector and one per declared store whose location was given (the media
    folder defaults to the one `tutela estate generate` writes beside the estate)."""
    stores: dict[str, Connector] = {}
    media = cfg.media or default_media(cfg.url)
    try:
        stores[ESTATE] = open_connector(cfg.url)
        for name, decl in (dm.tutela.stores.items() if dm.tutela else ()):
            url = cfg.extra.get(name)
            if url is None and isinstance(decl, FilesStoreDecl) and media is not None:
                url = media.expanduser().resolve().as_uri()
            if url is None and isinstance(decl, RedisStoreDecl):
                url = cfg.redis
            if url is not None:
                stores[name] = open_connector(url, store=decl, key_prefix=cfg.redis_prefix)
        return stores
    except InputError:
        for conn in stores.values():
            conn.close()
        raise


def default_media(url: str) -> Path | None:
    """The media folder `tutela estate generate` writes beside an estate, when it exists."""
    parts = urlparse(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        path = Path(make_url(url).database or "")  # sqlite:///relative.db, sqlite:////absolute.db
        folder = path.with_name(f"{path.stem}-media")
    elif scheme == "parquet":
        folder = Path(parts.path).with_name(f"{Path(parts.path).name}-media")
    else:
        return None
    return folder if folder.is_dir() else None
