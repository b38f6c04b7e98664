"""`portalhub audit`: who did what and when (an invoice's events with their actors and hashes), and
for auditors the hash chains verified, anchored outside the database, or exported (docs/audit.md)."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from hub.commands import context, output
from hub.commands.context import Command
from hub.commands.output import FOUND, OK, JsonOption, escape

PANEL = "Collectors"
commands = context.group()


@commands.command(cls=Command, rich_help_panel=PANEL)
def audit(
    what: Annotated[
        str,
        typer.Argument(
            help="An invoice number (its audit trail), `verify` (check every chain), `checkpoint` (anchor every "
            "chain head outside the database) or `export` (the log of a period)."
        ),
    ],
    anchors: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            help="verify: also check the store against this anchors file (signed checkpoints; see docs/audit.md).",
        ),
    ] = None,
    max_age: Annotated[
        float | None,
        typer.Option(
            help="verify --anchors: seconds the newest anchor may be old (default: twice the checkpoint interval + 60)."
        ),
    ] = None,
    since: Annotated[
        str, typer.Option(help="export: start of the period, a date or days ago (30d).")
    ] = "30d",
    until: Annotated[
        str | None, typer.Option(help="export: end of the period (exclusive); default now.")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="export: the JSONL file to write (default: standard output).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Who did what and when: an invoice's events with their actor (daemon worker, CLI user, portal)
    and hashes; `verify` recomputes every invoice's hash chain (exit 1 naming each broken one), and with
    `--anchors FILE` checks the store against signed checkpoints kept outside it; `checkpoint` writes one;
    `export` writes the events of a period as JSON lines."""
    if what == "checkpoint":
        _checkpoint(as_json)
    elif what == "verify":
        _verify(anchors, max_age, as_json)
    elif what == "export":
        _export(since, until, out_file)
    else:
        _trail(what, as_json)


def _checkpoint(as_json: bool) -> None:
    from hub.operations import audit_checkpoint

    with context.opened_hub() as hub:
        anchor = audit_checkpoint(hub)
    if as_json:
        output.emit_json(anchor.as_json())
    else:
        output.out.print(
            f"anchor {anchor.n}: {anchor.invoices} invoices, {anchor.events} events, "
            f"{anchor.heads} head(s) -> {anchor.file}"
        )


def _verify(anchors: Path | None, max_age: float | None, as_json: bool) -> None:
    from hub.operations import verify_audit

    with context.opened_hub() as hub:
        found = verify_audit(hub, anchors, max_age)
    if as_json:
        output.emit_json(found.as_json())
    else:
        for problem in found.problems:
            at = f" at event {problem.seq}" if problem.seq is not None else ""
            output.out.print(f"[red]broken[/red] {escape(problem.invoice_number)}{at}: {escape(problem.why)}")
        verdict = "verified" if found.ok else f"checked, {len(found.problems)} problem(s)"
        if found.anchors is not None:
            verdict += f" against {found.anchors} anchor(s) of {found.anchored_heads} invoice(s)"
        output.out.print(f"{found.events} events of {found.invoices} invoices {verdict}")
    raise typer.Exit(OK if found.ok else FOUND)


def _export(since: str, until: str | None, out_file: Path | None) -> None:
    from hub.operations import export_audit

    start, end = context.period(since, until)
    with context.opened_hub() as hub:
        if out_file is None:
            export_audit(hub, start, end, sys.stdout)
            return
        with out_file.open("w", encoding="utf-8") as stream:
            count = export_audit(hub, start, end, stream)
    output.err.print(f"{count} events from {start:%Y-%m-%d} to {end:%Y-%m-%d} written to {out_file}")


def _trail(number: str, as_json: bool) -> None:
    from rich.table import Table

    from hub.operations import audit_trail

    with context.opened_hub() as hub:
        trail = audit_trail(hub, number)
    if as_json:
        output.emit_json(trail.as_json())
        return
    table = Table(title=f"Audit trail of {escape(trail.invoice_number)} (state {trail.state})")
    for column in ("#", "When (UTC)", "Who", "What", "Why", "Hash"):
        table.add_column(column, overflow="fold")
    for entry in trail.events:
        table.add_row(
            str(entry["seq"]),
            entry["at"][:23],
            escape(entry["actor"]),
            f"{entry['from_state'] or '-'} -> {entry['to_state']}",
            escape(output.short(entry["reason"], 70)),
            (entry["hash"] or "")[:12],
        )
    output.out.print(table)
