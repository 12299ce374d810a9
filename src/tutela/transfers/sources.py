"""Where a registry comes from: a YAML file, an estate's processors table, or TUTELA_TRANSFER_REGISTRY."""

from __future__ import annotations

from pathlib import Path

from tutela import settings
from tutela.errors import InputError
from tutela.transfers.registry import Registry, load_registry, registry_from_processors

REGISTRY_ENV = "TUTELA_TRANSFER_REGISTRY"


def estate_registry(url: str, datamap: Path | None = None) -> Registry:
    """The processors table of the estate at `url`, as its data map declares it."""
    from tutela.connectors.urls import redact
    from tutela.datamap import load_datamap
    from tutela.query import EstateSource

    dm = load_datamap(datamap)
    tr = dm.tutela.transfers if dm.tutela is not None else None
    if tr is None:
        raise InputError("the data map declares no transfers (tutela.transfers.processors)", where=dm.source,
                         hint="declare the processors table, or give a registry file")
    p = tr.processors
    cols = list(dict.fromkeys(c for c in (p.key, p.kind, p.country, p.certified, p.scc, p.tia, p.name) if c))
    source = EstateSource.open(url)
    try:
        source.require(p.collection, set(cols), f"data map `{dm.dataset.fides_key}`: tutela.transfers.processors")
        table = source.read(p.collection, cols)
    finally:
        source.close()
    return registry_from_processors(table, p, where=f"{redact(url)} {p.collection}")


def open_registry(registry: Path | None = None, estate: str | None = None, datamap: Path | None = None) -> Registry:
    """`registry` (a file), else the processors of `estate`, else the file TUTELA_TRANSFER_REGISTRY names."""
    if registry is not None and estate is not None:
        raise InputError("give a registry file or an estate, not both", where="registry")
    if registry is not None:
        return load_registry(registry)
    if estate is not None:
        return estate_registry(estate, datamap)
    env = settings.text(REGISTRY_ENV)
    if env:
        return load_registry(Path(env).expanduser())
    raise InputError("no recipient registry", where="registry",
                     hint=f"give --registry FILE or --estate URL, or set {REGISTRY_ENV}")
