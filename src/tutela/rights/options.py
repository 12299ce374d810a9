"""What a rights request says beyond its row: an erasure policy by data category, whether to
proceed past unreachable collections, and what Tutela could not decide for the subject
(a table of its own, `rights_request_options`, so stored requests need no migration)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa

from tutela.datamap.erasure import ErasurePolicy
from tutela.store.state import StateStore, canonical, meta

rights_request_options = sa.Table(
    "rights_request_options", meta,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("policy", sa.Text),  # canonical JSON of the erasure policy, or NULL (the data map's rules)
    sa.Column("allow_unreachable", sa.Boolean, nullable=False),
    sa.Column("undecided", sa.Text, nullable=False),  # JSON list of statements (no personal data)
)


@dataclass(frozen=True)
class RequestOptions:
    policy: ErasurePolicy | None = None
    allow_unreachable: bool = False
    undecided: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {"policy": self.policy.model_dump(mode="json") if self.policy else None,
                "allow_unreachable": self.allow_unreachable, "undecided": list(self.undecided)}


class OptionsStore:
    def __init__(self, state: StateStore):
        self.state = state

    def save(self, request_id: str, options: RequestOptions) -> None:
        policy = canonical(options.policy.model_dump(mode="json")) if options.policy else None
        with self.state.tx() as c:
            c.execute(rights_request_options.insert().values(
                request_id=request_id, policy=policy, allow_unreachable=options.allow_unreachable,
                undecided=json.dumps(list(options.undecided))))

    def load(self, request_id: str) -> RequestOptions:
        """The request's options; a request made before options existed has the defaults."""
        with self.state.engine.connect() as c:
            row = c.execute(sa.select(rights_request_options)
                            .where(rights_request_options.c.request_id == request_id)).mappings().first()
        if row is None:
            return RequestOptions()
        policy = ErasurePolicy.model_validate(json.loads(row["policy"])) if row["policy"] else None
        return RequestOptions(policy, bool(row["allow_unreachable"]), tuple(json.loads(row["undecided"])))
