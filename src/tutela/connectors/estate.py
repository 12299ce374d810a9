"""One estate's stores: its database or Parquet folder, and the media folder and Redis beside it.

    cfg = EstateConfig("sqlite:///clip.db", media=Path("media"), redis="redis://127.0.0.1:6379/0")
    stores = open_stores(cfg, datamap)      # {"estate": ..., "media": ..., "cache": ...}

Shared by repair and rights (each opens the same stores the same way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tutela.connectors import ESTATE, Connector, open_connector
from tutela.connectors.places import locate
from tutela.connectors.urls import estate_id
from tutela.datamap import DataMap
from tutela.errors import InputError


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
        return estate_id(self.url)


def open_stores(cfg: EstateConfig, dm: DataMap) -> dict[str, Connector]:
    """The estate's connector and one per declared store whose location is known: given in `cfg`,
    or the media folder at its default place (tutela.connectors.locations.media_folder)."""
    stores: dict[str, Connector] = {}
    decls = dm.tutela.stores if dm.tutela else {}
    try:
        stores[ESTATE] = open_connector(cfg.url)
        for place in locate(dm, cfg, None):
            if place.url is not None:
                stores[place.store] = open_connector(place.url, store=decls[place.store], key_prefix=place.prefix)
        return stores
    except InputError:
        for conn in stores.values():
            conn.close()
        raise
