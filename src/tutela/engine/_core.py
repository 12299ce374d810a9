"""What the Engine's parts (the mixins in this package) may ask of the Engine they are part of:
a structural type, read by the type checker only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tutela.connectors.estate import EstateConfig
    from tutela.consent import ConsentDesk
    from tutela.ledger.recorder import Recorder
    from tutela.policy import CompiledPolicy
    from tutela.policy.model import Decision
    from tutela.rights import RightsDesk
    from tutela.rulebook import Rulebook
    from tutela.store import StateStore
    from tutela.taxonomy import Taxonomy


class EngineCore(Protocol):
    rulebook: Rulebook
    taxonomy: Taxonomy

    @property
    def compiled(self) -> CompiledPolicy: ...

    @property
    def recorder(self) -> Recorder | None: ...

    @property
    def consent(self) -> ConsentDesk: ...

    def decide(self, request: Any, where: str = "", reference: bool = False) -> Decision: ...

    def requests(self, estate: EstateConfig | None = None, state: StateStore | None = None) -> RightsDesk: ...
