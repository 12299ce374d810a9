"""`tutela age read SIGNAL.json --kind google|apple|ca-daaa|appstore|oidc|mdoc`: verify one age
signal and print its normalised record.

OIDC and mdoc need trust: `--trust FILE` (default: TUTELA_AGE_TRUST; see tutela.age.config),
mdoc also `--nonce` (the one the wallet signed) and, for single use across runs, `--store URL`
(default: TUTELA_AGE_DB, else single use within this run only). Exit codes: 0 the record was
read, 3 the signal was refused (the message names the check that failed)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine
from tutela.errors import InputError


def _now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        now = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"not an ISO 8601 time: `{value}`", where="--now") from None
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def run(
    signal: Path = typer.Argument(..., help="the signal as JSON (what the app or wallet forwarded)"),
    kind: str = typer.Option(..., "--kind", help="google, apple, ca-daaa, appstore, oidc or mdoc"),
    trust: Path | None = typer.Option(None, "--trust", help="trust file (OIDC issuers, mdoc issuer certificates)"),
    audience: str | None = typer.Option(None, "--audience", help="expected OIDC audience (overrides the trust file)"),
    nonce: str | None = typer.Option(None, "--nonce", help="the verifier nonce of this presentation"),
    store: str | None = typer.Option(None, "--store", help="SQLAlchemy URL remembering single-use proofs"),
    now: str | None = typer.Option(None, "--now", help="read as of this time (ISO 8601; default now)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Verify one age signal and print the normalised age record."""
    from tutela.models import AgeContext as Context
    from tutela.models import AgeSqlStore as SqlStore
    from tutela.models import age_from_env as from_env
    from tutela.models import age_to_rulebook as to_rulebook
    from tutela.models import load_age_trust as load_trust

    try:
        payload = json.loads(signal.read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(signal)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", where=str(signal)) from None
    env_trust, env_store = from_env()
    conf = load_trust(trust) if trust is not None else env_trust
    replay = SqlStore(store) if store else env_store
    ctx = Context(now=_now(now), oidc_issuers=conf.oidc_issuers, audience=audience or conf.audience,
                  mdoc_trust=conf.mdoc_trust, nonce=nonce, replay=replay)
    record = Engine().age_record(payload, kind, ctx)
    out = {**record.model_dump(mode="json"), "category": record.category,
           "rulebook_assurance": to_rulebook(record.level)}
    if fmt is Format.json:
        print_json(out)
        return
    t = Table(title=f"age record from {kind}", show_header=False)
    for key in ("band", "category", "level", "rulebook_assurance", "method", "issuer", "observed_at", "expires_at"):
        t.add_row(key, record.band_text() if key == "band" else str(out[key]))
    if record.guardian_approval:
        t.add_row("guardian approval", record.guardian_approval)
    for b in record.basis:
        t.add_row("basis", f"{b.act}: {b.status}" + ("" if b.enforced else " (duties not applied)")
                  + (", actual knowledge" if b.actual_knowledge else ""))
    console.print(t)
