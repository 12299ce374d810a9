"""The transfer gate: may a subject's (or a dataset's) data go to this recipient on this day?

Read in this order, the same way the decision engine places a destination (`tutela.policy.facts.
destination_class`, on the rulebook's transfer regimes):

1. The subject's jurisdiction has no transfer regime in the rulebook -> allow (`not_regulated`):
   no rule of the rulebook restricts where its data goes.
2. The recipient's country is inside the regime's area -> allow (`free_flow`, Chapter V does not
   apply).
3. An adequacy decision covers the country on the day (for the US: only DPF-certified recipients,
   Decision 2023/1795) -> allow (`adequacy` / `dpf`), citing the decision and its date.
4. Otherwise every rule of the rulebook that forbids a transfer to that destination class (the
   regime's `EU-GDPR.art44-46`: Art. 44, 46(2)(c), Schrems II) must be lifted by its safeguards:
   `scc` is met by SCCs (Decision 2021/914, a module on file, signed by the day) or approved BCRs
   (Art. 46(2)(b), 47); `tia` by a transfer impact assessment dated on or before the day, and for
   children's data no older than the review interval (data/transfers.yaml `tia_review_days`).
   Missing any -> deny, naming the rule, what is missing and why.

Remote access by staff in a third country (`kind: remote_staff`) is a transfer like any other
(Irish DPC, TikTok, 2025). A subject of unknown age is read as a child (the protective reading);
a dataset says whether it holds children's data (default: yes) and is denied when any of its
jurisdictions is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from tutela.policy.facts import destination_class
from tutela.rulebook import Rulebook
from tutela.rulebook.models import Citation, Regime, Rule
from tutela.transfers.models import POLICY_RECIPIENT, Basis, GateLaw, Recipient, RegimeLaw
from tutela.transfers.registry import Registry, gate_law

Effect = Literal["allow", "deny"]
DestClass = Literal["none", "adequate", "non_adequate"]


@dataclass(frozen=True)
class Subject:
    jurisdiction: str
    age: int | None = None  # None: unknown, read as a child


@dataclass(frozen=True)
class Dataset:
    name: str
    jurisdictions: tuple[str, ...]
    children: bool = True


def cite(c: Citation | Basis, effective_from: dt.date | None = None) -> dict[str, Any]:
    out = {"instrument": c.instrument, "section": c.section, "url": c.url, "primary_checked": c.primary_checked}
    day = effective_from or getattr(c, "effective_from", None)
    if day is not None:
        out["effective_from"] = day.isoformat()
    if c.note:
        out["note"] = c.note
    return out


@dataclass(frozen=True)
class TransferCheck:
    effect: Effect
    recipient: Recipient
    jurisdiction: str | None  # None when checked under a regime directly (`transfers list`)
    regime: str | None
    on: dt.date
    destination_class: DestClass
    mechanism: str  # not_regulated | free_flow | adequacy | dpf | scc | bcr | none
    children: bool
    reasons: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # scc | tia | tia_review
    rules: tuple[str, ...] = ()  # the rulebook rules that decided a deny, or that the safeguards lifted
    citations: tuple[dict[str, Any], ...] = ()

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"

    @property
    def transfer(self) -> bool:
        """Does the data leave the regime's area (a transfer under Chapter V)?"""
        return self.destination_class != "none"

    def to_dict(self) -> dict[str, Any]:
        r = self.recipient
        return {"effect": self.effect, "on": self.on.isoformat(), "jurisdiction": self.jurisdiction,
                "regime": self.regime, "children": self.children,
                "recipient": {"id": r.id, "name": r.name, "kind": r.kind, "country": r.country},
                "destination_class": self.destination_class, "transfer": self.transfer,
                "remote_access": r.kind == "remote_staff" and self.transfer, "mechanism": self.mechanism,
                "reasons": list(self.reasons), "missing": list(self.missing), "rules": list(self.rules),
                "citations": list(self.citations)}


