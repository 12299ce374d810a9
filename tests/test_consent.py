"""Verifiable parental consent with the real decision engine, the packaged rulebook, a real SMTP
server (aiosmtpd on loopback) and Tutela's state store on SQLite and PostgreSQL (MariaDB too for
the main flow)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from estate_fixture import server_database
from smtp_sink import Sink, free_port, self_signed, smtp_sink
from tutela.consent import ConsentDesk, ConsentRefused, SmtpMailer, check, load_consent, sign
from tutela.consent import tables as t
from tutela.engine import Engine
from tutela.errors import InputError, StoreUnavailable
from tutela.store import StateStore

PARENT = "parent@example.org"
LOCATION = {"category": "user.location.precise", "use": "functional"}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 3, 12, 0)

    def __call__(self) -> dt.datetime:
        return self.now


def _url(kind: str, tmp_path: Path) -> AbstractContextManager[str]:
    return nullcontext(f"sqlite:///{tmp_path / 'state.db'}") if kind == "sqlite" else server_database(kind)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as s:
        yield s


def make(url: str, sink: Sink, clock: Clock | None = None) -> tuple[Engine, ConsentDesk]:
    eng = Engine()  # warm start: cheap; its own desk, so the session's engine is left alone
    desk = ConsentDesk(eng.rulebook, StateStore(url), mailer=SmtpMailer(sink.host, sink.port), clock=clock or Clock())
    eng.consent = desk
    return eng, desk


def decide(eng: Engine, subject: str, act: dict[str, Any], code: str = "NL", age: int = 12) -> str:
    return eng.decide({"subject": {"id": subject, "jurisdiction": code, "age": age}, "act": act}).effect


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_a_grant_flips_the_decision_and_a_revocation_flips_it_back(tmp_path: Path, sink: Sink, kind: str) -> None:
    with _url(kind, tmp_path) as url:
        eng, desk = make(url, sink)
        up = desk.sign_up("child-1", "NL", 12, parent_email=PARENT, scopes=["precise_location"])
        assert up["mode"] == "data_lite" and up["consent_age"] == 16
        assert up["settings"]["location"] == "off" and up["settings"]["profile_visibility"] == "private"
        assert decide(eng, "child-1", LOCATION) == "deny"
        token = sink.token(PARENT)
        assert token not in str(desk.request(up["request"]["request_id"]))  # only its hash is stored
        done = desk.confirm(token)
        assert done["status"] == "granted" and done["granted"] == ["account", "precise_location"]
        assert "revoke" in sink.bodies(PARENT)[-1]  # the "plus": a confirmation saying how to revoke
        assert desk.account("child-1")["mode"] == "full"
        assert decide(eng, "child-1", LOCATION) != "deny"
        [grant] = [g for g in desk.grants("child-1") if g.scope == "precise_location"]
        assert (grant.method, grant.assurance, grant.notice_version, grant.by) == ("email_plus", "verified", "1",
                                                                                    "parent")
        desk.revoke("child-1", by=f"guardian:{grant.guardian_id}", scope="precise_location")
        assert decide(eng, "child-1", LOCATION) == "deny"
        assert [g.state(desk.clock()) for g in desk.grants("child-1") if g.scope == "precise_location"] == ["revoked"]
        # the reference evaluator reads the same stored grants
        ref = eng.decide({"subject": {"id": "child-1", "jurisdiction": "NL", "age": 12}, "act": LOCATION},
                         reference=True)
        assert ref.effect == "deny"
        desk.close()


def test_links_are_single_use_and_expire(tmp_path: Path, sink: Sink) -> None:
    clock = Clock()
    _, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink, clock)
    desk.sign_up("c1", "NL", 12, parent_email=PARENT)
    token = sink.token(PARENT)
    with pytest.raises(InputError, match="unknown, used or expired"):
        desk.confirm(token[:-1] + ("A" if token[-1] != "A" else "B"))
    desk.confirm(token)
    with pytest.raises(InputError, match="unknown, used or expired"):
        desk.confirm(token)
    desk.sign_up("c2", "NL", 12, parent_email="other@example.org")
    late = sink.token("other@example.org")
    clock.now += dt.timedelta(hours=49)
    with pytest.raises(InputError, match="unknown, used or expired"):
        desk.confirm(late)
    assert desk.grants("c2") == []


def test_email_plus_cannot_grant_third_party_disclosure_but_a_card_check_can(tmp_path: Path, sink: Sink) -> None:
    eng, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink)
    up = desk.sign_up("kid", "US", 11, parent_email=PARENT, scopes=["third_party_disclosure"])
    ads = {"category": "user.behavior", "use": "marketing.advertising", "recipient": "third_party",
           "at": "2026-12-04"}
    done = desk.confirm(sink.token(PARENT))
    assert done["granted"] == ["account"]
    assert [r["scope"] for r in done["refused"]] == ["third_party_disclosure"]
    assert done["refused"][0]["limit"] == "email_plus.no-disclosure"
    assert decide(eng, "kid", ads, "US", 11) == "deny"
    # a new request to the same parent, for the separate disclosure consent, verified by a card check
    again = desk.ask("kid", ["third_party_disclosure"])
    assert up["request"]["guardian_id"] == again["guardian_id"] and len(sink.bodies(PARENT)) == 3
    res = desk.record_result(again["request_id"], "card", "passed", reported_by="payments-co", channel="provider",
                             reference="tx-42")
    assert res["granted"] == ["third_party_disclosure"]
    assert decide(eng, "kid", ads, "US", 11) != "deny"


def test_a_notice_change_marks_the_affected_grants_for_renewal(tmp_path: Path, sink: Sink) -> None:
    eng, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink)
    desk.sign_up("c", "NL", 12, parent_email=PARENT, scopes=["precise_location", "public_profile"])
    desk.confirm(sink.token(PARENT))
    assert decide(eng, "c", LOCATION) != "deny"
    assert desk.publish_notice("2", ["precise_location"]) == 1
    states = {g.scope: g.state(desk.clock()) for g in desk.grants("c")}
    assert states == {"account": "active", "precise_location": "needs_renewal", "public_profile": "active"}
    assert decide(eng, "c", LOCATION) == "deny"
    with pytest.raises(InputError, match="exists already"):
        desk.publish_notice("2", [])
    # renewal: the guardian is asked again under notice 2 and consents; the new grant counts
    again = desk.ask("c", ["precise_location"])
    assert again["guardian_id"] == desk.grants("c")[0].guardian_id
    desk.confirm(sink.token(PARENT))
    live = [g for g in desk.grants("c", include_history=False) if g.scope == "precise_location"]
    assert [g.notice_version for g in live] == ["2"]
    assert decide(eng, "c", LOCATION) != "deny"


def test_an_unverified_adult_cannot_loosen_a_childs_settings(tmp_path: Path, sink: Sink) -> None:
    _, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink)
    desk.sign_up("c", "NL", 12, parent_email=PARENT, scopes=["precise_location"])
    stranger = desk.link_guardian("c", "someone@example.net")
    with pytest.raises(ConsentRefused, match="waits for a parent"):  # data-lite: nothing can be loosened
        desk.change_setting("c", "location", "precise", f"guardian:{stranger}")
    desk.confirm(sink.token(PARENT))
    parent = next(g["guardian_id"] for g in desk.account("c")["guardians"] if g["verified"])
    for actor in (f"guardian:{stranger}", "self", "guardian:not-linked"):
        with pytest.raises(ConsentRefused):
            desk.change_setting("c", "location", "precise", actor)
    assert desk.account("c")["settings"]["location"] == "off"
    with pytest.raises(ConsentRefused, match="public_profile"):  # the right person, but no grant for it
        desk.change_setting("c", "profile_visibility", "public", f"guardian:{parent}")
    assert desk.change_setting("c", "location", "precise", f"guardian:{parent}")["settings"]["location"] == "precise"
    desk.change_setting("c", "messages_from", "nobody", f"guardian:{stranger}")  # raising privacy: fine
    desk.revoke("c", by="staff:alice", scope="precise_location")
    assert desk.account("c")["settings"]["location"] == "off"  # back to the default with the grant gone


def test_brazil_links_a_guardian_to_accounts_under_16(tmp_path: Path, sink: Sink) -> None:
    _, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink)
    d = desk.defaults("BR", 14)
    assert d["consent_age"] == 12 and d["guardian_link_required"]
    assert "BR.eca-digital.guardian-link" in {c["id"] for c in d["citations"]}
    with pytest.raises(InputError, match="parent's email"):
        desk.sign_up("teen", "BR", 14)
    up = desk.sign_up("teen", "BR", 14, parent_email=PARENT)
    assert up["mode"] == "data_lite" and up["request"] is not None
    assert not desk.defaults("BR", 16)["guardian_link_required"]
    assert desk.defaults("GB", 15)["settings"]["profiling"] == "off"
    assert desk.defaults("GB", 18)["settings"] == {}


def test_an_email_that_cannot_be_sent_leaves_nothing_behind(tmp_path: Path, sink: Sink) -> None:
    eng = Engine()
    desk = ConsentDesk(eng.rulebook, StateStore(f"sqlite:///{tmp_path / 's.db'}"),
                       mailer=SmtpMailer("127.0.0.1", free_port()), clock=Clock())
    with pytest.raises(StoreUnavailable, match="cannot send"):
        desk.sign_up("c", "NL", 12, parent_email=PARENT)
    with desk.state.engine.connect() as c:
        for table in (t.accounts, t.requests, t.guardians, t.links):
            assert c.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


def test_contact_details_of_unanswered_requests_are_erased(tmp_path: Path, sink: Sink) -> None:
    clock = Clock()
    _, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink, clock)
    desk.sign_up("c", "NL", 12, parent_email=PARENT)
    assert desk.purge() == 0
    clock.now += dt.timedelta(days=17)
    assert desk.purge() == 1
    with desk.state.engine.connect() as c:
        assert c.execute(sa.select(t.guardians.c.email)).scalar() is None


def test_the_consent_data_checks(tmp_path: Path, engine: Engine) -> None:
    assert engine.check_data() == []
    book = load_consent()
    assert {m.id for m in book.methods} == {"email_plus", "text_plus", "signed_form", "card", "government_id",
                                            "face_match"}
    assert set(book.method("email_plus").excluded()) == {"third_party_disclosure", "targeted_ads"}  # enforced only
    bad = tmp_path / "consent.yaml"
    text = (Path(__file__).parents[1] / "src/tutela/data/consent.yaml").read_text()
    bad.write_text(text.replace("rulebook: [location]", "rulebook: [geolocation]"))
    assert [p.message for p in check(bad, rulebook_scopes=engine.rulebook.scopes)] == [
        "`geolocation` is no consent scope of the rulebook"]
    bad.write_text(text.replace("assurance: verified\n    channel: staff", "assurance: sure\n    channel: staff"))
    [problem] = check(bad)
    assert "methods[2] (signed_form).assurance" in problem.where


def test_a_parents_grant_expires_when_the_child_may_consent_and_limits_hold_in_the_policy(
        tmp_path: Path, sink: Sink) -> None:
    _, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink)
    desk.sign_up("c", "NL", 12, parent_email=PARENT, scopes=["precise_location"])
    desk.confirm(sink.token(PARENT))
    [loc] = [g for g in desk.grants("c") if g.scope == "precise_location"]
    # 12 on 2026-12-03: born on 2014-12-03 at the latest, so surely 16 on 2030-12-03
    assert loc.expires_at == dt.datetime(2030, 12, 3)
    assert loc.state(dt.datetime(2030, 12, 2, 23, 59)) == "active"
    assert loc.state(dt.datetime(2030, 12, 3)) == "expired"
    # a grant a method's limits exclude never reaches a decision, even if a record of it exists
    forged = dataclasses.replace(loc, scope="third_party_disclosure")
    assert forged.to_policy(desk.book) is None
    assert loc.to_policy(desk.book) is not None


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_confirmations_of_one_link_grant_once(tmp_path: Path, sink: Sink, kind: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with _url(kind, tmp_path) as url:
        _, desk = make(url, sink)
        desk.sign_up("c", "NL", 12, parent_email=PARENT)
        token = sink.token(PARENT)
        results: list[str] = []

        def attempt() -> None:
            try:
                desk.confirm(token)
                results.append("granted")
            except InputError:
                results.append("refused")

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(results) == ["granted", "refused", "refused", "refused"]
        assert [g.scope for g in desk.grants("c")] == ["account"]
        # a provider's event: one that fails to record is not remembered; one that records is, once
        monkeypatch.setenv("TUTELA_CONSENT_WEBHOOK_SECRET", "s" * 20)
        rid = desk.ask("c", ["precise_location"])["request_id"]

        def deliver(request_id: str) -> dict[str, Any]:
            body = json.dumps({"event_id": "evt-12345678", "request_id": request_id, "method": "card",
                               "outcome": "passed"}).encode()
            ts = int(desk.clock().replace(tzinfo=dt.UTC).timestamp())
            return desk.webhook("payco", body, str(ts), sign(body, ts, b"s" * 20))

        with pytest.raises(InputError, match="no consent request"):
            deliver("0" * 32)
        assert deliver(rid)["granted"] == ["precise_location"]
        with pytest.raises(InputError, match="replay"):
            deliver(rid)
        desk.close()


def test_a_method_counts_only_where_a_cited_basis_accepts_it(tmp_path: Path, sink: Sink) -> None:
    _, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink)
    assert desk.methods_for("KR") == ["email_plus", "text_plus", "signed_form", "card"]
    assert set(desk.methods_for("NL")) == set(desk.methods_for("US")) == {
        "email_plus", "text_plus", "signed_form", "card", "government_id", "face_match"}
    assert desk.methods_for("IN") == []  # no cited method: consent cannot be completed, and says so
    up = desk.sign_up("kr-kid", "KR", 10, parent_email=PARENT)
    assert up["request"]["methods"] == desk.methods_for("KR")
    with pytest.raises(ConsentRefused, match="does not count in `KR`"):
        desk.confirm(sink.token(PARENT), method="face_match")
    done = desk.record_result(up["request"]["request_id"], "card", "passed", reported_by="pay", channel="provider")
    assert done["basis"] == "KR-PIPA.decree-17-2"
    india = desk.sign_up("in-kid", "IN", 15, parent_email="in@example.org")
    with pytest.raises(ConsentRefused, match="no cited basis"):
        desk.record_result(india["request"]["request_id"], "signed_form", "passed", reported_by="alice",
                           channel="staff", reference="f-1")


def test_a_teen_switching_location_on_is_her_own_consent(tmp_path: Path, sink: Sink) -> None:
    """GB, 14 (above the UK age of 13): location off by default, denied until she switches it on
    (AADC standard 10), then allowed with the indicator obligations; switched off, denied again."""
    eng, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink)
    up = desk.sign_up("gb-teen", "GB", 14)
    assert up["mode"] == "full" and up["request"] is None and up["settings"]["location"] == "off"
    assert decide(eng, "gb-teen", LOCATION, "GB", 14) == "deny"
    desk.change_setting("gb-teen", "location", "precise", "self")
    d = eng.decide({"subject": {"id": "gb-teen", "jurisdiction": "GB", "age": 14}, "act": LOCATION})
    assert d.effect == "allow_with_obligations" and "location_indicator" in d.obligations
    [g] = desk.grants("gb-teen")
    assert (g.scope, g.by, g.method, g.assurance) == ("precise_location", "self", "self", "declared")
    desk.change_setting("gb-teen", "location", "off", "self")
    assert decide(eng, "gb-teen", LOCATION, "GB", 14) == "deny"


def test_france_asks_for_the_child_and_the_parent_below_15(tmp_path: Path, sink: Sink) -> None:
    eng, desk = make(f"sqlite:///{tmp_path / 's.db'}", sink)
    desk.sign_up("fr", "FR", 13, parent_email=PARENT, scopes=["precise_location"])
    desk.confirm(sink.token(PARENT))
    assert decide(eng, "fr", LOCATION, "FR", 13) == "deny"  # the parent alone is not enough in FR
    desk.grant_self("fr", ["precise_location"])
    assert decide(eng, "fr", LOCATION, "FR", 13) != "deny"
    assert sorted(g.by for g in desk.grants("fr", include_history=False) if g.scope == "precise_location") == [
        "parent", "self"]
    desk.sign_up("nl", "NL", 12, parent_email="nl@example.org")
    with pytest.raises(ConsentRefused, match="a parent consents"):  # elsewhere below the age, only the parent
        desk.grant_self("nl", ["precise_location"])


def test_links_go_over_starttls_with_a_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed(tmp_path)
    with smtp_sink(tls=(cert, key), login=("tutela", "mail-password-1234")) as sink:
        monkeypatch.setenv("TUTELA_SMTP_HOST", sink.host)
        monkeypatch.setenv("TUTELA_SMTP_PORT", str(sink.port))
        monkeypatch.setenv("TUTELA_SMTP_USER", "tutela")
        monkeypatch.setenv("TUTELA_SMTP_PASSWORD", "wrong-password")
        monkeypatch.setenv("TUTELA_SMTP_CAFILE", str(cert))
        desk = ConsentDesk(Engine().rulebook, StateStore(f"sqlite:///{tmp_path / 's.db'}"), clock=Clock())
        with pytest.raises(StoreUnavailable, match="cannot send"):  # a wrong password: refused, nothing sent
            desk.sign_up("c", "NL", 12, parent_email=PARENT)
        assert sink.messages == []
        monkeypatch.setenv("TUTELA_SMTP_PASSWORD", "mail-password-1234")
        monkeypatch.delenv("TUTELA_SMTP_CAFILE")
        with pytest.raises(StoreUnavailable, match="SSLCertVerificationError"):  # an unknown CA is refused
            desk.sign_up("c", "NL", 12, parent_email=PARENT)
        monkeypatch.setenv("TUTELA_SMTP_CAFILE", str(cert))
        desk.sign_up("c", "NL", 12, parent_email=PARENT)
        assert sink.token(PARENT)
