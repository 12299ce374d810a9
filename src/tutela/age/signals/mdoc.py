"""The EU age-verification proof of age: an ISO/IEC 18013-5 mdoc (doctype `eu.europa.ec.av.1`)
carrying only `age_over_NN` attributes, presented once.

    {"document": "<base64url CBOR Document>"}       # with Context.nonce, .mdoc_trust, .replay

Checked, in order (each refusal names what failed): the CBOR structure; the issuer's
COSE_Sign1 (`issuerAuth`, ES256/ES384) against the leaf certificate in its x5chain; that
certificate is in the trust list or issued by a certificate in it, and valid now; the
Mobile Security Object's doctype, digest algorithm and validity window; every disclosed
item's digest against the signed `valueDigests`; only `age_over_NN` attributes; the holder's
device signature over the session transcript with the verifier's nonce (DeviceAuthentication,
18013-5 §9.1.3, key from the MSO's deviceKeyInfo); and last, single use: the attestation
(named by its issuer signature) is accepted once, a second presentation is a replay.

Session transcript: `[null, null, ["TutelaNonceHandover", nonce]]`. 18013-7 defines
transcripts per presentation protocol (OpenID4VP, DC API); this handover is Tutela's own,
for wallets that sign what the verifier sends. A wallet speaking another protocol needs
its handover added here.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tutela.age.record import AgeRecord
from tutela.age.signals._common import Context, mapping, text
from tutela.age.signals.oidc import band_of
from tutela.errors import InputError

DOCTYPE = "eu.europa.ec.av.1"
HANDOVER = "TutelaNonceHandover"
_ALGS: dict[int, tuple[hashes.HashAlgorithm, int]] = {-7: (hashes.SHA256(), 32), -35: (hashes.SHA384(), 48)}
_CURVES: dict[int, ec.EllipticCurve] = {1: ec.SECP256R1(), 2: ec.SECP384R1()}
_OVER = re.compile(r"^age_over_(\d{1,3})$")


def _fail(message: str, where: str = "signal.document", hint: str | None = None) -> InputError:
    return InputError(message, where=where, hint=hint)


def _tag24(value: object, what: str) -> Any:
    if not (isinstance(value, cbor2.CBORTag) and value.tag == 24 and isinstance(value.value, bytes)):
        raise _fail(f"{what} must be embedded CBOR (tag 24)")
    try:
        return cbor2.loads(value.value)
    except (cbor2.CBORDecodeError, ValueError) as exc:
        raise _fail(f"{what} is not valid CBOR: {exc}") from None


def _sign1(value: object, what: str) -> tuple[bytes, dict[Any, Any], bytes | None, bytes]:
    if not (isinstance(value, list) and len(value) == 4 and isinstance(value[0], bytes)
            and isinstance(value[1], dict) and isinstance(value[3], bytes)
            and (value[2] is None or isinstance(value[2], bytes))):
        raise _fail(f"{what} is not a COSE_Sign1 [protected, unprotected, payload, signature]")
    return value[0], value[1], value[2], value[3]


def _verify(public: Any, alg_id: object, protected: bytes, payload: bytes, signature: bytes, what: str) -> None:
    if alg_id not in _ALGS:
        raise _fail(f"{what}: COSE algorithm `{alg_id}` is not accepted", hint="ES256 (-7) or ES384 (-35)")
    algo, size = _ALGS[int(str(alg_id))]
    if not isinstance(public, ec.EllipticCurvePublicKey) or len(signature) != 2 * size:
        raise _fail(f"{what}: the key or the signature does not fit the algorithm")
    der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    try:
        public.verify(der, to_sign, ec.ECDSA(algo))
    except InvalidSignature:
        raise _fail(f"{what}: bad signature") from None


def _alg(protected: bytes, what: str) -> object:
    try:
        header = cbor2.loads(protected) if protected else {}
    except (cbor2.CBORDecodeError, ValueError):
        raise _fail(f"{what}: protected header is not CBOR") from None
    return header.get(1) if isinstance(header, dict) else None


def _trusted_leaf(unprotected: Mapping[Any, Any], ctx: Context) -> x509.Certificate:
    chain = unprotected.get(33)
    first = chain[0] if isinstance(chain, list) and chain else chain
    if not isinstance(first, bytes):
        raise _fail("issuerAuth has no x5chain (header 33) with the issuer's certificate")
    try:
        leaf = x509.load_der_x509_certificate(first)
    except ValueError:
        raise _fail("the issuer certificate is not DER X.509") from None
    now = ctx.now
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise _fail("the issuer certificate is outside its validity period")
    trusted = False
    for der in ctx.mdoc_trust:
        anchor = x509.load_der_x509_certificate(der)
        if anchor == leaf:
            trusted = True
        elif anchor.not_valid_before_utc <= now <= anchor.not_valid_after_utc and _is_ca(anchor):
            try:
                leaf.verify_directly_issued_by(anchor)
                trusted = True
            except (ValueError, TypeError, InvalidSignature):
                continue
        if trusted:
            break
    if not trusted:
        raise _fail(f"unknown issuer `{leaf.subject.rfc4514_string()}`: not in the trust list")
    return leaf


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _time(value: object, what: str) -> dt.datetime:
    if isinstance(value, cbor2.CBORTag) and value.tag == 0:
        value = value.value
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _fail(f"{what} is not a date-time") from None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise _fail(f"{what} is not a date-time with a zone")
    return value


def _device_key(mso: Mapping[Any, Any]) -> ec.EllipticCurvePublicKey:
    info = mso.get("deviceKeyInfo")
    key = info.get("deviceKey") if isinstance(info, dict) else None
    if not isinstance(key, dict) or key.get(1) != 2 or key.get(-1) not in _CURVES:
        raise _fail("the MSO has no EC2 device key (deviceKeyInfo.deviceKey)")
    x, y = key.get(-2), key.get(-3)
    if not isinstance(x, bytes) or not isinstance(y, bytes):
        raise _fail("the device key lacks its coordinates")
    try:
        return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                             _CURVES[int(key[-1])]).public_key()
    except ValueError:
        raise _fail("the device key is not a point on its curve") from None


def _ages(doc: Mapping[str, Any], mso: Mapping[Any, Any]) -> dict[int, bool]:
    spaces = doc["issuerSigned"].get("nameSpaces")
    digests = mso.get("valueDigests", {}).get(DOCTYPE) if isinstance(mso.get("valueDigests"), dict) else None
    if not isinstance(spaces, dict) or set(spaces) != {DOCTYPE} or not isinstance(spaces[DOCTYPE], list):
        raise _fail(f"a proof of age discloses exactly the namespace `{DOCTYPE}`")
    if not isinstance(digests, dict):
        raise _fail(f"the MSO has no value digests for `{DOCTYPE}`")
    out: dict[int, bool] = {}
    for i, tagged in enumerate(spaces[DOCTYPE]):
        item = _tag24(tagged, f"item {i}")
        if not isinstance(item, dict) or not {"digestID", "random", "elementIdentifier", "elementValue"} <= set(item):
            raise _fail(f"item {i} is not an IssuerSignedItem")
        signed = digests.get(item["digestID"])
        if not isinstance(signed, bytes) or hashlib.sha256(cbor2.dumps(tagged)).digest() != signed:
            raise _fail(f"item {i} (`{item['elementIdentifier']}`) does not match the issuer's digest")
        m = _OVER.match(str(item["elementIdentifier"]))
        if not m or not isinstance(item["elementValue"], bool):
            raise _fail(f"item {i} is `{item['elementIdentifier']}`: a proof of age carries only age_over_NN booleans")
        out[int(m.group(1))] = item["elementValue"]
    if not out:
        raise _fail("the proof of age discloses no age_over_NN attribute")
    return out


def read(payload: object, ctx: Context) -> AgeRecord:
    p = mapping(payload)
    raw = text(p, "document")
    assert raw is not None
    if ctx.nonce is None or ctx.replay is None:
        raise InputError("a proof of age is checked against a nonce and a replay guard; none configured",
                         where="nonce", hint="issue a nonce per presentation and keep a replay store")
    try:
        doc = cbor2.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, cbor2.CBORDecodeError) as exc:
        raise _fail(f"not base64url CBOR: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("issuerSigned"), dict) or \
            not isinstance(doc.get("deviceSigned"), dict):
        raise _fail("not an mdoc Document {docType, issuerSigned, deviceSigned}")
    if doc.get("docType") != DOCTYPE:
        raise _fail(f"docType `{doc.get('docType')}` is not the proof of age `{DOCTYPE}`")
    protected, unprotected, body, signature = _sign1(doc["issuerSigned"].get("issuerAuth"), "issuerAuth")
    if body is None:
        raise _fail("issuerAuth carries no MSO")
    leaf = _trusted_leaf(unprotected, ctx)
    _verify(leaf.public_key(), _alg(protected, "issuerAuth"), protected, body, signature, "issuerAuth")
    try:
        mso = _tag24(cbor2.loads(body), "the MSO")
    except (cbor2.CBORDecodeError, ValueError):
        raise _fail("the MSO is not CBOR") from None
    if not isinstance(mso, dict) or mso.get("docType") != DOCTYPE or mso.get("digestAlgorithm") != "SHA-256":
        raise _fail("the MSO is not for this doctype with SHA-256 digests")
    info = mso.get("validityInfo")
    validity: dict[Any, Any] = info if isinstance(info, dict) else {}
    start, until = _time(validity.get("validFrom"), "validFrom"), _time(validity.get("validUntil"), "validUntil")
    if ctx.now < start - ctx.leeway:
        raise _fail("the proof of age is not valid yet (validFrom)")
    if ctx.now >= until + ctx.leeway:
        raise _fail("the proof of age has expired (validUntil)", hint="the wallet holds fresh single-use proofs")
    over = _ages(doc, mso)
    auth = doc["deviceSigned"].get("deviceAuth")
    dev_protected, _, detached, dev_sig = _sign1(auth.get("deviceSignature") if isinstance(auth, dict) else None,
                                                 "deviceSignature")
    names = doc["deviceSigned"].get("nameSpaces")
    if detached is not None or not (isinstance(names, cbor2.CBORTag) and names.tag == 24):
        raise _fail("deviceSigned must have tag-24 nameSpaces and a detached deviceSignature")
    transcript = [None, None, [HANDOVER, ctx.nonce]]
    device_auth = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(["DeviceAuthentication", transcript, DOCTYPE, names])))
    try:
        _verify(_device_key(mso), _alg(dev_protected, "deviceSignature"), dev_protected, device_auth, dev_sig,
                "deviceSignature")
    except InputError as exc:
        raise _fail(f"{exc.message} (not signed by the holder's device over this nonce)") from None
    if not ctx.replay.first_use("mdoc:" + hashlib.sha256(signature).hexdigest(), until):
        raise _fail("this proof of age was already presented (replay refused)",
                    hint="proofs of age are single use; the wallet presents a fresh one")
    lower, upper = band_of(over)
    return AgeRecord(lower=lower, upper=upper, as_of=ctx.today, method="mdoc.age_over", level="verified",
                     issuer=leaf.subject.rfc4514_string(), source="mdoc", observed_at=ctx.now, expires_at=until,
                     basis=ctx.book.basis("eu.av-proof-of-age", ctx.today))
