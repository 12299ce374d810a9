"""Properties of stored grants in decisions (Hypothesis): for any grants made and revoked through
the desk, a decision on the subject's id equals the decision on the live grants written out by
hand, and every revoked scope's act is decided as if it had never been granted."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtp_sink import smtp_sink
from test_consent import Clock
from tutela.consent import ConsentDesk, SmtpMailer
from tutela.engine import Engine
from tutela.store import StateStore

SCOPES = ["precise_location", "personalised_feed", "targeted_ads", "public_profile"]
ACTS = [{"category": "user.location.precise", "use": "functional"},
        {"category": "user.behavior.media_consumption", "use": "personalize.content.profiled"},
        {"category": "user.behavior", "use": "marketing.advertising.first_party.contextual"},
        {"category": "user.content.public", "use": "publish.public"}]
RULEBOOK_SCOPES = {"account": ["collection", "processing"], "precise_location": ["location"],
                   "personalised_feed": ["personalization", "profiling"], "targeted_ads": ["marketing", "sale_sharing"],
                   "public_profile": ["publish"]}
_n = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(granted=st.sets(st.sampled_from(SCOPES)), revoked=st.sets(st.sampled_from(SCOPES)),
       age=st.sampled_from([9, 12, 15]), code=st.sampled_from(["NL", "IT", "US"]))
def test_stored_grants_decide_like_the_same_grants_by_hand(tmp_path: Path, granted: set[str], revoked: set[str],
                                                           age: int, code: str) -> None:
    eng = Engine()
    with smtp_sink() as sink:
        desk = ConsentDesk(eng.rulebook, StateStore(f"sqlite:///{tmp_path / f'p{next(_n)}.db'}"),
                           mailer=SmtpMailer(sink.host, sink.port), clock=Clock())
        eng.consent = desk
        subject = f"s-{next(_n)}"
        up = desk.sign_up(subject, code, age, parent_email="p@example.org", scopes=sorted(granted))
        if up["request"] is not None:
            desk.confirm(sink.token("p@example.org"))
        for scope in sorted(revoked & granted):
            if any(g.scope == scope for g in desk.grants(subject, include_history=False)):
                desk.revoke(subject, by="staff:test", scope=scope)
        live = [g.scope for g in desk.grants(subject, include_history=False)]
        by_hand = [{"scopes": RULEBOOK_SCOPES[s], "by": "parent", "assurance": "verified"} for s in live
                   if s in RULEBOOK_SCOPES]
        day = (desk.clock() + dt.timedelta(days=1)).date().isoformat()
        for act in ACTS:
            dated = {**act, "at": day}
            stored = eng.decide({"subject": {"id": subject, "jurisdiction": code, "age": age}, "act": dated})
            hand = eng.decide({"subject": {"jurisdiction": code, "age": age, "grants": by_hand}, "act": dated})
            assert (stored.effect, stored.rule_ids(), stored.missing) == (hand.effect, hand.rule_ids(), hand.missing)
        desk.close()
