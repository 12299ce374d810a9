"""Signal readers: each turns one kind of age signal into an AgeRecord (or a clear InputError)."""

from __future__ import annotations

from collections.abc import Callable

from tutela.age.record import AgeRecord
from tutela.age.signals import apple, appstore, ca_daaa, google, mdoc, oidc
from tutela.age.signals._common import Context, ReplayGuard
from tutela.errors import InputError

READERS: dict[str, Callable[[object, Context], AgeRecord]] = {
    "apple": apple.read,
    "google": google.read,
    "ca-daaa": ca_daaa.read,
    "appstore": appstore.read,
    "oidc": oidc.read,
    "mdoc": mdoc.read,
}


def read_signal(payload: object, kind: str, ctx: Context | None = None) -> AgeRecord:
    """The normalised record of one signal of `kind` (see READERS)."""
    reader = READERS.get(kind)
    if reader is None:
        raise InputError(f"unknown signal kind `{kind}`", where="kind", hint="one of " + ", ".join(READERS))
    return reader(payload, ctx or Context())


__all__ = ["READERS", "Context", "ReplayGuard", "read_signal"]
