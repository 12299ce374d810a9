"""Signed age credentials, signed here with the tests' own keys: an OIDC JWT checked against
its issuer's JWKS, and an EU mdoc proof of age (COSE_Sign1, trust list, nonce, single use)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import cbor2
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from cli_inprocess import run_cli as cli
from tutela.age import Context, MemoryStore, SqlStore, read_signal
from tutela.age.signals.mdoc import DOCTYPE, HANDOVER
from tutela.api.app import create_app
from tutela.errors import InputError

DATA = Path(__file__).parent / "data" / "age"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CLAIMS = json.loads((DATA / "oidc_claims.json").read_text())
ISS, AUD = CLAIMS["iss"], CLAIMS["aud"]


# ---- OIDC -------------------------------------------------------------------------------

def es256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def jwks(key: ec.EllipticCurvePrivateKey, kid: str = "k1") -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "ES256"}]}


KEY = es256()


def token(claims: dict[str, Any] | None = None, key: ec.EllipticCurvePrivateKey = KEY, kid: str = "k1",
          **extra: Any) -> str:
    body = {**CLAIMS, "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 300, **(claims or {}), **extra}
    return jwt.encode(body, key, algorithm="ES256", headers={"kid": kid})


def octx(**kw: Any) -> Context:
    return Context(now=NOW, oidc_issuers={ISS: {"jwks": jwks(KEY), "level": "verified"}}, audience=AUD, **kw)


def test_oidc_age_thresholds_become_a_verified_band() -> None:
    r = read_signal({"token": token()}, "oidc", octx())
    assert (r.lower, r.upper, r.level, r.issuer, r.subject) == (16, 17, "verified", ISS, "pairwise-7c1e")
    assert r.expires_at == dt.datetime.fromtimestamp(int(NOW.timestamp()) + 300, dt.UTC)
    over18 = read_signal({"token": token({"age_thresholds": None, "age_over_18": True})}, "oidc", octx())
    assert (over18.lower, over18.upper) == (18, None)
    weaker = read_signal({"token": token(age_method="estimated")}, "oidc", octx())
    assert weaker.level == "estimated"


@pytest.mark.parametrize(("make", "message"), [
    (lambda: token(key=es256()), "bad signature"),
    (lambda: token(exp=int(NOW.timestamp()) - 3600), "expired"),
    (lambda: token(nbf=int(NOW.timestamp()) + 3600), "not valid yet"),
    (lambda: token(aud="https://other.example"), "wrong audience"),
    (lambda: token(iss="https://rogue.example"), "unknown issuer"),
    (lambda: token(kid="k9"), "no single key"),
    (lambda: jwt.encode({**CLAIMS, "exp": int(NOW.timestamp()) + 60}, "secret-" * 6, algorithm="HS256"),
     "algorithm `HS256`"),
    (lambda: "not.a.jwt", "malformed"),
    (lambda: token({"age_thresholds": None}), "states no age"),
    (lambda: token({"age_thresholds": {"13": True}, "age_over_13": False}), "contradict"),
    (lambda: token({"age_thresholds": {"18": True, "13": False}}), "not over 13"),
    (lambda: token(exp=None), "missing claim `exp`"),
])
def test_oidc_refusals_name_the_failed_check(make: Any, message: str) -> None:
    with pytest.raises(InputError) as err:
        read_signal({"token": make()}, "oidc", octx())
    assert message in err.value.message and err.value.where == "signal.token"


def test_oidc_alg_none_is_refused() -> None:
    unsigned = jwt.encode({**CLAIMS, "exp": int(NOW.timestamp()) + 60}, None, algorithm="none")
    with pytest.raises(InputError, match="algorithm `none`"):
        read_signal({"token": unsigned}, "oidc", octx())


def test_oidc_nonce_and_single_use_jti() -> None:
    guard = MemoryStore()
    t = token(nonce="n-123")
    read_signal({"token": t}, "oidc", octx(nonce="n-123", replay=guard))
    with pytest.raises(InputError, match="already used"):
        read_signal({"token": t}, "oidc", octx(nonce="n-123", replay=guard))
    with pytest.raises(InputError, match="nonce does not match"):
        read_signal({"token": token(nonce="n-123")}, "oidc", octx(nonce="n-999"))


# ---- mdoc -------------------------------------------------------------------------------

def cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None = None,
         issuer_key: ec.EllipticCurvePrivateKey | None = None, days: int = 365) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer.subject if issuer else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True))
    return b.sign(issuer_key or key, hashes.SHA256())


def raw_sig(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def tdate(t: dt.datetime) -> cbor2.CBORTag:
    return cbor2.CBORTag(0, t.strftime("%Y-%m-%dT%H:%M:%SZ"))


CA_KEY, DS_KEY = es256(), es256()
CA = cert("Test AV Trust Anchor", CA_KEY)
DS = cert("Test AV Issuer DS", DS_KEY, CA, CA_KEY)
AGES = json.loads((DATA / "mdoc_claims.json").read_text())["ages"]


def issue(ages: dict[str, Any] = AGES, until: dt.datetime | None = None, signer: ec.EllipticCurvePrivateKey = DS_KEY,
          chain: x509.Certificate = DS, doctype: str = DOCTYPE) -> tuple[dict[str, Any], ec.EllipticCurvePrivateKey]:
    """An attestation as the issuer signs it (IssuerSigned) and the device key bound into it."""
    device = es256()
    items, digests = [], {}
    for i, (name, value) in enumerate(ages.items()):
        tagged = cbor2.CBORTag(24, cbor2.dumps({"digestID": i, "random": os.urandom(16),
                                                "elementIdentifier": name, "elementValue": value}))
        digests[i] = hashlib.sha256(cbor2.dumps(tagged)).digest()
        items.append(tagged)
    nums = device.public_key().public_numbers()
    mso = {"version": "1.0", "digestAlgorithm": "SHA-256", "valueDigests": {DOCTYPE: digests}, "docType": doctype,
           "deviceKeyInfo": {"deviceKey": {1: 2, -1: 1, -2: nums.x.to_bytes(32, "big"),
                                           -3: nums.y.to_bytes(32, "big")}},
           "validityInfo": {"signed": tdate(NOW), "validFrom": tdate(NOW - dt.timedelta(hours=1)),
                            "validUntil": tdate(until or NOW + dt.timedelta(days=90))}}
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(mso)))
    protected = cbor2.dumps({1: -7})
    auth = [protected, {33: chain.public_bytes(serialization.Encoding.DER)}, payload,
            raw_sig(signer, cbor2.dumps(["Signature1", protected, b"", payload]))]
    return {"nameSpaces": {DOCTYPE: items}, "issuerAuth": auth}, device


def present(issued: dict[str, Any], device: ec.EllipticCurvePrivateKey, nonce: str, doctype: str = DOCTYPE) -> str:
    """The wallet's presentation: the attestation plus the device's signature over this nonce."""
    names = cbor2.CBORTag(24, cbor2.dumps({}))
    transcript = [None, None, [HANDOVER, nonce]]
    auth = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(["DeviceAuthentication", transcript, DOCTYPE, names])))
    prot = cbor2.dumps({1: -7})
    doc = {"docType": doctype, "issuerSigned": issued, "deviceSigned": {"nameSpaces": names, "deviceAuth": {
        "deviceSignature": [prot, {}, None, raw_sig(device, cbor2.dumps(["Signature1", prot, b"", auth]))]}}}
    return base64.urlsafe_b64encode(cbor2.dumps(doc)).decode().rstrip("=")


def mctx(nonce: str = "nonce-1", trust: tuple[bytes, ...] | None = None, replay: Any = None) -> Context:
    return Context(now=NOW, mdoc_trust=trust if trust is not None else (CA.public_bytes(serialization.Encoding.DER),),
                   nonce=nonce, replay=replay if replay is not None else MemoryStore())


def test_mdoc_proof_of_age_is_verified_and_single_use() -> None:
    issued, device = issue()
    guard = MemoryStore()
    r = read_signal({"document": present(issued, device, "nonce-1")}, "mdoc", mctx(replay=guard))
    assert (r.lower, r.upper, r.level, r.method) == (13, 15, "verified", "mdoc.age_over")
    assert "Test AV Issuer DS" in r.issuer
    with pytest.raises(InputError, match="replay refused"):  # the same attestation, a fresh nonce: still refused
        read_signal({"document": present(issued, device, "nonce-2")}, "mdoc", mctx("nonce-2", replay=guard))


def test_mdoc_single_use_holds_across_processes_in_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'age.db'}"
    issued, device = issue()
    read_signal({"document": present(issued, device, "a")}, "mdoc", mctx("a", replay=SqlStore(url)))
    with pytest.raises(InputError, match="replay refused"):
        read_signal({"document": present(issued, device, "b")}, "mdoc", mctx("b", replay=SqlStore(url)))


def test_mdoc_trusted_leaf_without_a_ca() -> None:
    issued, device = issue()
    trust = (DS.public_bytes(serialization.Encoding.DER),)
    assert read_signal({"document": present(issued, device, "n")}, "mdoc", mctx("n", trust=trust)).lower == 13


def _tampered_value() -> str:
    issued, device = issue()
    item = cbor2.loads(issued["nameSpaces"][DOCTYPE][0].value)
    item["elementValue"] = not item["elementValue"]
    issued["nameSpaces"][DOCTYPE][0] = cbor2.CBORTag(24, cbor2.dumps(item))
    return present(issued, device, "nonce-1")


def _bad_issuer_signature() -> str:
    issued, device = issue()
    sig = bytearray(issued["issuerAuth"][3])
    sig[5] ^= 0xFF
    issued["issuerAuth"][3] = bytes(sig)
    return present(issued, device, "nonce-1")


def _other_issuer() -> str:
    rogue_key = es256()
    issued, device = issue(signer=rogue_key, chain=cert("Rogue Issuer", rogue_key))
    return present(issued, device, "nonce-1")


@pytest.mark.parametrize(("make", "message"), [
    (_bad_issuer_signature, "issuerAuth: bad signature"),
    (_other_issuer, "unknown issuer"),
    (lambda: present(*issue(until=NOW - dt.timedelta(days=1)), "nonce-1"), "expired"),
    (lambda: present(*issue(), "another-nonce"), "this nonce"),
    (_tampered_value, "does not match the issuer's digest"),
    (lambda: present(*issue({"age_over_18": True, "family_name": "Doe"}), "nonce-1"), "only age_over_NN"),
    (lambda: present(*issue(), "nonce-1", doctype="org.iso.18013.5.1.mDL"), "docType"),
    (lambda: present(*issue(doctype="org.iso.18013.5.1.mDL"), "nonce-1"), "MSO is not for this doctype"),
    (lambda: "%%%not-base64%%%", "not base64url CBOR"),
    (lambda: base64.urlsafe_b64encode(cbor2.dumps([1, 2, 3])).decode(), "not an mdoc Document"),
])
def test_mdoc_refusals_name_the_failed_check(make: Any, message: str) -> None:
    with pytest.raises(InputError) as err:
        read_signal({"document": make()}, "mdoc", mctx())
    assert message in err.value.message, err.value.message


def test_mdoc_refused_without_nonce_or_replay_guard() -> None:
    issued, device = issue()
    with pytest.raises(InputError, match="nonce and a replay guard"):
        read_signal({"document": present(issued, device, "x")}, "mdoc", Context(now=NOW, mdoc_trust=()))


def test_a_refused_presentation_does_not_use_up_the_attestation() -> None:
    issued, device = issue()
    guard = MemoryStore()
    with pytest.raises(InputError):
        read_signal({"document": present(issued, device, "wrong")}, "mdoc", mctx("right", replay=guard))
    assert read_signal({"document": present(issued, device, "right")}, "mdoc", mctx("right", replay=guard)).lower == 13


# ---- CLI --------------------------------------------------------------------------------



def write_trust(folder: Path) -> Path:
    (folder / "jwks.json").write_text(json.dumps(jwks(KEY)))
    (folder / "ca.pem").write_bytes(CA.public_bytes(serialization.Encoding.PEM))
    trust = folder / "trust.yaml"
    trust.write_text(f'audience: "{AUD}"\noidc_issuers:\n  "{ISS}": {{jwks_file: jwks.json, level: verified}}\n'
                     "mdoc_trust: [ca.pem]\n")
    return trust


def test_cli_reads_an_oidc_credential_and_refuses_a_bad_one(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    trust = write_trust(tmp_path)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"token": token()}))
    bad.write_text(json.dumps({"token": token(aud="https://other.example")}))
    code, stdout, err = cli(capsys, monkeypatch, "age", "read", str(good), "--kind", "oidc", "--trust", str(trust),
                            "--format", "json")
    assert code == 0, err
    out = json.loads(stdout)
    assert (out["lower"], out["upper"], out["level"], out["rulebook_assurance"]) == (16, 17, "verified", "verified")
    code, _, err = cli(capsys, monkeypatch, "age", "read", str(bad), "--kind", "oidc", "--trust", str(trust))
    assert code == 3 and "wrong audience" in err


def test_cli_mdoc_single_use_across_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    trust = write_trust(tmp_path)
    issued, device = issue()
    store = f"sqlite:///{tmp_path / 'replay.db'}"
    codes = []
    for nonce in ("n-1", "n-2"):
        f = tmp_path / f"{nonce}.json"
        f.write_text(json.dumps({"document": present(issued, device, nonce)}))
        code, _, err = cli(capsys, monkeypatch, "age", "read", str(f), "--kind", "mdoc", "--trust", str(trust),
                           "--nonce", nonce, "--store", store)
        codes.append((code, "replay refused" in err))
    assert codes == [(0, False), (3, True)]


# ---- API --------------------------------------------------------------------------------

def test_api_mdoc_needs_an_issued_nonce_and_is_single_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_AGE_TRUST", str(write_trust(tmp_path)))
    monkeypatch.delenv("TUTELA_AGE_DB", raising=False)
    client = TestClient(create_app())
    issued, device = issue()
    unissued = client.post("/v1/age/signals", json={"kind": "mdoc", "nonce": "made-up",
                                                    "signal": {"document": present(issued, device, "made-up")}})
    assert unissued.status_code == 422 and unissued.json()["where"] == "body.nonce"
    nonce = client.post("/v1/age/nonces").json()["nonce"]
    body = {"kind": "mdoc", "nonce": nonce, "signal": {"document": present(issued, device, nonce)}}
    ok = client.post("/v1/age/signals", json=body)
    assert ok.status_code == 200, ok.text
    assert ok.json()["record"]["level"] == "verified" and ok.json()["record"]["upper"] == 15
    assert client.post("/v1/age/signals", json=body).status_code == 422  # the nonce is spent
    fresh = client.post("/v1/age/nonces").json()["nonce"]
    again = client.post("/v1/age/signals", json={"kind": "mdoc", "nonce": fresh,
                                                 "signal": {"document": present(issued, device, fresh)}})
    assert again.status_code == 422 and "replay refused" in again.json()["message"]
    oidc = client.post("/v1/age/signals", json={"kind": "oidc", "signal": {"token": token()}})
    assert oidc.status_code == 200 and oidc.json()["record"]["lower"] == 16


def test_mdoc_a_leaf_in_the_trust_list_cannot_vouch_for_another_certificate() -> None:
    # DS is trusted as a leaf (not a CA): a certificate it signed must not be accepted
    child_key = es256()
    child = cert("Child of a leaf", child_key, DS, DS_KEY)
    issued, device = issue(signer=child_key, chain=child)
    with pytest.raises(InputError, match="unknown issuer"):
        read_signal({"document": present(issued, device, "n")}, "mdoc",
                    mctx("n", trust=(DS.public_bytes(serialization.Encoding.DER),)))


def test_api_nonces_are_rate_limited_per_client() -> None:
    client = TestClient(create_app())
    codes = {client.post("/v1/age/nonces").status_code for _ in range(61)}
    assert codes == {200, 429}
