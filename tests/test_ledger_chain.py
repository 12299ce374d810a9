"""Entries: the columnar encoder (pyarrow) against the reference (Pydantic + canonical JSON) on
random valid and invalid bodies; appending, all-or-nothing batches, periodic checkpoints, pseudonyms."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tutela.engine import Engine
from tutela.errors import InputError
from tutela.ledger import Ledger, canonical_json
from tutela.ledger.chain import GENESIS, encode_table, entry_bytes, validate_body
from tutela.ledger.checkpoint import new_key_text, private_key
from tutela.ledger.kinds import KINDS, MAX_INT, PATTERNS, SPECS, FieldSpec, Kind

TIME = "2026-12-03T12:00:00.000000Z"
BAD = {"ref": ["has space", "é", "", "-lead", "x" * 129, 7], "date": ["2026-1-01", "today", 20260101],
       "hex": ["ABC", "0" * 63, "g" * 64], "words": ["a\nb", "ü", 3], "count": [-1, MAX_INT + 1, "3", True],
       "bool": [1, "true", None]}


def good_value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    if isinstance(spec.type, tuple):
        return st.sampled_from(spec.type)
    if spec.type == "count":
        return st.integers(0, MAX_INT)
    if spec.type == "bool":
        return st.booleans()
    return st.from_regex(PATTERNS[spec.type], fullmatch=True)


@st.composite
def body(draw: st.DrawFn, kind: str, break_it: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in SPECS[kind]:
        if spec.optional and draw(st.integers(0, 3)) == 0:
            continue
        out[spec.name] = None if spec.optional and draw(st.booleans()) else draw(good_value(spec))
    if break_it:
        spec = draw(st.sampled_from(SPECS[kind]))
        how = draw(st.sampled_from(["value", "missing", "extra"]))
        if how == "extra":
            out["name"] = "ada"
        elif how == "missing" and not spec.optional:
            out.pop(spec.name, None)
        else:
            bad = ["not-one-of-them", 1] if isinstance(spec.type, tuple) else BAD[spec.type]
            out[spec.name] = draw(st.sampled_from([b for b in bad if b is not None or not spec.optional]))
    return out


def reference(kind: str, bodies: list[dict[str, Any]], first: int) -> list[bytes] | None:
    try:
        return [entry_bytes(first + i, kind, TIME, validate_body(kind, b)) for i, b in enumerate(bodies)]
    except InputError:
        return None


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_columnar_entries_equal_the_reference_and_refuse_the_same_bodies(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    broken = data.draw(st.booleans())
    bodies = data.draw(st.lists(body(kind, False), min_size=1, max_size=6))
    if broken:
        bodies[data.draw(st.integers(0, len(bodies) - 1))] = data.draw(body(kind, True))
    try:
        keys = list(dict.fromkeys(k for b in bodies for k in b))  # from_pylist keeps only the first row's keys
        table = pa.table({k: [b.get(k) for b in bodies] for k in keys}) if keys else pa.table({"x": [None]}).drop(["x"])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        assume(False)
    first = data.draw(st.integers(1, 10**12))
    expected = reference(kind, [{k: b.get(k) for k in table.column_names} for b in bodies], first)
    assert encode_table(kind, table, first, TIME) == expected
    for entry in expected or []:
        assert entry == canonical_json(json.loads(entry))  # the trusted writer is RFC 8785 too


def test_kind_literal_lists_every_kind() -> None:
    assert set(Kind.__args__) == set(KINDS)


CONSENT = {"subject": "ps:0123abcd", "scope": "location", "action": "grant", "granted_by": "parent",
           "method": "card_check", "assurance": "verified"}


def clock() -> dt.datetime:
    return dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def test_append_hashes_the_canonical_entry_after_the_previous_hash(tmp_path: Path) -> None:
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}", clock=clock) as ledger:
        seq1, h1 = ledger.append("consent_event", CONSENT)
        seq2, h2 = ledger.append("consent_event", {**CONSENT, "action": "revoke"})
        e1, e2 = list(ledger.entries())
    assert (seq1, seq2) == (1, 2)
    raw1 = canonical_json({k: v for k, v in e1.items() if k != "hash"})
    assert h1 == hashlib.sha256(GENESIS + raw1).digest()
    assert h2 == hashlib.sha256(h1 + canonical_json({k: v for k, v in e2.items() if k != "hash"})).digest()
    assert e1["time"] == "2026-12-03T12:00:00.000000Z" and e1["body"]["grant_id"] is None


def test_a_bad_body_in_a_batch_writes_nothing_and_names_the_row(tmp_path: Path) -> None:
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        ledger.append("consent_event", CONSENT)
        for bodies in ([CONSENT, {**CONSENT, "subject": "ada@example.com"}],
                       pa.Table.from_pylist([CONSENT, {**CONSENT, "subject": "ada@example.com"}])):
            with pytest.raises(InputError) as err:
                ledger.append_many("consent_event", bodies)
            assert err.value.where == "[1].subject"
        with pytest.raises(InputError, match="unknown ledger entry kind"):
            ledger.append("gossip", {})
        assert [e["body"]["subject"] for e in ledger.entries()] == ["ps:0123abcd"]


def test_batched_and_single_appends_give_the_same_chain(tmp_path: Path) -> None:
    bodies = [{**CONSENT, "subject": f"ps:{i:08x}"} for i in range(50)]
    with Ledger(f"sqlite:///{tmp_path / 'a.db'}", clock=clock) as a, \
            Ledger(f"sqlite:///{tmp_path / 'b.db'}", clock=clock) as b, \
            Ledger(f"sqlite:///{tmp_path / 'c.db'}", clock=clock) as c:
        heads = {a.append_many("consent_event", pa.Table.from_pylist(bodies)),
                 b.append_many("consent_event", bodies)}
        for one in bodies:
            last = c.append("consent_event", one)
        heads.add(last)
    assert len(heads) == 1


def test_periodic_checkpoints_sign_the_head(tmp_path: Path) -> None:
    key = private_key(new_key_text())
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}", checkpoint_every=10, signing_key=key) as ledger:
        for _ in range(25):
            ledger.append("consent_event", CONSENT)
        ledger.append_many("consent_event", [CONSENT] * 7)
        cps = ledger.checkpoints()
        assert [cp.seq for cp in cps] == [10, 20, 32]
        assert all(cp.problem({cp.key_id: key.public_key()}) is None for cp in cps)
        assert ledger.verify({cps[0].key_id: key.public_key()}).proven_upto == 32
    with pytest.raises(InputError, match="signing key"):
        Ledger(f"sqlite:///{tmp_path / 'm.db'}", checkpoint_every=10)


def test_pseudonyms_are_keyed_and_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUTELA_LEDGER_PSEUDONYM_KEY", raising=False)
    with pytest.raises(InputError, match="no pseudonym key"):
        Ledger.pseudonym("child-42")
    monkeypatch.setenv("TUTELA_LEDGER_PSEUDONYM_KEY", "k" * 32)
    p = Ledger.pseudonym("child-42")
    assert p == Ledger.pseudonym("child-42") != Ledger.pseudonym("child-43")
    assert p != Ledger.pseudonym("child-42", b"another key of 16+ bytes") and p.startswith("ps:") and len(p) == 35
    validate_body("consent_event", {**CONSENT, "subject": p})


def test_engine_opens_the_ledger(tmp_path: Path) -> None:
    with Engine.ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        ledger.append("rulebook_version", {"version": "2026.12", "digest": "ab" * 32, "rules": 412})
        assert ledger.verify().ok


def test_docs_list_every_kind_and_field() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "ledger.md").read_text(encoding="utf-8")
    for kind, specs in SPECS.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{kind}` |")), "")
        assert row, f"docs/ledger.md has no row for {kind}"
        for spec in specs:
            assert f"`{spec.name}`{'?' if spec.optional else ''} (" in row, f"{kind}.{spec.name} undocumented"


def test_an_in_memory_ledger_is_one_database() -> None:
    with Ledger("sqlite://") as ledger:
        bodies = [{"version": f"v{i}", "digest": "ab" * 32, "rules": i} for i in range(3)]
        ledger.append_many("rulebook_version", bodies)
        assert ledger.verify(None).entries == 3
