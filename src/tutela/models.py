"""The public models the CLI, the API and library users pass to and get from `tutela.engine.Engine`.

Names load on first use (PEP 562): importing this module costs nothing until a name is read.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tutela.age import AgeGate as AgeGate
    from tutela.age import Context as AgeContext
    from tutela.age import MemoryStore as AgeMemoryStore
    from tutela.age import RateLimited as RateLimited
    from tutela.age import RateLimiter as RateLimiter
    from tutela.age import SqlStore as AgeSqlStore
    from tutela.age import check as check_age_requirements
    from tutela.age import stick as stick_age
    from tutela.age import to_rulebook as age_to_rulebook
    from tutela.age.config import Trust as AgeTrust
    from tutela.age.config import from_env as age_from_env
    from tutela.age.config import load_trust as load_age_trust
    from tutela.age.nonces import NonceBook as NonceBook
    from tutela.audit import Finding as Finding
    from tutela.audit import Findings as Findings
    from tutela.clipstream import AS_OF as AS_OF
    from tutela.clipstream.examples import CASES as CASES
    from tutela.connectors.estate import EstateConfig as EstateConfig
    from tutela.consent import ConsentDesk as ConsentDesk
    from tutela.consent import ConsentRefused as ConsentRefused
    from tutela.consent import GrantRecord as GrantRecord
    from tutela.consent.portal import ParentPortal as ParentPortal
    from tutela.engine import DatamapCheck as DatamapCheck
    from tutela.guard import StreamGuard as StreamGuard
    from tutela.guard.stream_json import events_from_jsonl as events_from_jsonl
    from tutela.guard.stream_json import events_to_jsonl as events_to_jsonl
    from tutela.guard.stream_nats import NatsConsumer as NatsConsumer
    from tutela.media import QUARANTINE as QUARANTINE
    from tutela.media import STATUSES as STATUSES
    from tutela.media import MediaResult as MediaResult
    from tutela.media import OnRefuse as OnRefuse
    from tutela.policy.model import Decision as Decision
    from tutela.policy.model import DecisionRequest as DecisionRequest
    from tutela.query import EngineName as EngineName
    from tutela.rights import RightsDesk as RightsDesk
    from tutela.rights.lifecycle import NewRequest as NewRequest
    from tutela.staff import Accounts as StaffAccounts
    from tutela.staff import Office as Office
    from tutela.staff import may as staff_may
    from tutela.transfers import DatasetCheck as DatasetCheck
    from tutela.transfers import Notice as TransferNotice
    from tutela.transfers import TransferCheck as TransferCheck
    from tutela.transfers import TransferGate as TransferGate

_RENAMED = {  # public name -> (module, its name there)
    "AgeContext": ("tutela.age", "Context"), "AgeMemoryStore": ("tutela.age", "MemoryStore"),
    "AgeSqlStore": ("tutela.age", "SqlStore"), "check_age_requirements": ("tutela.age", "check"),
    "stick_age": ("tutela.age", "stick"), "age_to_rulebook": ("tutela.age", "to_rulebook"),
    "AgeTrust": ("tutela.age.config", "Trust"), "age_from_env": ("tutela.age.config", "from_env"),
    "load_age_trust": ("tutela.age.config", "load_trust"),
    "STAFF_ROLES": ("tutela.staff", "ROLES"), "StaffAccount": ("tutela.staff", "Account"),
    "StaffAccounts": ("tutela.staff", "Accounts"), "staff_may": ("tutela.staff", "may"),
    "MIN_STAFF_PASSWORD": ("tutela.staff", "MIN_PASSWORD"),
    "StreamConsumerStats": ("tutela.guard.stream_nats", "ConsumerStats"),
    "read_arrow_file": ("tutela.guard.stream_state", "read_table"),
    "LedgerCheckpoint": ("tutela.ledger", "Checkpoint"), "trusted_ledger_keys": ("tutela.ledger", "trusted_keys"),
    "ledger_key_id": ("tutela.ledger.checkpoint", "key_id"),
    "new_ledger_key": ("tutela.ledger.checkpoint", "new_key_text"),
    "ledger_private_key": ("tutela.ledger.checkpoint", "private_key"),
    "ledger_raw_public": ("tutela.ledger.checkpoint", "raw_public"),
    "TransferNotice": ("tutela.transfers", "Notice"),
}
_WHERE = {
    "ParentPortal": "tutela.consent.portal",
    "AgeGate": "tutela.age", "NatsConsumer": "tutela.guard.stream_nats", "RateLimited": "tutela.age",
    "RateLimiter": "tutela.age", "NonceBook": "tutela.age.nonces",
    "AS_OF": "tutela.clipstream", "ConsentDesk": "tutela.consent", "ConsentRefused": "tutela.consent",
    "GrantRecord": "tutela.consent", "CASES": "tutela.clipstream.examples", "DatamapCheck": "tutela.engine",
    "Decision": "tutela.policy.model", "DecisionRequest": "tutela.policy.model", "EngineName": "tutela.query",
    "EstateConfig": "tutela.connectors.estate", "Finding": "tutela.audit", "Findings": "tutela.audit",
    "Office": "tutela.staff", "MediaResult": "tutela.media",
    "NewRequest": "tutela.rights.lifecycle",
    "OnRefuse": "tutela.media", "QUARANTINE": "tutela.media", "RightsDesk": "tutela.rights",
    "STATUSES": "tutela.media",
    "StreamGuard": "tutela.guard", "events_from_jsonl": "tutela.guard.stream_json",
    "events_to_jsonl": "tutela.guard.stream_json",
    "DatasetCheck": "tutela.transfers", "TransferCheck": "tutela.transfers", "TransferGate": "tutela.transfers",
}

__all__ = [
    "AS_OF",
    "CASES",
    "QUARANTINE",
    "STATUSES",
    "AgeContext",
    "AgeGate",
    "AgeMemoryStore",
    "AgeSqlStore",
    "AgeTrust",
    "ConsentDesk",
    "ConsentRefused",
    "DatamapCheck",
    "DatasetCheck",
    "Decision",
    "DecisionRequest",
    "EngineName",
    "EstateConfig",
    "Finding",
    "Findings",
    "GrantRecord",
    "MediaResult",
    "NonceBook",
    "Office",
    "OnRefuse",
    "ParentPortal",
    "RateLimited",
    "RateLimiter",
    "RightsDesk",
    "StaffAccounts",
    "StreamGuard",
    "TransferCheck",
    "TransferGate",
    "TransferNotice",
    "age_from_env",
    "age_to_rulebook",
    "check_age_requirements",
    "events_from_jsonl",
    "events_to_jsonl",
    "load_age_trust",
    "staff_may",
    "stick_age",
]


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        module, attr = _RENAMED[name]
        return getattr(import_module(module), attr)
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'tutela.models' has no attribute {name!r}")
