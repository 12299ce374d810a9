"""`tutela demo`: illustrative decisions with reasons and citations, then the API."""

from __future__ import annotations

import typer
from rich.panel import Panel

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine
from tutela.policy import Decision
from tutela.services.demo import CASES


def _render(title: str, d: Decision) -> Panel:
    colour = {"deny": "red", "allow": "green", "allow_with_obligations": "yellow"}[d.effect]
    lines = [f"[bold {colour}]{d.effect.upper()}[/]  (age {d.age}, on {d.evaluated_on})"]
    for r in d.determining:
        lines.append(f"  [bold]{r.id}[/] {r.title}\n    {r.instrument}, {r.section} — {r.url}")
    if d.obligations:
        lines.append("  obligations: " + ", ".join(d.obligations))
    for m in d.missing:
        what = (f"consent `{m.scope}` by {m.by} at assurance {m.assurance}" + (" (separate)" if m.separate else "")
                if m.kind == "consent" else f"safeguard `{m.safeguard}`")
        lines.append(f"  [cyan]missing:[/] {what}")
    if d.effect == "deny" and not d.lawful_possible:
        lines.append("  [dim]no consent or safeguard makes this lawful[/]")
    return Panel("\n".join(lines), title=title, title_align="left", expand=True)


def run(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the API afterwards"),
    port: int = typer.Option(8000, help="API port"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Print decisions for illustrative children, then serve the API on 127.0.0.1."""
    engine = Engine()
    results = [(title, engine.decide(req)) for title, req in CASES]
    if fmt is Format.json:
        print_json([{"case": t, "decision": d.model_dump(mode="json")} for t, d in results])
    else:
        console.print(f"[bold]Tutela[/] rulebook {engine.version}: "
                      f"{len(engine.rulebook.jurisdictions)} jurisdictions\n")
        for title, d in results:
            console.print(_render(title, d))
    if serve:
        from tutela.cli.serve import run as serve_run

        console.print(f"\nAPI: http://127.0.0.1:{port}/docs  (OpenAPI: /openapi.json, POST /v1/decisions)")
        serve_run(host="127.0.0.1", port=port)
