"""Differential testing on random rulebooks (as cedar-spec's DRT): the compiled engine against
the stand-alone reference, on rulebooks and requests both drawn by Hypothesis.

The packaged rulebook leaves parts of the semantics unused (no rule names
`except_categories` or a `third_country` destination), so a compiled engine wrong there
passes `test_differential.py`. Here each example compiles a fresh random rulebook
(`rulebook_strategies.py`) and compares, per random request, the full decision (effect,
obligations, determining rules, missing, lawful_possible, age, destination class) or the
error (class, field, message, hint); and the Arrow batch path row by row.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulebook_strategies import CITE, DAYS, REQUEST_CATS, REQUEST_COUNTRIES, SCOPES, TAX, TODAY, requests, rulebooks
from tutela.errors import InputError, RulebookError
from tutela.policy import reference
from tutela.policy.batch import decide_table, grants_text
from tutela.policy.compiled import CompiledPolicy
from tutela.policy.facts import derive
from tutela.policy.model import Act, Decision, DecisionRequest, Subject
from tutela.rulebook import Rulebook, load_rulebook
from tutela.rulebook.models import Adequacy, Condition, DigitalConsent, Jurisdiction, Regime, Rule, Transfers

Outcome = Decision | tuple[str, str | None, str, str | None]
RANDOM = settings(max_examples=int(os.environ.get("RANDOM_RULEBOOK_EXAMPLES", "200")), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(decide: Callable[[], Decision]) -> Outcome:
    try:
        return decide()
    except InputError as exc:
        return type(exc).__name__, exc.where, exc.message, exc.hint


def compiled_outcome(policy: CompiledPolicy, req: DecisionRequest) -> Outcome:
    return outcome(lambda: policy.decide(derive(policy.book, TAX, req, TODAY)))


def reference_outcome(book: Rulebook, req: DecisionRequest) -> Outcome:
    return outcome(lambda: reference.decide(book, TAX, req, TODAY))


def describe(book: Rulebook, req: DecisionRequest) -> str:
    """The jurisdiction's rulebook in force and the request, for a failure message."""
    lines = [f"request: {req.model_dump(exclude_defaults=True)}"]
    jur = book.jurisdictions.get(req.subject.jurisdiction)
    if jur is not None:
        lines.append(f"{jur.code}: inherits {jur.inherits}, digital consent "
                     f"{[d.model_dump(exclude={'citation'}) for d in jur.digital_consent]}")
        for name in jur.inherits:
            tr = book.regimes[name].transfers
            shown = tr.model_dump(exclude_defaults=True, exclude={"adequacy": {"__all__": {"citation"}}}) if tr else ""
            lines.append(f"{name} transfers: {shown}")
        for name, rs in [(n, book.regimes[n].rules) for n in jur.inherits] + [(jur.code, jur.rules)]:
            for r in rs:
                lines.append(f"  {name} {r.model_dump(exclude={'citation', 'title'}, exclude_defaults=True)}")
    return "\n".join(lines)


def _grant_text(req: DecisionRequest, day: dt.date) -> str | None:
    """The batch's `grants` column: the grants valid on the day, as tokens."""
    return grants_text(req.subject.grants, day)


def batch_table(reqs: list[DecisionRequest], ages: list[int] | None) -> pa.Table:
    days = [r.act.at or TODAY for r in reqs]
    cols = {
        "jurisdiction": [r.subject.jurisdiction for r in reqs], "at": pa.array(days, type=pa.date32()),
        "category": [r.act.category for r in reqs], "use": [r.act.use for r in reqs],
        "recipient": [r.act.recipient for r in reqs],
        "destination": pa.array([r.act.destination for r in reqs], type=pa.string()),
        "recipient_certified": [r.act.recipient_certified for r in reqs],
        "scc": ["scc" in r.act.safeguards for r in reqs], "tia": ["tia" in r.act.safeguards for r in reqs],
        "grants": pa.array([_grant_text(r, d) for r, d in zip(reqs, days, strict=True)], type=pa.string()),
    }
    if ages is None:
        cols["birth_date"] = pa.array([r.subject.birth_date for r in reqs], type=pa.date32())
    else:
        cols["age"] = pa.array(ages, type=pa.int64())
    return pa.table(cols)


def check_batch(policy: CompiledPolicy, decided: list[tuple[DecisionRequest, Decision]]) -> int:
    """The Arrow batch path on the requests that decided, against the reference's decisions."""
    born = [(r, d) for r, d in decided if r.subject.birth_date is not None]
    aged = [(r, d) for r, d in decided if r.subject.birth_date is None]
    checked = 0
    for group, ages in ((born, None), (aged, [d.age for _, d in aged])):
        if not group:
            continue
        result = decide_table(policy, batch_table([r for r, _ in group], ages))
        effects = result.effects()
        for i, (req, want) in enumerate(group):
            if effects[i] != want.effect or result.verdict(i) != want.verdict():
                raise AssertionError(f"batch row {i}: effect {effects[i]}, {result.verdict(i)}\n"
                                     f"{describe(policy.book, req)}\nreference: {want}")
            checked += 1
    return checked


