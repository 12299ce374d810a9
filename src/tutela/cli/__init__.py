"""The `tutela` command line: a thin layer over `tutela.engine.Engine`.

Exit codes (docs/cli.md): 0 ok / allowed, 1 a check found problems, 2 denied, 3 bad input
(a usage error of the command line included), 4 a store unavailable. Each subcommand's module
imports what it needs when it runs, so `tutela --help` loads no capability.
"""

from __future__ import annotations

import sys

import typer
from typer import Abort
from typer._click.exceptions import UsageError  # typer 0.29 vendors Click; its usage errors are these

from tutela.cli import (
    adreq_guard,
    age_read,
    age_requirements,
    audit,
    consent_grants,
    consent_request,
    consent_revoke,
    consent_state,
    datamap_check,
    datamap_draft,
    datamap_import,
    decide,
    demo,
    estate_generate,
    estate_truth,
    evidence,
    evidence_verify,
    ledger_append,
    ledger_checkpoint,
    ledger_verify,
    media_clean,
    remediate,
    requests_approve,
    requests_create,
    requests_export,
    requests_extend,
    requests_list,
    requests_reject,
    requests_run,
    requests_show,
    rules_check,
    rules_diff,
    rules_list,
    rules_show,
    serve,
    staff_add,
    staff_disable,
    staff_list,
    stream_guard,
    taxonomy,
    transfers_check,
    transfers_list,
    watch,
)
from tutela.cli._output import EXIT_INPUT, EXIT_UNAVAILABLE, fail
from tutela.errors import StoreUnavailable, TutelaError

app = typer.Typer(help="Tutela: children's privacy compliance engine.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
rules = typer.Typer(help="Browse and check the rulebook.", no_args_is_help=True)
app.add_typer(rules, name="rules")


def _version(value: bool) -> None:
    if value:
        from tutela import __version__
        from tutela.engine import Engine

        typer.echo(f"tutela {__version__} (rulebook {Engine().version})")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                       help="print Tutela's version and the rulebook's version, then exit")) -> None:
    """Tutela: children's privacy compliance engine."""



datamap = typer.Typer(help="Import and check data maps (Fides datasets).", no_args_is_help=True)
app.add_typer(datamap, name="datamap")
datamap.command("check")(datamap_check.run)
datamap.command("import")(datamap_import.run)
datamap.command("draft")(datamap_draft.run)
estate = typer.Typer(help="Generate the synthetic ClipStream estate and read its ground truth.", no_args_is_help=True)
app.add_typer(estate, name="estate")
estate.command("generate")(estate_generate.run)
estate.command("truth")(estate_truth.run)
rules.command("list")(rules_list.run)
rules.command("show")(rules_show.run)
rules.command("check")(rules_check.run)
rules.command("diff")(rules_diff.run)
requests = typer.Typer(help="Rights requests of children and parents: access and erasure.", no_args_is_help=True)
app.add_typer(requests, name="requests")
for _name, _mod in (("create", requests_create), ("list", requests_list), ("show", requests_show),
                    ("approve", requests_approve), ("reject", requests_reject), ("extend", requests_extend),
                    ("run", requests_run), ("export", requests_export)):
    requests.command(_name)(_mod.run)
media = typer.Typer(help="Remove location and metadata from photos and videos.", no_args_is_help=True)
app.add_typer(media, name="media")
media.command("clean")(media_clean.run)
app.command("decide")(decide.run)
app.command("serve")(serve.run)
app.command("demo")(demo.run)
app.command("audit")(audit.run)
app.command("remediate")(remediate.run)
age = typer.Typer(help="Age assurance: read and verify age signals; the levels each law needs.", no_args_is_help=True)
app.add_typer(age, name="age")
age.command("read")(age_read.run)
age.command("requirements")(age_requirements.run)
adreq = typer.Typer(help="Guard OpenRTB 2.6 bid requests.", no_args_is_help=True)
app.add_typer(adreq, name="adreq")
adreq.command("guard")(adreq_guard.run)
ledger = typer.Typer(help="The tamper-evident ledger: append, checkpoint, verify.", no_args_is_help=True)
app.add_typer(ledger, name="ledger")
for _name, _fn in (("verify", ledger_verify.run), ("checkpoint", ledger_checkpoint.run),
                   ("append", ledger_append.run), ("key", ledger_checkpoint.key)):
    ledger.command(_name)(_fn)
app.add_typer(stream_guard.group, name="stream")
app.add_typer(taxonomy.group, name="taxonomy")
transfers = typer.Typer(help="Cross-border transfers: check a recipient, list where the data goes.",
                        no_args_is_help=True)
app.add_typer(transfers, name="transfers")
transfers.command("check")(transfers_check.run)
transfers.command("list")(transfers_list.run)
evidence.group.command("verify")(evidence_verify.run)
app.add_typer(evidence.group, name="evidence")
consent = typer.Typer(help="Verifiable parental consent: sign-up requests, grants, revocation.", no_args_is_help=True)
app.add_typer(consent, name="consent")
consent.command("request")(consent_request.run)
consent.command("grants")(consent_grants.run)
consent.command("revoke")(consent_revoke.run)
consent.command("state")(consent_state.run)
staff = typer.Typer(help="Console accounts of the privacy team: dpo, support, auditor.", no_args_is_help=True)
app.add_typer(staff, name="staff")
staff.command("add")(staff_add.run)
staff.command("list")(staff_list.run)
staff.command("disable")(staff_disable.run)
app.command("watch")(watch.run)


def main() -> None:
    json_out = "--format" in sys.argv and "json" in sys.argv
    try:
        code = app(standalone_mode=False)
    except UsageError as exc:  # Click would exit 2, the code of "denied"
        exc.show()
        raise SystemExit(EXIT_INPUT) from None
    except Abort:
        raise SystemExit(130) from None
    except StoreUnavailable as exc:
        fail(exc, json_out=json_out, code=EXIT_UNAVAILABLE)
    except TutelaError as exc:
        fail(exc, json_out=json_out)
    raise SystemExit(code if isinstance(code, int) else 0)
