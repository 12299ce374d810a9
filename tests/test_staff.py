"""Staff accounts, sessions, roles and four-eyes, through the library (tutela.staff, the rights
desk, the remediator) on a real SQLite state store and a generated ClipStream estate."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from console_fixture import AS_OF, PASSWORD, ConsoleEstate, console_estate
from tutela.engine import Engine
from tutela.errors import InputError, NotAllowed
from tutela.staff import ACTIONS, ROLES, Accounts, may
from tutela.staff.roles import require
from tutela.staff.sessions import Sessions, digest
from tutela.staff.tables import staff_accounts, staff_sessions
from tutela.store.state import StateStore


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleEstate]:
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    with console_estate(tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state_url)
        yield e


def test_passwords_are_argon2id_hashes_and_checked(state: StateStore) -> None:
    accounts = Accounts(state)
    accounts.add("alice", "dpo", PASSWORD)
    with state.engine.connect() as c:
        stored = c.execute(sa.select(staff_accounts.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.check("alice", PASSWORD) == accounts.get("alice")
    assert accounts.check("alice", PASSWORD + "x") is None
    assert accounts.check("nobody", PASSWORD) is None
    accounts.disable("alice")
    assert accounts.check("alice", PASSWORD) is None and accounts.get("alice") is None


def test_bad_accounts_are_refused_naming_the_field(state: StateStore) -> None:
    accounts = Accounts(state)
    accounts.add("alice", "dpo", PASSWORD)
    cases = [(("alice", "dpo", PASSWORD), "exists already", "--name"),
             (("bob", "admin", PASSWORD), "unknown role `admin`", "--role"),
             (("bob", "dpo", "short"), "at least 12", "password"),
             (("bob bob", "dpo", PASSWORD), "not a staff name", "--name"),
             (("carolcarolca", "dpo", "CarolCarolCa"), "must not be the name", "password")]
    for args, message, where in cases:
        with pytest.raises(InputError, match=message) as err:
            accounts.add(*args)
        assert err.value.where == where
    assert accounts.add("alice", "auditor", PASSWORD + "!", replace=True).role == "auditor"
    assert [a["name"] for a in accounts.list()] == ["alice"]


def test_sessions_are_random_stored_hashed_expire_and_end_at_sign_out(state: StateStore) -> None:
    accounts = Accounts(state)
    alice = accounts.add("alice", "dpo", PASSWORD)
    sessions = Sessions(state, accounts, ttl=dt.timedelta(hours=3))
    sid, other = sessions.open(alice), sessions.open(alice)
    assert sid != other and len(sid) >= 43
    with state.engine.connect() as c:
        stored = {r[0] for r in c.execute(sa.select(staff_sessions.c.id_hash))}
    assert stored == {digest(sid), digest(other)} and sid not in stored
    assert digest(sid) == hashlib.sha256(sid.encode()).hexdigest()
    assert sessions.account(sid) == alice and sessions.account("forged-" + sid) is None
    assert sessions.account(None) is None and sessions.account("x" * 500) is None
    sessions.close(sid)
    assert sessions.account(sid) is None and sessions.account(other) == alice
    with state.tx() as c:  # past its lifetime
        c.execute(staff_sessions.update().values(expires_at=dt.datetime(2000, 1, 1)))
    assert sessions.account(other) is None
    third = sessions.open(alice)  # opening sweeps expired rows
    with state.engine.connect() as c:
        assert [r[0] for r in c.execute(sa.select(staff_sessions.c.id_hash))] == [digest(third)]
    with state.tx() as c:  # idle for longer than a third of the lifetime
        c.execute(staff_sessions.update().values(last_seen=dt.datetime.now(dt.UTC).replace(tzinfo=None)
                                                 - dt.timedelta(hours=1, minutes=1)))
    assert sessions.account(third) is None


EXPECTED = {  # the role matrix as documented in docs/console.md
    "dpo": set(ACTIONS),
    "support": {"read", "requests.create", "requests.decide", "requests.run"},
    "auditor": {"read"},
}


@pytest.mark.parametrize(("role", "action"), list(itertools.product(ROLES, ACTIONS)))
def test_role_matrix(role: str, action: str) -> None:
    assert may(role, action) == (action in EXPECTED[role])
    if action in EXPECTED[role]:
        require("x", role, action)
    else:
        with pytest.raises(NotAllowed, match=f"`x` is {role}; {action} needs"):
            require("x", role, action)


def test_four_eyes_on_rights_requests_in_the_library(estate: ConsoleEstate, engine: Engine) -> None:
    desk = engine.requests(estate.config())
    try:
        made = desk.create({"kind": "access", "subject": "1"}, by="alice")
        with pytest.raises(NotAllowed, match="four-eyes: `alice` created request") as err:
            desk.approve(made["id"], by="alice")
        assert err.value.hint == "another staff member approves it"
        with pytest.raises(NotAllowed):
            desk.approve(made["id"], by="ALICE")  # the same person, whatever the case
        assert desk.show(made["id"])["status"] == "pending_approval"  # nothing was written
        assert desk.approve(made["id"], by="bob")["decided_by"] == "bob"
        assert desk.run(made["id"])["status"] == "done"
        own = desk.create({"kind": "access", "subject": "2"}, by="alice")
        assert desk.reject(own["id"], by="alice", reason="entered twice")["status"] == "rejected"  # may withdraw
    finally:
        desk.close()


def test_four_eyes_on_remediation_jobs_in_the_library(estate: ConsoleEstate, engine: Engine) -> None:
    state = StateStore()
    office = engine.office(estate.config(), state=state, as_of=AS_OF)
    try:
        alice, bob, sam = (office.accounts.get(n) for n in ("alice", "bob", "sam"))
        assert alice and bob and sam
        audit = office.current()
        rules = [f["rule"] for f in audit["findings"]]
        assert rules and audit["summary"]["rules"] == len(rules)
        with pytest.raises(NotAllowed, match=r"remediation\.plan needs the role dpo"):
            office.plan(sam, rules)
        job = office.plan(alice, rules)
        assert job["status"] == "pending_approval" and job["created_by"] == "alice" and job["planned"]
        r = engine.remediator(estate.config(), state)
        with pytest.raises(InputError, match="not approved yet"):
            r.start(job["job_id"], by="alice")
        with pytest.raises(InputError, match="nothing to resume"):  # no way round the approval
            r.resume(job["job_id"])
        with pytest.raises(NotAllowed, match=f"four-eyes: `alice` created job {job['job_id']}"):
            r.approve(job["job_id"], by="alice")
        with pytest.raises(NotAllowed):
            office.approve_job(sam, job["job_id"])  # support may not approve a remediation
        assert office.job(job["job_id"])["status"] == "pending_approval"
        assert office.approve_job(bob, job["job_id"])["approved_by"] == "bob"
        with pytest.raises(InputError, match="only a job awaiting approval"):
            r.approve(job["job_id"], by="carol")
        done = r.start(job["job_id"], by="bob")
        assert done["status"] == "done" and done["receipts"] == job["subjects"]
        after = office.current()  # the job finished after the last audit: audited again
        assert after["id"] != audit["id"] and after["summary"]["rules"] == 0 and after["findings"] == []
        assert [h["rules"] for h in office.trend()] == [len(rules), 0]
    finally:
        office.close()
        state.close()


def test_distinct_counts_are_at_most_the_sums_and_exact_for_one_rule(estate: ConsoleEstate, engine: Engine) -> None:
    found = engine.audit(estate.url, as_of=AS_OF)
    every = found.distinct["all"]
    assert max(f.children for f in found) <= every["children"] < sum(f.children for f in found)
    assert max(f.subjects for f in found) <= every["subjects"] < sum(f.subjects for f in found)
    for sev in {f.severity for f in found}:
        same = [f for f in found if f.severity == sev]
        d = found.distinct[sev]
        assert max(f.children for f in same) <= d["children"] <= min(every["children"], sum(f.children for f in same))
        if len(same) == 1:
            assert (d["children"], d["subjects"]) == (same[0].children, same[0].subjects)
    report = engine.report_html(found, estate.url, AS_OF)
    assert f'<b id="n-children">{every["children"]}</b>children affected (distinct)' in report
    assert all(f">{f.rule}</text>" in report for f in found)  # every rule in the chart, not the first 12


def test_cli_staff_add_reads_the_password_from_stdin_never_argv(estate: ConsoleEstate, tmp_path: Path) -> None:
    def tutela(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tutela", "staff", *args], input=stdin, capture_output=True,
                              text=True, timeout=120)

    ok = tutela("add", "--name", "carol", "--role", "support", "--format", "json", stdin=PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    assert '"role": "support"' in ok.stdout and PASSWORD not in ok.stdout + ok.stderr
    assert Accounts(StateStore()).check("carol", PASSWORD) is not None
    bad = tutela("add", "--name", "dave", "--role", "root", stdin=PASSWORD + "\n")
    assert bad.returncode == 3 and "unknown role `root`" in bad.stderr and "Traceback" not in bad.stderr
    weak = tutela("add", "--name", "dave", "--role", "dpo", stdin="short\n")
    assert weak.returncode == 3 and "at least 12" in weak.stderr
    nope = tutela("add", "--name", "dave", "--role", "dpo", "--password", PASSWORD)
    assert nope.returncode == 3 and "No such option" in nope.stderr + nope.stdout
    listed = tutela("list", "--format", "json")
    assert listed.returncode == 0 and '"carol"' in listed.stdout and "argon2" not in listed.stdout