def neighbours(req: DecisionRequest) -> list[DecisionRequest]:
    """The request, and the same act to every destination (certified or not) and of every category."""
    act = req.act
    out = [req]
    out += [req.model_copy(update={"act": act.model_copy(update={"destination": d, "recipient_certified": c})})
            for d in (None, *REQUEST_COUNTRIES) for c in (False, True)]
    out += [req.model_copy(update={"act": act.model_copy(update={"category": k})}) for k in REQUEST_CATS]
    return out


@RANDOM
@given(data=st.data(), book=rulebooks())
def test_random_rulebooks_compiled_agrees_with_reference(book: Rulebook, data: st.DataObject) -> None:
    policy = CompiledPolicy(book, TAX)
    n = data.draw(st.integers(1, 30), label="number of requests")
    reqs = [data.draw(requests(book), label=f"request {i}") for i in range(n)]
    decided = []
    for req in (v for r in reqs for v in neighbours(r)):
        want, got = reference_outcome(book, req), compiled_outcome(policy, req)
        assert got == want, f"{describe(book, req)}\nreference: {want}\ncompiled:  {got}"
        if isinstance(want, Decision):
            decided.append((req, want))
    assert check_batch(policy, decided) == len(decided)


# -- disagreements the random rulebooks found, as named regressions ----------------------------

def _one_jurisdiction(rules: tuple[Rule, ...], transfers: Transfers | None) -> Rulebook:
    reg = Regime(code="RG-ONE", name="RG-ONE", rules=rules, transfers=transfers)
    jur = Jurisdiction(code="AA", name="AA", inherits=("RG-ONE",), digital_consent=(
        DigitalConsent(id="AA-DC.art8-0", age=13, effective_from=DAYS[0], citation=CITE),))
    return Rulebook(regimes={"RG-ONE": reg}, jurisdictions={"AA": jur}, scopes=SCOPES, version="regression")


def test_regression_a_country_of_the_area_with_an_adequacy_entry_is_inside_the_area() -> None:
    """Found by the random rulebooks: FR in a regime's area and also in its adequacy list. The
    batch path's destination table let the adequacy entry overwrite the area (class `adequate`),
    so a `third_country` rule applied to a transfer to FR in a batch but not in one request.
    Inside the area data moves freely (README: destination class `none`); the batch now agrees."""
    permit = Rule(id="RG-ONE.r0", title="t", effect="permit", citation=CITE, effective_from=DAYS[0])
    ban = Rule(id="RG-ONE.r1", title="t", effect="forbid", citation=CITE, effective_from=DAYS[0],
               when=Condition(destination="third_country"))
    book = _one_jurisdiction((permit, ban), Transfers(
        area=("FR",), adequacy=(Adequacy(country="FR", effective_from=DAYS[0], citation=CITE),)))
    policy = CompiledPolicy(book, TAX)
    req = DecisionRequest(subject=Subject(jurisdiction="AA", age=20),
                          act=Act(category="user", use="essential", destination="FR", at=dt.date(2024, 1, 1)))
    want = reference_outcome(book, req)
    assert isinstance(want, Decision)
    assert (want.effect, want.destination_class, want.rule_ids()) == ("allow", "none", ("RG-ONE.r0",))
    assert compiled_outcome(policy, req) == want
    assert check_batch(policy, [(req, want)]) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=rulebooks())
def test_random_rulebooks_are_rulebooks_the_loader_accepts(book: Rulebook) -> None:
    """What the strategy draws, written as YAML files, loads back unchanged (so it is valid)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "regimes").mkdir()
        (root / "jurisdictions").mkdir()
        (root / "scopes.yaml").write_text(yaml.safe_dump({"scopes": dict(book.scopes)}))
        for folder, items in (("regimes", book.regimes), ("jurisdictions", book.jurisdictions)):
            for code, model in items.items():
                text = yaml.safe_dump(model.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
                (root / folder / f"{code}.yaml").write_text(text)
        loaded = load_rulebook(root)
    assert dict(loaded.regimes) == dict(book.regimes)
    assert dict(loaded.jurisdictions) == dict(book.jurisdictions)


def test_a_jurisdiction_beyond_the_compiled_limit_is_a_rulebook_error_not_a_traceback() -> None:
    """The reference has no limit; the compiled engine numbers at most 63 rules per
    jurisdiction. Past that it says so as a RulebookError naming the jurisdiction."""
    rules = tuple(Rule(id=f"RG-ONE.r{i}", title="t", effect="permit", citation=CITE, effective_from=DAYS[0])
                  for i in range(64))
    book = _one_jurisdiction(rules, None)
    req = DecisionRequest(subject=Subject(jurisdiction="AA", age=20), act=Act(category="user", use="essential"))
    want = reference_outcome(book, req)
    assert isinstance(want, Decision) and want.effect == "allow" and len(want.determining) == 64
    with pytest.raises(RulebookError) as err:
        CompiledPolicy(book, TAX)
    assert err.value.where == "jurisdictions/AA.yaml"
    assert "at most 63" in err.value.message
