"""An OpenID Connect age credential: a signed JWT (an ID token or a credential JWT) whose
claims state age thresholds, verified against the issuer's JWKS.

    {"token": "<compact JWS>"}     # the payload this reader takes

Claims read: AgeKey-style `age_thresholds` (`{"13": true, "16": true, "18": false}`: over 13
and 16, not over 18) and/or `age_over_NN` booleans (as in EU age-verification OIDC
brokers), `sub` (opaque). Checked: the issuer is configured (`Context.oidc_issuers`, each
`{"jwks": {"keys": [...]}, "level": "verified"}`), the key by `kid`, an asymmetric algorithm
(never `none` or HMAC), the signature, `iss`, `aud`, `exp`, `nbf` (with `Context.leeway`),
the nonce when the verifier gave one (constant-time), and single use of `jti` when a
replay guard is given. Every refusal is an InputError saying which check failed.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Mapping
from typing import Any

import jwt

from tutela.age.levels import LEVEL_ORDER, level
from tutela.age.record import MAX_AGE, AgeRecord
from tutela.age.signals._common import Context, mapping, text
from tutela.errors import InputError

ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
_OVER = re.compile(r"^age_over_(\d{1,3})$")


def _fail(message: str, hint: str | None = None) -> InputError:
    return InputError(message, where="signal.token", hint=hint)


def thresholds(claims: Mapping[str, Any]) -> dict[int, bool]:
    """Every `age_thresholds` / `age_over_NN` claim as {age: over}; contradictions refused."""
    out: dict[int, bool] = {}

    def put(age: int, over: object, name: str) -> None:
        if not isinstance(over, bool) or not 1 <= age <= MAX_AGE:
            raise _fail(f"claim `{name}` must be true or false for an age 1-{MAX_AGE}")
        if out.get(age, over) != over:
            raise _fail(f"claims contradict each other about age {age}")
        out[age] = over

    raw = claims.get("age_thresholds")
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise _fail("claim `age_thresholds` must be an object of age -> true/false")
        for key, over in raw.items():
            if not str(key).isdigit():
                raise _fail(f"claim `age_thresholds` has a key that is not an age: `{key}`")
            put(int(key), over, f"age_thresholds.{key}")
    for name, over in claims.items():
        m = _OVER.match(name)
        if m:
            put(int(m.group(1)), over, name)
    if not out:
        raise _fail("the credential states no age (no `age_thresholds` or `age_over_NN` claim)")
    return out


def band_of(over: Mapping[int, bool]) -> tuple[int, int | None]:
    lower = max((a for a, yes in over.items() if yes), default=0)
    under = min((a for a, yes in over.items() if not yes), default=None)
    if under is not None and under <= lower:
        raise _fail(f"claims say over {lower} and not over {under}")
    return lower, None if under is None else under - 1


def _key(token: str, ctx: Context) -> tuple[str, Any, str, str]:
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError as exc:
        raise _fail(f"malformed token: {exc}") from None
    iss = unverified.get("iss")
    if not isinstance(iss, str) or iss not in ctx.oidc_issuers:
        raise _fail(f"unknown issuer `{iss}`", hint="only configured issuers are trusted")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _fail(f"algorithm `{alg}` is not accepted", hint="one of " + ", ".join(ALGORITHMS))
    conf = ctx.oidc_issuers[iss]
    try:
        keys = jwt.PyJWKSet.from_dict(dict(conf["jwks"]))
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, KeyError, TypeError) as exc:
        raise InputError(f"the JWKS configured for `{iss}` is not usable: {exc}", where="oidc_issuers") from None
    kid = header.get("kid")
    matches = [k for k in keys.keys if kid is None or k.key_id == kid]
    if len(matches) != 1:
        raise _fail(f"no single key `{kid}` in the issuer's JWKS", hint="the issuer may have rotated its keys")
    return iss, matches[0].key, alg, str(conf.get("level", "verified"))


def read(payload: object, ctx: Context) -> AgeRecord:
    p = mapping(payload)
    token = text(p, "token")
    assert token is not None
    if ctx.audience is None:
        raise InputError("no audience configured to check the credential against", where="audience")
    iss, key, alg, issuer_level = _key(token, ctx)
    try:
        claims = jwt.decode(token, key, algorithms=[alg], audience=ctx.audience, issuer=iss,
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                     "require": ["iss", "aud", "exp"]})
    except jwt.InvalidSignatureError:
        raise _fail("bad signature") from None
    except jwt.InvalidAudienceError:
        raise _fail(f"wrong audience: the credential is not for `{ctx.audience}`") from None
    except jwt.InvalidIssuerError:
        raise _fail("issuer does not match the signing key's issuer") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _fail(f"missing claim `{exc.claim}`") from None
    except jwt.PyJWTError as exc:
        raise _fail(f"invalid token: {exc}") from None
    now = ctx.now.timestamp()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or (nbf is not None and not isinstance(nbf, int | float)):
        raise _fail("`exp` and `nbf` must be numbers (seconds since 1970)")
    if now >= exp + ctx.leeway.total_seconds():
        raise _fail("the credential has expired", hint="ask the issuer for a fresh one")
    if nbf is not None and now + ctx.leeway.total_seconds() < nbf:
        raise _fail("the credential is not valid yet (`nbf` is in the future)")
    expires = dt.datetime.fromtimestamp(exp, dt.UTC)
    if ctx.nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), ctx.nonce.encode()):
            raise _fail("the nonce does not match this request")
    if ctx.replay is not None:
        jti = claims.get("jti")
        if not isinstance(jti, str):
            raise _fail("missing claim `jti` (single-use credentials need one)")
        if not ctx.replay.first_use(f"oidc:{iss}:{jti}", expires):
            raise _fail("this credential was already used", hint="a single-use credential is accepted once")
    lower, upper = band_of(thresholds(claims))
    lvl = level(issuer_level, where=f"oidc_issuers.{iss}.level")
    method = claims.get("age_method")
    if method in LEVEL_ORDER and LEVEL_ORDER[str(method)] < LEVEL_ORDER[lvl]:
        lvl = level(str(method))  # the credential may say it is weaker than the issuer's usual, never stronger
    sub = claims.get("sub")
    return AgeRecord(subject=sub if isinstance(sub, str) else None, lower=lower, upper=upper, as_of=ctx.today,
                     method="oidc.age_thresholds", level=lvl, issuer=iss, source="oidc", observed_at=ctx.now,
                     expires_at=expires, basis=ctx.book.basis("oidc.age-credential", ctx.today))
