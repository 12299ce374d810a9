"""Where a rights request's stores are, and what a run searched (docs/rights.md, "Stores").

A data map declares stores beside the estate (`tutela.stores`: a media folder, Redis). A
request records where each one is when it is created, so a run needs no `--media` or
`--redis` again; a run then says, per store, whether it was searched and what it found.

    record = recorded(locate(dm, cfg, None))      # at create: {store: {kind, location, prefix, source}}
    places = locate(dm, cfg, record)              # at run: given at run > recorded > default
    opened, missing = open_side(dm, places)       # connectors that answered; the rest, with the reason

Resolution per declared store (first that applies):

    given     the run's (or, at create, the create call's) --media / --redis / estate config
    recorded  what the request recorded at create (a Redis password is never recorded: it is
              kept as `***` and taken from TUTELA_STORE_PASSWORD_<STORE> at run time)
    data map  the store's `location` in the data map's declarations (a relative media folder
              is relative to the data map file; a password there is refused, `***` as above)
    default   files only: the estate's media folder (tutela.connectors.locations), when it exists

A store with none of them, or whose secret is not set, or that does not answer, is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from tutela import settings
from tutela.connectors import Connector, ConnectorUnavailable, open_connector
from tutela.connectors.locations import media_folder
from tutela.connectors.urls import redact
from tutela.datamap import DataMap
from tutela.datamap.models import FilesStoreDecl, RedisStoreDecl
from tutela.errors import InputError, TutelaError

if TYPE_CHECKING:
    from tutela.connectors.estate import EstateConfig

HIDDEN = "***"


class StoresMissing(InputError):
    """Declared stores a run cannot search (no location, no secret); the run did not start."""

    def __init__(self, message: str, *, names: list[str], where: str | None = None, hint: str | None = None):
        super().__init__(message, where=where, hint=hint)
        self.names = names


@dataclass(frozen=True)
class Place:
    """One declared store's location for a run: `url` may hold a secret and is never recorded."""

    store: str
    kind: str  # files | redis
    url: str | None
    source: str  # given | recorded | data map | default | none
    prefix: str = ""
    problem: str | None = None  # why there is no url (shown as the reason it was not searched)
    hint: str | None = None  # how to give it

    @property
    def location(self) -> str | None:
        return None if self.url is None else redact(self.url)

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location, "prefix": self.prefix, "source": self.source}


def secret_env(store: str) -> str:
    """The environment variable holding the password of a recorded store's URL."""
    return settings.store_password_env(store)


def declared(dm: DataMap) -> dict[str, FilesStoreDecl | RedisStoreDecl]:
    return dict(dm.tutela.stores) if dm.tutela else {}


def locate(dm: DataMap, cfg: EstateConfig, record: Mapping[str, Any] | None) -> list[Place]:
    """Every declared store's place, by the resolution order above (`record`: None at create)."""
    out = []
    for name, decl in sorted(declared(dm).items()):
        kind = "files" if isinstance(decl, FilesStoreDecl) else "redis"
        out.append(_place(name, kind, cfg, (record or {}).get(name), _declared(dm, decl.location)))
    return out


def _declared(dm: DataMap, location: str | None) -> str | None:
    """A data map's `location` as a URL (a bare path is a folder relative to the data map file)."""
    if location is None or "://" in location:
        return location
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = Path(dm.source).parent / path
    return path.resolve().as_uri()


def _place(name: str, kind: str, cfg: EstateConfig, rec: Mapping[str, Any] | None, declared: str | None) -> Place:
    url = cfg.extra.get(name)
    if url is None and kind == "files" and cfg.media is not None:
        url = cfg.media.expanduser().resolve().as_uri()
    if url is None and kind == "redis":
        url = cfg.redis
    if url is not None:
        return Place(name, kind, url, "given", cfg.redis_prefix if kind == "redis" else "")
    if rec and rec.get("location"):
        return _recorded(name, kind, str(rec["location"]), str(rec.get("prefix") or ""))
    if declared is not None:
        place = _recorded(name, kind, declared, cfg.redis_prefix if kind == "redis" else "")
        return Place(name, kind, place.url, "data map", place.prefix, place.problem, place.hint)
    if kind == "files":
        folder = media_folder(cfg.url)
        if folder.is_dir():
            return Place(name, kind, folder.as_uri(), "default")
        return Place(name, kind, None, "none", problem=f"no media folder given, and none at the default {folder}",
                     hint="give `--media DIR` when creating the request (or running it)")
    return Place(name, kind, None, "none", problem="no Redis server given",
                 hint="give `--redis redis://host:port/db` when creating the request (or running it); "
                      "for the API: `tutela serve --redis`")