@dataclass(frozen=True)
class DatasetCheck:
    effect: Effect
    dataset: str
    checks: tuple[TransferCheck, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"

    def to_dict(self) -> dict[str, Any]:
        return {"effect": self.effect, "dataset": self.dataset, "checks": [c.to_dict() for c in self.checks]}


def _restricting(rules: list[Rule], dest: str, recipient: str, on: dt.date) -> list[Rule]:
    """Rules forbidding a transfer to this destination class, in force on the day."""
    out = []
    for r in rules:
        d = r.when.destination
        hits = (d == "non_adequate" and dest == "non_adequate") or (d == "third_country" and dest != "none")
        kinds = r.when.recipients
        if r.effect == "forbid" and hits and r.in_force(on) and (not kinds or recipient in kinds):
            out.append(r)
    return out


def _safeguards(r: Recipient, on: dt.date, law: RegimeLaw | None, children: bool,
                review_days: int) -> tuple[dict[str, str], dict[str, str], str]:
    """(safeguards met -> how, safeguards not met -> why, the mechanism on file)."""
    have: dict[str, str] = {}
    lack: dict[str, str] = {}
    scc_from = law.scc.effective_from if law else dt.date.min
    if r.bcr_approved is not None and law is not None and law.bcr is not None and r.bcr_approved <= on:
        have["scc"], mechanism = f"binding corporate rules approved {r.bcr_approved}", "bcr"
    elif r.scc_module is not None and (r.scc_signed is None or r.scc_signed <= on) and on >= scc_from:
        have["scc"], mechanism = f"standard contractual clauses, module {r.scc_module}", "scc"
    else:
        mechanism = "none"
        if r.scc_module is not None and on < scc_from:
            lack["scc"] = f"the 2021 standard contractual clauses apply from {scc_from}"
        elif r.scc_module is not None:
            lack["scc"] = f"the standard contractual clauses were signed on {r.scc_signed}, after {on}"
        elif r.bcr_approved is not None and r.bcr_approved > on:
            lack["scc"] = f"the binding corporate rules were approved on {r.bcr_approved}, after {on}"
        else:
            lack["scc"] = "no standard contractual clauses or binding corporate rules on file"
    t = r.tia_date
    if t is None:
        lack["tia"] = "no transfer impact assessment on file"
    elif t > on:
        lack["tia"] = f"the transfer impact assessment of {t} is dated after {on}: it does not cover the transfer"
    elif children and (on - t).days > review_days:
        lack["tia"] = (f"the transfer impact assessment of {t} is {(on - t).days} days old on {on}, more than the "
                       f"{review_days} days allowed for children's data: review it")
        lack["tia_review"] = lack["tia"]
    else:
        have["tia"] = f"transfer impact assessment of {t}"
    return have, lack, mechanism


class _Make:
    """Results for one (recipient, jurisdiction, day, children) question."""

    def __init__(self, recipient: Recipient, jurisdiction: str | None, on: dt.date, children: bool):
        self.r, self.j, self.on, self.children = recipient, jurisdiction, on, children

    def __call__(self, effect: Effect, regime: str | None, dest: DestClass, mechanism: str, reasons: tuple[str, ...],
                 missing: tuple[str, ...] = (), rules: tuple[str, ...] = (),
                 citations: tuple[dict[str, Any], ...] = ()) -> TransferCheck:
        return TransferCheck(effect, self.r, self.j, regime, self.on, dest, mechanism, self.children, reasons,
                             missing, rules, citations)


def check_under(book: Rulebook, regime: Regime | None, recipient: Recipient, on: dt.date, children: bool,
                jurisdiction: str | None = None, extra_rules: tuple[Rule, ...] = (),
                review_days: int | None = None, law: GateLaw | None = None) -> TransferCheck:
    """The gate under one transfer regime (None: the jurisdiction has none)."""
    gl = law or gate_law()
    days = review_days or gl.tia_review_days
    make = _Make(recipient, jurisdiction, on, children)
    if regime is None or regime.transfers is None:
        return make("allow", None, "none", "not_regulated",
                    (f"the rulebook has no cross-border transfer regime for `{jurisdiction}`",))
    rl = gl.regimes.get(regime.code)
    remote = (cite(rl.remote_access),) if rl and rl.remote_access and recipient.kind == "remote_staff" else ()
    if recipient.country in regime.transfers.area:
        return make("allow", regime.code, "none", "free_flow",
                    (f"`{recipient.country}` is inside the {regime.code} area: no transfer",),
                    citations=(cite(rl.chapter_v),) if rl else ())
    # the decision engine's reading of the destination (tutela.policy.facts), for a jurisdiction of the regime
    code = jurisdiction or next((c for c in sorted(book.jurisdictions)
                                 if (t := book.transfer_regime(c)) is not None and t.code == regime.code), None)
    dest: DestClass = destination_class(book, code, recipient.country, on, recipient.dpf_certified) if code else (
        "adequate" if book.adequacy(regime, recipient.country, on, recipient.dpf_certified) else "non_adequate")
    rules = _restricting([*regime.rules, *extra_rules], dest, POLICY_RECIPIENT[recipient.kind], on)
    if not rules:
        return _allowed_without_safeguards(make, regime, recipient, on, dest, rl, remote)
    have, lack, mechanism = _safeguards(recipient, on, rl, children, days)
    determining: list[str] = []
    missing: list[str] = []
    reasons: list[str] = []
    for r in rules:
        needs = r.unless.safeguards if r.unless is not None else ()
        short = [s for s in needs if s not in have]
        if short or not needs:
            determining.append(r.id)
            missing += [s for s in short if s not in missing]
            reasons += [f"{r.id}: {lack[s]}" for s in short]
            if not needs:
                reasons.append(f"{r.id}: no safeguard lifts it")
    if "tia" in missing and "tia_review" in lack:
        missing.append("tia_review")
    cites = [cite(r.citation, r.effective_from) for r in rules]
    if rl:
        cites += [cite(rl.bcr if mechanism == "bcr" and rl.bcr else rl.scc), cite(rl.tia)]
    if determining:
        return make("deny", regime.code, dest, mechanism, tuple(reasons), tuple(missing), tuple(determining),
                    (*cites, *remote))
    how = "; ".join(have.values())
    return make("allow", regime.code, dest, mechanism, (f"{', '.join(r.id for r in rules)} lifted by {how}",),
                rules=tuple(r.id for r in rules), citations=(*cites, *remote))


def _allowed_without_safeguards(make: _Make, regime: Regime, r: Recipient, on: dt.date, dest: DestClass,
                                rl: RegimeLaw | None, remote: tuple[dict[str, Any], ...]) -> TransferCheck:
    assert regime.transfers is not None
    entry = next((a for a in regime.transfers.adequacy if a.country == r.country and a.adequate(on, r.dpf_certified)),
                 None)
    if entry is None:  # a destination no rule of the rulebook restricts
        return make("allow", regime.code, dest, "none",
                    (f"no rule of {regime.code} restricts transfers to `{r.country}` on {on}",), citations=remote)
    cites = [cite(entry.citation, entry.effective_from)]
    if rl:
        cites.append(cite(rl.adequacy))
        if entry.certified_only and rl.dpf:
            cites.append(cite(rl.dpf))
    until = f" until {entry.effective_to}" if entry.effective_to else ""
    what = "the Data Privacy Framework (certified recipient)" if entry.certified_only else "an adequacy decision"
    return make("allow", regime.code, dest, "dpf" if entry.certified_only else "adequacy",
                (f"`{r.country}` is covered by {what} in force since {entry.effective_from}{until}",),
                citations=(*cites, *remote))


def check(book: Rulebook, registry: Registry, recipient: str, who: Subject | Dataset, on: dt.date,
          where: str = "recipient") -> TransferCheck | DatasetCheck:
    """The gate for a subject or a dataset; an unknown recipient or jurisdiction is an input error."""
    r = registry.get(recipient, where)
    if isinstance(who, Dataset):
        checks = tuple(_one(book, registry, r, Subject(j), on, children=who.children,
                            where=f"dataset.jurisdictions[{i}]") for i, j in enumerate(who.jurisdictions))
        return DatasetCheck("deny" if any(not c.allowed for c in checks) else "allow", who.name, checks)
    return _one(book, registry, r, who, on)


def _one(book: Rulebook, registry: Registry, r: Recipient, s: Subject, on: dt.date, children: bool | None = None,
         where: str = "subject.jurisdiction") -> TransferCheck:
    jur = book.jurisdiction(s.jurisdiction, where=where)
    child = children if children is not None else (s.age is None or s.age < jur.majority_age)
    own = tuple(rule for rule in jur.rules if rule.when.destination != "any")
    return check_under(book, book.transfer_regime(jur.code), r, on, child, jurisdiction=jur.code,
                       extra_rules=own, review_days=registry.tia_review_days)
