"""The rights desk: what the CLI and the API call for access and erasure requests (docs/rights.md).

    desk = engine.requests(EstateConfig("sqlite:///estate.db", media=Path("media")))
    r = desk.create({"kind": "erasure", "subject": "42", "scope": "account"}, by="alice")
    desk.approve(r["id"], by="bob")        # staff approval; nothing runs before it
    desk.run(r["id"])                      # erase, list the transfers kept, write a receipt
    desk.close()

A request records where its estate's other stores are (media folder, Redis; see
tutela.connectors.places); a run searches every declared store or refuses to start, unless
`allow_partial`, and then every output names the stores it did not search. Connectors are
opened on first use and kept for the desk's life (the API holds one desk).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from tutela.connectors import ESTATE, Connector, ConnectorUnavailable, open_connector
from tutela.connectors.estate import EstateConfig
from tutela.connectors.places import Missing, Place, locate, open_side, public, recorded, refuse, status
from tutela.connectors.urls import redact
from tutela.datamap import DataMap, check, load_datamap
from tutela.datamap.check import UNREACHABLE
from tutela.datamap.erasure import parse_policy
from tutela.datamap.models import FilesStoreDecl
from tutela.errors import InputError
from tutela.ledger.recorder import Recorder
from tutela.rights.deadlines import DeadlineBook, load_deadlines
from tutela.rights.export import render_html
from tutela.rights.fulfil import SubjectOps
from tutela.rights.lifecycle import RequestStore, parse_request
from tutela.rights.options import OptionsStore, RequestOptions
from tutela.rulebook import Rulebook
from tutela.store.state import StateStore, now
from tutela.taxonomy import Taxonomy


class RightsDesk:
    def __init__(self, rulebook: Rulebook, taxonomy: Taxonomy, estate: EstateConfig | None,
                 state: StateStore | None = None, deadlines: DeadlineBook | None = None,
                 recorder: Recorder | None = None):
        self.recorder = recorder  # the ledger: each request, approval, rejection, extension and answer
        self.rulebook = rulebook
        self.taxonomy = taxonomy
        self.estate = estate
        self._own_state = state is None
        self.state = state or StateStore()
        self.requests = RequestStore(self.state, deadlines or load_deadlines())
        self.options = OptionsStore(self.state)
        self._unreachable: list[str] = []  # collections with personal data no reference reaches
        self._dm: DataMap | None = None
        self._main: Connector | None = None
        self._side: dict[tuple[str, str, str], Connector] = {}  # (store, url, prefix) -> open connector

    # -- the request's life ------------------------------------------------------------------
    def create(self, raw: Any, by: str, approval: Literal["staff", "parent"] = "staff") -> dict[str, Any]:
        """Validate, find the subject in the estate, compute the deadline, record where the estate's
        stores are, store it (pending approval; approved at once when `approval="parent"`: a verified
        guardian's own request, see RequestStore.create)."""
        today = now().date()
        req = parse_request(raw, today)
        self._ledger_up()
        policy = parse_policy(req.policy, "body.policy", self.taxonomy) if req.policy is not None else None
        cfg, dm, main = self._open_estate("create a request")
        self._require_reachable(req.allow_unreachable, "body.allow_unreachable")
        opened, _missing = open_side(dm, locate(dm, cfg, None), self._side)  # checked again at run
        ops = SubjectOps(dm, {ESTATE: main, **opened})
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
        made = self.requests.create(req, estate_key=cfg.key, estate=redact(cfg.url), jurisdiction=jur.code,
                                    codes=[jur.code, *jur.inherits], age=age, by=by, today=today,
                                    stores=recorded(locate(dm, cfg, None)), approval=approval)
        options = RequestOptions(policy, req.allow_unreachable, tuple(ops.undecided(who, req.age)))
        self.options.save(made["id"], options)
        if self.recorder is not None:
            self.recorder.rights_request(made)
            if approval == "parent":
                self.recorder.rights_decision(made, "approved", by, None)
        return {**made, **options.to_dict()}

    def list(self, status: str | None = None, kind: str | None = None, subject: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        return self.requests.list(status=status, kind=kind, subject=subject, limit=limit)

    def show(self, request_id: str) -> dict[str, Any]:
        return {**self.requests.get(request_id), **self.options.load(request_id).to_dict()}

    def approve(self, request_id: str, by: str, note: str | None = None) -> dict[str, Any]:
        self._ledger_up()
        return self._recorded(self.requests.decide(request_id, by, approve=True, note=note), "approved", by)

    def reject(self, request_id: str, by: str, reason: str) -> dict[str, Any]:
        if not reason or not reason.strip():
            raise InputError("a rejection needs a reason", where="reason")
        self._ledger_up()
        view = self.requests.decide(request_id, by, approve=False, note=f"rejected: {reason.strip()}")
        return self._recorded(view, "rejected", by, reason)

    def extend(self, request_id: str, by: str, reason: str) -> dict[str, Any]:
        if not reason or not reason.strip():
            raise InputError("an extension needs the reason the requester is told", where="reason")
        self._ledger_up()
        view = self.requests.extend(request_id, by, reason.strip(), now().date())
        return self._recorded(view, "extended", by, reason)

    def _ledger_up(self) -> None:
        if self.recorder is not None:
            self.recorder.check()

    def _recorded(self, view: dict[str, Any], decision: str, by: str, reason: str | None = None) -> dict[str, Any]:
        if self.recorder is not None:
            self.recorder.rights_decision(view, decision, by, reason)
        return view

    def run(self, request_id: str, allow_unreachable: bool = False, allow_partial: bool = False) -> dict[str, Any]:
        """Run an approved request; a failure is recorded on the request (without personal data).

        Every store the data map declares is searched, or the run does not start (StoresMissing,
        or ConnectorUnavailable when a given store does not answer) unless `allow_partial`; then
        the result, the export and the receipt name each store not searched and say `complete: false`."""
        row = self.requests.row(request_id)
        cfg, dm, main = self._open_estate("run a request")
        if row["estate_key"] != cfg.key:
            raise InputError(f"request `{request_id}` was made for another estate ({row['estate']})",
                             where="estate", hint="run it against the estate it names")
        options = self.options.load(request_id)
        self._require_reachable(allow_unreachable or options.allow_unreachable, "allow_unreachable")
        self._ledger_up()
        view = self.requests.claim(request_id)
        error = "interrupted"
        try:
            places = locate(dm, cfg, view["stores"])
            opened, missing = open_side(dm, places, self._side)
            if missing and not allow_partial:
                raise refuse(missing)
            run = _Run(SubjectOps(dm, {ESTATE: main, **opened}), places, opened, missing,
                       (main.kind, redact(cfg.url)), dm)
            out = self._access(run, view, options) if view["kind"] == "access" else self._erase(run, view, options)
            error = ""
            if self.recorder is not None:
                self._record(out)
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

    def _record(self, done: dict[str, Any]) -> None:
        """The answer into the ledger: its fulfilment and, for an erasure, the receipt per collection."""
        assert self.recorder is not None
        self.recorder.rights_fulfilment(done, done.get("result") or {})
        if done["kind"] == "erasure":
            self.recorder.receipts(done["id"], self.state.receipts(job_id=done["id"], subject=done["subject"])[-1:])

    def last_completed(self) -> dt.datetime | None:
        """When a request on this desk's estate was last answered (the console audits again after it)."""
        return self.requests.last_completed(self.estate.key) if self.estate is not None else None

    def export(self, request_id: str) -> tuple[dict[str, Any], str]:
        return self.requests.export(request_id)

    def export_html(self, request_id: str) -> str:
        data, _digest = self.requests.export(request_id)
        return render_html(data, data.get("categories", {}))

    def close(self) -> None:
        for conn in [*self._side.values(), *([self._main] if self._main else [])]:
            conn.close()
        self._side.clear()
        self._main = None
        if self._own_state:
            self.state.close()

    # -- running -----------------------------------------------------------------------------
    def _access(self, run: _Run, view: dict[str, Any], options: RequestOptions) -> dict[str, Any]:
        names = {k: e.name for k, e in self.taxonomy.categories.entries.items()}
        found = run.ops.access(view["subject"], names)
        per: dict[str, int] = {}
        for c in found["collections"]:
            per[c["store"]] = per.get(c["store"], 0) + len(c["rows"])
        for f in found["files"]:
            store = run.files_store(f["collection"])
            per[store] = per.get(store, 0) + 1
        stores = run.status(per)
        complete = all(s["searched"] for s in stores)
        export = {"request": {k: view[k] for k in ("id", "kind", "received", "due", "jurisdiction")},
                  "generated_at": now().isoformat(), "estate": view["estate"], **found,
                  "stores": public(stores), "complete": complete, "undecided": list(options.undecided)}
        counts = [{"store": c["store"], "collection": c["name"], "action": "read", "rows": len(c["rows"])}
                  for c in export["collections"]]
        if export["files"]:
            counts.append({"store": "files", "collection": "files", "action": "read", "rows": len(export["files"])})
        body = {"request": view["id"], "kind": "access", "subject": view["subject"], "at": now().isoformat(),
                "approved_by": view["decided_by"], "read": counts, "complete": complete,
                "stores": [_brief(s) for s in stores]}
        digest = self._receipt(view, body)
        result = {"collections": counts, "rows": export["rows"], "files": len(export["files"]),
                  "unreachable": export["unreachable"], "not_searched": export["not_searched"],
                  "skipped": export["skipped"], "undecided": list(options.undecided),
                  "stores": stores, "complete": complete, "receipt": {"digest": digest}}
        return self.requests.finish(view["id"], result, export=export)

    def _erase(self, run: _Run, view: dict[str, Any], options: RequestOptions) -> dict[str, Any]:
        done = run.ops.erase(view["subject"], delete_rows=view["scope"] == "account", policy=options.policy)
        per: dict[str, int] = {}
        for c in done["changes"]:
            per[c["store"]] = per.get(c["store"], 0) + int(c["rows"])
        stores = run.status(per)
        failed = [{"store": c["store"], "collection": c["collection"], **f} for c in done["changes"]
                  for f in c.get("failed", ())]  # items a store could not change (a file it could not clean)
        complete = all(s["searched"] for s in stores) and not failed
        body = {"request": view["id"], "kind": "erasure", "scope": view["scope"], "subject": view["subject"],
                "at": now().isoformat(), "approved_by": view["decided_by"], "changes": done["changes"],
                "kept": done["kept"], "unreachable": done["unreachable"], "not_searched": done["not_searched"],
                "complete": complete, "stores": [_brief(s) for s in stores]}
        digest = self._receipt(view, body)
        result = {"collections": [{k: c[k] for k in ("store", "collection", "action", "rows")}
                                  for c in done["changes"]],
                  "rows": sum(c["rows"] for c in done["changes"]),
                  "kept": {"collection": done["kept"]["collection"], "records": len(done["kept"]["records"])},
                  "unreachable": done["unreachable"], "not_searched": done["not_searched"],
                  "skipped": done["skipped"], "undecided": list(options.undecided),
                  "policy": options.policy.key if options.policy else None, "failed": failed,
                  "stores": stores, "complete": complete, "receipt": {"digest": digest}}
        return self.requests.finish(view["id"], result)

    def _receipt(self, view: dict[str, Any], body: dict[str, Any]) -> str:
        """One receipt per request in the state store's hash chain (a re-run keeps the first)."""
        assert self.estate is not None
        self.state.add_receipts(view["id"], self.estate.key, [(view["subject"], body)])
        got = self.state.receipts(job_id=view["id"], subject=view["subject"])
        return str(got[-1]["digest"])

    def _open_estate(self, why: str) -> tuple[EstateConfig, DataMap, Connector]:
        if self.estate is None:
            raise InputError(f"no estate to {why} against", where="estate",
                             hint="give --estate URL (for the API: `tutela serve --estate URL`)")
        if self._dm is None:
            self._dm = self._checked(load_datamap(self.estate.datamap))
        if self._main is None:
            self._main = open_connector(self.estate.url)
        return self.estate, self._dm, self._main

    def _checked(self, dm: DataMap) -> DataMap:
        """The data map, checked as `tutela datamap check` checks it (unreachable collections are
        kept aside: a request may proceed past them when it says so)."""
        problems = check(dm, self.taxonomy)
        self._unreachable = [p.where.rsplit(": ", 1)[-1] for p in problems if p.message == UNREACHABLE]
        bad = [p for p in problems if p.message != UNREACHABLE]
        if bad:
            raise InputError(f"the data map has {len(bad)} problem(s), the first: {bad[0].where}: {bad[0].message}",
                             where=dm.source, hint="`tutela datamap check` lists them all")
        return dm

    def _require_reachable(self, allowed: bool, where: str) -> None:
        if self._unreachable and not allowed:
            raise InputError(f"collection(s) {', '.join(f'`{n}`' for n in self._unreachable)} hold personal data "
                             "that no reference from the identity reaches, so a request would not search them",
                             where=where, hint="fix the references, or let the request proceed with "
                                               "--allow-unreachable (`allow_unreachable: true`)")


class _Run:
    """One run's subject operations and what it knows about the declared stores."""

    def __init__(self, ops: SubjectOps, places: list[Place], opened: dict[str, Connector], missing: list[Missing],
                 estate: tuple[str, str], dm: DataMap):
        self.ops, self.places, self.opened, self.missing, self.estate = ops, places, opened, missing, estate
        self._files = {coll: name for name, d in (dm.tutela.stores.items() if dm.tutela else ())
                       if isinstance(d, FilesStoreDecl) for coll in d.collections}

    def files_store(self, collection: str) -> str:
        return self._files.get(collection, "files")

    def status(self, found: dict[str, int]) -> list[dict[str, Any]]:
        searched = {n.store for n in self.ops.plan.nodes}
        return status(self.places, self.opened, self.missing, found, self.estate, searched)


def _brief(s: dict[str, Any]) -> dict[str, Any]:
    """A store's line in a receipt: no location (it may name a host), whether it was searched."""
    return {k: s[k] for k in ("store", "kind", "searched", "found", "cause")}