def _recorded(name: str, kind: str, location: str, prefix: str) -> Place:
    parts = urlsplit(location)
    if parts.password is None or unquote(parts.password) != HIDDEN:
        return Place(name, kind, location, "recorded", prefix)
    env = secret_env(name)
    secret = settings.store_password(name)
    if not secret:
        return Place(name, kind, None, "recorded", prefix,
                     problem=f"the location {location} needs a password, and {env} is not set",
                     hint=f"set {env}, or give the full URL when running the request")
    netloc = parts.netloc.replace(f":{HIDDEN}@", f":{_quote(secret)}@", 1)
    return Place(name, kind, urlunsplit(parts._replace(netloc=netloc)), "recorded", prefix)


def _quote(secret: str) -> str:
    return quote(secret, safe="")


def recorded(places: list[Place]) -> dict[str, Any]:
    """What a request keeps: locations without secrets."""
    return {p.store: p.record() for p in places}


@dataclass
class Missing:
    place: Place
    reason: str
    hint: str | None
    cause: str  # no_location (none, or its secret missing) | bad_location (cannot be opened) | unreachable

    @property
    def unreachable(self) -> bool:  # it was given but did not answer (a retry may succeed)
        return self.cause == "unreachable"


def open_side(dm: DataMap, places: list[Place], cache: dict[tuple[str, str, str], Connector]
              ) -> tuple[dict[str, Connector], list[Missing]]:
    """Open (or reuse from `cache`) each placed store and check it answers; the rest as missing."""
    decls = declared(dm)
    opened: dict[str, Connector] = {}
    missing: list[Missing] = []
    for p in places:
        if p.url is None:
            missing.append(Missing(p, p.problem or "no location", p.hint, "no_location"))
            continue
        key = (p.store, p.url, p.prefix)
        conn = cache.get(key)
        try:
            if conn is None:
                conn = open_connector(p.url, store=decls[p.store], key_prefix=p.prefix)
                cache[key] = conn
            conn.check({})  # a Redis ping, the media folder's existence
        except ConnectorUnavailable as exc:
            missing.append(Missing(p, f"did not answer: {exc.message}", "run again when it is back", "unreachable"))
            _drop(cache, key)
            continue
        except InputError as exc:
            missing.append(Missing(p, f"cannot be opened: {exc.message}",
                                   p.hint or "give its right location when running the request", "bad_location"))
            _drop(cache, key)
            continue
        opened[p.store] = conn
    return opened, missing


def _drop(cache: dict[tuple[str, str, str], Connector], key: tuple[str, str, str]) -> None:
    conn = cache.pop(key, None)
    if conn is not None:
        conn.close()


def refuse(missing: list[Missing]) -> TutelaError:
    """The error a run without `allow_partial` raises: every missing store, how to give it."""
    names = [m.place.store for m in missing]
    text = "; ".join(f"`{m.place.store}` ({m.place.kind}"
                     f"{', ' + m.place.location if m.place.location else ''}): {m.reason}" for m in missing)
    hints = "; ".join(dict.fromkeys(m.hint for m in missing if m.hint))
    message = f"declared store(s) cannot be searched, so the run did not start: {text}"
    hint = f"{hints}; or run with --allow-partial (API: {{\"allow_partial\": true}}) to run without them, " \
           "and every output will name what was not searched"
    if all(m.unreachable for m in missing):
        return ConnectorUnavailable(message, where="stores: " + ", ".join(names), hint=hint)
    return StoresMissing(message, names=names, where="stores: " + ", ".join(names), hint=hint)


def status(places: list[Place], opened: Mapping[str, Connector], missing: list[Missing],
           found: Mapping[str, int], estate: tuple[str, str], searched_nodes: set[str]) -> list[dict[str, Any]]:
    """Per store, for every output: searched (with what it found, 0 included) or not searched (why)."""
    kind, location = estate
    out: list[dict[str, Any]] = [{"store": "estate", "kind": kind, "location": location, "source": "given",
                                  "searched": True, "found": int(found.get("estate", 0)), "cause": None,
                                  "reason": None}]
    why = {m.place.store: m for m in missing}
    for p in places:
        m = why.get(p.store)
        item: dict[str, Any] = {"store": p.store, "kind": p.kind, "location": p.location, "source": p.source,
                                "searched": False, "found": None, "cause": None, "reason": None}
        if m is not None:
            item.update(cause=m.cause, reason=m.reason)
        elif p.store in searched_nodes:
            item.update(searched=True, found=int(found.get(p.store, 0)))
        else:
            item.update(cause="no_path", reason=PUBLIC["no_path"])
        out.append(item)
    return out


PUBLIC = {  # why a store was not searched, in words for the requester (no host names or paths)
    "no_location": "its location was not given to the run",
    "bad_location": "it could not be opened where it was said to be",
    "unreachable": "it did not answer when the request ran",
    "no_path": "no reference in the data map leads to its data from the account",
}


def public(stores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stores as the requester's export shows them: no locations, the reason in plain words."""
    return [{"store": s["store"], "kind": s["kind"], "searched": s["searched"], "found": s["found"],
             "reason": PUBLIC[s["cause"]] if s["cause"] else None} for s in stores]
