"""`tutela stream guard --in EVENTS --state STATE --out FILE` and `tutela stream nats --from SUBJ
--to SUBJ --stream NAME --state STATE`: the stream guard over a file of events, or as a NATS
JetStream consumer (docs/guard.md). Pseudonym keys come from TUTELA_STREAM_KEYS.

Exit codes: 0 done, 3 bad input (nothing written)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from tutela.cli._output import Format, console, err_console, print_json
from tutela.engine import Engine
from tutela.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

    from tutela.models import StreamConsumerStats as ConsumerStats

group = typer.Typer(help="Guard platform events in the data path: drop, coarsen, pseudonymise.",
                    no_args_is_help=True)


def _write(table: pa.Table, out: Path) -> None:
    """Whole or nothing: written beside the target, then renamed over it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out.suffix not in (".parquet", ".arrow"):
        raise InputError("unknown output format", where="--out", hint="end the name in .parquet or .arrow")
    tmp = out.with_name(out.name + ".tutela-tmp")
    plain = pa.table({n: (c.combine_chunks().dictionary_decode() if pa.types.is_dictionary(c.type) else c)
                      for n, c in zip(table.column_names, table.columns, strict=True)}) if out.suffix == ".parquet" \
        else table
    try:
        if out.suffix == ".parquet":
            pq.write_table(plain, tmp)
        else:
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, plain.schema) as writer:
                writer.write_table(plain)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write: {exc.strerror}", where=str(out)) from None


@group.command("guard")
def guard(
    events: Path = typer.Option(..., "--in", help="events: .parquet or .arrow (Arrow IPC file or stream)"),
    state: Path = typer.Option(..., "--state", help="subject-state table: .parquet or .arrow"),
    out: Path = typer.Option(..., "--out", help="guarded events: .parquet or .arrow"),
    registry: Path | None = typer.Option(None, "--registry", help="recipient registry YAML: events naming a "
                                         "`recipient_id` the transfer gate denies are dropped"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Guard a file of events under a subject-state table; print what was done and why."""
    for p, opt in ((events, "--in"), (state, "--state")):
        if not p.is_file():
            raise InputError("no such file", where=f"{opt} {p}")
    from tutela.models import read_arrow_file

    engine = Engine()
    gate = engine.transfers(registry) if registry is not None else None
    result = engine.stream_guard(state, transfers=gate).guard(read_arrow_file(events), where=str(events))
    _write(result.table, out)
    summary = result.summary()
    if fmt is Format.json:
        print_json({"out": str(out), "events_out": result.table.num_rows, "state_version": result.state_version,
                    "counts": summary})
        return
    t = Table(title=f"{result.table.num_rows} event(s) written to {out}")
    for col in ("action", "field", "reason", "events"):
        t.add_column(col, overflow="fold")
    for row in summary:
        t.add_row(row["action"], row["field"], row["reason"], str(row["events"]))
    console.print(t)


@group.command("nats")
def nats(
    subject_in: str = typer.Option(..., "--from", help="subject to read events from"),
    subject_out: str = typer.Option(..., "--to", help="subject to publish guarded events to"),
    stream: str = typer.Option(..., "--stream", help="the JetStream stream holding --from"),
    state: Path = typer.Option(..., "--state", help="subject-state file, re-read when it changes"),
    durable: str = typer.Option("tutela-stream-guard", "--durable", help="durable consumer name"),
    server: str = typer.Option("nats://127.0.0.1:4222", "--server", help="NATS server URL"),
    refresh_ms: int = typer.Option(1000, "--refresh-ms", min=10, help="state re-read bound (revocation)"),
    batch: int = typer.Option(16, "--batch", min=1, help="messages fetched at a time"),
    ack_wait: float = typer.Option(10.0, "--ack-wait", min=0.5, help="seconds before JetStream redelivers"),
    idle_exit: float | None = typer.Option(None, "--idle-exit", help="stop after this many idle seconds"),
    registry: Path | None = typer.Option(None, "--registry", help="recipient registry YAML: events naming a "
                                         "`recipient_id` the transfer gate denies are dropped"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Consume --from, publish guarded events to --to; ack each input after its output is stored."""
    if not state.is_file():
        raise InputError("no such file", where=f"--state {state}")
    engine = Engine()
    gate = engine.transfers(registry) if registry is not None else None
    g = engine.stream_guard(state, refresh_ms=refresh_ms, transfers=gate)
    err_console.print(f"guarding {subject_in} -> {subject_out}", highlight=False)

    def progress(stats: ConsumerStats) -> None:
        if stats.messages % 100 == 0:
            err_console.print(f"{stats.messages} message(s), {stats.events_in} event(s) in", highlight=False)

    from tutela.models import NatsConsumer

    consumer = NatsConsumer(g, subject_in, subject_out, stream, durable, server, batch, ack_wait, idle_exit,
                            progress)
    stats = consumer.run_sync()
    data = {"messages": stats.messages, "events_in": stats.events_in, "events_out": stats.events_out,
            "terminated": stats.terminated, "redelivered": stats.redelivered, "actions": stats.actions}
    if fmt is Format.json:
        print_json(data)
    else:
        console.print(data)
