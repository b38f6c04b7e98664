"""For someone trying portalhub: the whole hub end to end on the embedded default (`demo`), and one
sandbox portal with a ready configuration to run the hub against (`sandbox <family>`)."""

from pathlib import Path
from typing import Annotated

import typer

from hub.commands import context, output
from hub.commands.context import Command
from hub.commands.output import JsonOption, escape

PANEL = "Trying portalhub"
commands = context.group()


@commands.command(cls=Command, rich_help_panel=PANEL)
def demo(
    keep: Annotated[
        bool, typer.Option(help="Keep the workspace (database, AR, rules) to explore afterwards.")
    ] = False,
    workspace: Annotated[Path | None, typer.Option(help="Use this folder as the workspace (kept).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the hub end to end on the embedded default: SQLite, the Coupa sandbox, 50 demo AR invoices."""
    from rich.table import Table

    from hub.demo import run_demo

    out = output.out
    if not as_json:
        output.err.print(
            "Running the demo: AR -> rules -> Coupa sandbox -> status -> AR (takes about a minute)…"
        )
    outcome, root = run_demo(workspace, keep=keep or workspace is not None)
    if as_json:
        output.emit_json(outcome.__dict__)
        return
    table = Table(title="What happened to every invoice", show_lines=False)
    for column in ("Invoice", "Customer", "Portal", "Amount", "State", "Why"):
        table.add_column(column, overflow="fold")
    colour = {
        "PAID": "green",
        "APPROVED": "green",
        "BLOCKED": "yellow",
        "REJECTED": "red",
        "DISPUTED": "magenta",
    }
    for row in outcome.rows:
        number = row["invoice_number"] + (f" (as {row['sent_as']})" if row["sent_as"] else "")
        state = row["state"] + (f" r{row['revision']}" if row["revision"] > 1 else "")
        table.add_row(
            number,
            row["customer_id"],
            row["profile_id"] or "-",
            output.money_text(row["total"], row["currency"]),
            f"[{colour.get(row['state'], 'white')}]{state}[/]",
            output.short(row["reason"], 90),
        )
    out.print(table)
    if outcome.quarantined:
        quarantine = Table(title="Quarantined AR records (not invoices; fix in AR)")
        for column in ("AR record", "Invoice", "Why"):
            quarantine.add_column(column, overflow="fold")
        for q in outcome.quarantined:
            quarantine.add_row(q["ar_key"], q["invoice_number"] or "-", output.short(q["reason"], 100))
        out.print(quarantine)
    counts: dict[str, int] = {}
    for row in outcome.rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    summary = ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))
    out.print(
        f"\n[bold]{len(outcome.rows)} invoices[/bold]: {summary}; quarantined {len(outcome.quarantined)}."
    )
    out.print(
        f"Portal holds {outcome.portal_invoices} invoices from the hub, duplicates: {outcome.duplicates_at_portal}. "
        f"Faults injected: {outcome.faults or 'none'}. DTD check: {'on' if outcome.dtd_checked else 'off (no ../shared/refs/cxml)'}. "
        f"PIDX XSD check: {'on' if outcome.xsd_checked else 'off (no ../shared/refs/pidx)'}. "
        f"Cycles: {outcome.cycles}."
    )
    if keep or workspace is not None:
        out.print(f"Workspace kept: {root}\n  try: portalhub -c {root}/portalhub.yaml show INV-24017")
        if outcome.web_login:
            name, password = outcome.web_login
            out.print(
                f"Web worklist: portalhub -c {root}/portalhub.yaml web, then open http://127.0.0.1:8780/ "
                f"and log in as {name} / {password}",
                soft_wrap=True,
            )


@commands.command(cls=Command, rich_help_panel=PANEL)
def sandbox(
    family: Annotated[str, typer.Argument(help="The portal family: coupa, ariba, openinvoice, webportal.")],
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to write its profile, secrets and hub config (default: a new folder)."
        ),
    ] = None,
) -> None:
    """Start one sandbox portal in the foreground, with a ready hub configuration and profile pointing at
    it and a few demo AR invoices; try `portalhub -c DIR/portalhub.yaml run --once` beside it. Ctrl-C stops it."""
    import signal
    import threading

    from hub.demo.sandbox import start_sandbox
    from hub.errors import ConfigError

    out = output.out
    try:
        run = start_sandbox(family, directory)
    except ConfigError as exc:
        output.fail(str(exc))
    try:
        out.print(f"[bold]{family} sandbox[/bold] listening on {', '.join(run.urls)}")
        out.print(f"hub configuration: {escape(str(run.config_path))} (secrets.yaml, demo AR in ar.db)")
        out.print(f"profiles: {', '.join(escape(str(path)) for path in run.profiles)}")
        out.print(f"--- {run.profiles[0].name} ---", highlight=False)
        out.print(escape(run.profiles[0].read_text(encoding="utf-8").rstrip()), highlight=False)
        out.print("---")
        out.print(f"try: portalhub -c {escape(str(run.config_path))} run --once")
        out.print("Ctrl-C (or SIGTERM) stops the sandbox.")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
    finally:
        run.stop()
        out.print("sandbox stopped")
