"""The Engine's part for the data path and the proof: guards, transfers, the ledger, evidence."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from tutela.engine._core import EngineCore
    from tutela.evidence import Evidence
    from tutela.guard import AdReqResult, StreamGuard
    from tutela.guard.stream_config import Keyring
    from tutela.ledger import Ledger
    from tutela.policy.batch import BatchResult
    from tutela.policy.model import Decision
    from tutela.rulebook import Rulebook
    from tutela.transfers import TransferGate


class FlowMixin:
    rulebook: Rulebook

    # -- guards (docs/guard.md) -------------------------------------------------------------

    def adreq_guard(self: EngineCore, request: dict[str, Any], gpc: bool | None = None,
                    subject: dict[str, Any] | None = None) -> AdReqResult:
        """Guard one OpenRTB 2.6 bid request: a lawful request or a refusal, every change explained."""
        from tutela.guard import guard_bid_request

        return guard_bid_request(self, request, gpc=gpc, subject=subject)

    def stream_guard(self: EngineCore, state: pa.Table | Path | str, keys: Keyring | None = None,
                     config: Path | None = None, refresh_ms: int = 1000,
                     transfers: TransferGate | None = None) -> StreamGuard:
        """The stream guard over platform events: `state` a subject-state table or a Parquet/Arrow
        file re-read when it changes (checked every `refresh_ms`); keys from TUTELA_STREAM_KEYS
        unless given; `transfers` gates events that name a `recipient_id`."""
        from tutela.guard import StreamGuard

        guard = StreamGuard.build(self.compiled, state, keys=keys, config=config, refresh_ms=refresh_ms,
                                  transfers=transfers)
        guard.on_batch = self.recorder.stream_batch if self.recorder is not None else None
        return guard

    def transfers(self, registry: Path | None = None, estate: str | None = None,
                  datamap: Path | None = None) -> TransferGate:
        """The transfer gate over a recipient registry: a YAML file, an estate's processors table,
        or the file TUTELA_TRANSFER_REGISTRY names (docs/guard.md)."""
        from tutela.transfers import TransferGate, open_registry

        return TransferGate(self.rulebook, open_registry(registry, estate, datamap))

    # -- the ledger (docs/ledger.md) --------------------------------------------------------

    @staticmethod
    def ledger(url: str | None = None, prefix: str = "", create: bool = True) -> Ledger:
        """The tamper-evident ledger at `url` (None: TUTELA_LEDGER_URL; see docs/ledger.md); close it when done."""
        from tutela.ledger import Ledger

        return Ledger(url, prefix=prefix, create=create)

    def record_decisions(self: EngineCore, requests: list[Any], decisions: list[Decision] | BatchResult) -> int:
        """Ledger entries for the denies and consent-based allows among `decisions` (the API's); an
        Arrow batch is one aggregate entry (its counts), as the stream guard writes."""
        return self.recorder.api_decisions(requests, decisions) if self.recorder is not None else 0

    @property
    def evidence(self: EngineCore) -> Evidence:
        """Evidence packs: build, verify (docs/evidence.md)."""
        from tutela.evidence import Evidence

        return Evidence(self.rulebook, self.taxonomy, lambda: self.compiled)
