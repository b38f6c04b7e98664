"""The operators' commands (AR operations running a deployment): the daemon (`run`), the store's schema
(`migrate`), the configuration (`config check | schema | docs`), the period `report`, the web pages
(`web`) and who may use them (`users ...`)."""

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from hub.commands import context, output
from hub.commands.context import Command
from hub.commands.output import FOUND, OK, JsonOption, escape

PANEL = "Operators"
commands = context.group()
config = context.group(
    help="Check portalhub.yaml and everything it names before deploying; its schema and reference.",
    no_args_is_help=True,
)
commands.add_typer(config, name="config", rich_help_panel=PANEL)
users = context.group(
    help="Who may use the web pages and the API: users (viewer, collector, admin) and API tokens.",
    no_args_is_help=True,
)
commands.add_typer(users, name="users", rich_help_panel=PANEL)


@commands.command(cls=Command, rich_help_panel=PANEL)
def run(once: Annotated[bool, typer.Option("--once", help="Run one full cycle and exit.")] = False) -> None:
    """Run the daemon: ingest, validate, submit, poll, feed back (SIGTERM stops it cleanly)."""
    import logging

    from hub.config_check import fatal_problems
    from hub.daemon import Daemon
    from hub.runtime import as_the_only_daemon

    clean = True
    if not context.settings["verbose"]:
        context.configure_logging(logging.INFO)  # the daemon says what it does by default (hub/logs.py)
    with context.opened_hub(initialize=True) as hub, as_the_only_daemon(hub):
        # The daemon does not start on a problem that would stop every profile (`portalhub config check`).
        problems = fatal_problems(hub.config)
        if problems:
            output.fail(
                "the daemon does not start: " + "; ".join(problems) + " (see `portalhub config check`)"
            )
        daemon = Daemon(hub)
        if once:
            report = daemon.run_once()
            sent = sum(s.sent for s in report.submits.values())
            delivered = report.feedback.delivered if report.feedback else 0
            output.out.print(
                f"ingest: {report.intake}; sent {sent}; lease expiries {report.expired}; feedback delivered {delivered}"
            )
            for profile_id, submitted in sorted(report.submits.items()):
                if submitted.health is not None:
                    output.err.print(
                        f"profile {escape(profile_id)} {escape(submitted.health.describe())}", highlight=False
                    )
        else:
            clean = daemon.run_forever()
    if not once and not clean:
        # A job outlived the shutdown grace period: its thread must not keep the process alive.
        os._exit(3)


@commands.command(cls=Command, rich_help_panel=PANEL)
def migrate(as_json: JsonOption = False) -> None:
    """Bring the store's schema to this version (back the store up first; daemons may keep running on
    PostgreSQL: migrations there are serialised and additive)."""
    from hub.errors import ConfigError
    from hub.store_schema import migrate_store

    store_url = context.load_configuration().store_url
    try:
        done = migrate_store(store_url)
    except ConfigError as exc:
        output.fail(str(exc))
    if as_json:
        output.emit_json(done.as_json())
    elif done.before == done.after:
        output.out.print(f"{done.store}: already at schema revision {done.after}")
    else:
        output.out.print(f"{done.store}: schema revision {done.before or '(new store)'} -> {done.after}")


@config.command("check", cls=Command)
def config_check(
    connect: Annotated[
        bool,
        typer.Option("--connect", help="Also open the store, read the AR source and sign in to each portal."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check portalhub.yaml, every rules file and every secret reference (values are never printed);
    with --connect, the store, the AR source and each portal's credentials. Exit 1 on an error."""
    from hub.config_check import check_configuration
    from hub.errors import ConfigError

    try:
        path = context.config_path()
    except ConfigError as exc:
        output.fail(str(exc))
    report = check_configuration(path, connect=connect)
    if as_json:
        output.emit_json(report.as_json())
    else:
        marks = {"ok": "[green]✓[/green]", "warning": "[yellow]![/yellow]", "error": "[red]✗[/red]"}
        for finding in report.findings:
            console = output.out if finding.severity == "ok" else output.err
            console.print(
                f"{marks[finding.severity]} {escape(finding.subject)}: {escape(finding.message)}",
                highlight=False,
            )
        warnings = sum(1 for f in report.findings if f.severity == "warning")
        verdict = "[green]ok[/green]" if report.ok else "[red]problems found[/red]"
        output.out.print(f"{len(report.errors)} error(s), {warnings} warning(s): {verdict}")
    raise typer.Exit(OK if report.ok else FOUND)


@config.command("schema", cls=Command)
def config_schema() -> None:
    """Print the JSON Schema of portalhub.yaml (every key described), for editor completion."""
    from hub.config_docs import config_schema as schema

    sys.stdout.write(json.dumps(schema(), indent=2) + "\n")


@config.command("docs", cls=Command)
def config_docs() -> None:
    """Print the reference page of portalhub.yaml (docs/configuration.md is this output)."""
    from hub.config_docs import config_markdown

    sys.stdout.write(config_markdown())


@commands.command(cls=Command, rich_help_panel=PANEL)
def report(
    since: Annotated[
        str, typer.Option(help="Start of the period: a date (2026-11-01) or days ago (30d).")
    ] = "30d",
    until: Annotated[
        str | None, typer.Option(help="End of the period (exclusive): a date or days ago; default now.")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for report.html and the CSV files (default ./reports/<period>)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Report a period: first-pass acceptance per portal and customer, problems by category, share
    caught before sending, median days to submission, approval and payment, amount outstanding.
    Prints a summary and writes an HTML page with charts plus CSV files."""
    from rich.table import Table

    from hub.operations import period_report

    start, end = context.period(since, until)
    folder = out_dir or Path("reports") / f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"
    with context.opened_hub() as hub:
        done = period_report(hub, start, end, folder)
    if as_json:
        output.emit_json(done.as_json())
        return
    out, data = output.out, done.data
    acceptance = Table(title=f"First-pass acceptance, {start:%Y-%m-%d} to {end:%Y-%m-%d}")
    for column in ("Portal / customer", "Sent", "First time", "Refused", "Rate"):
        acceptance.add_column(column, justify="right" if column != "Portal / customer" else "left")
    for entry in [*data.by_portal, *data.by_customer]:
        rate = "n/a" if entry.rate is None else f"{entry.rate:.0%}"
        acceptance.add_row(entry.key, str(entry.sent), str(entry.first_pass), str(entry.refused), rate)
    out.print(acceptance)
    problems = Table(title="Problems by category")
    for column in ("Category", "Pre-flight", "Portal"):
        problems.add_column(column)
    for count in data.categories:
        problems.add_row(count.label, str(count.preflight), str(count.portal))
    out.print(problems)
    share = "n/a" if data.preflight_share is None else f"{data.preflight_share:.0%}"
    out.print(
        f"Caught before sending: {share} ({data.caught_by_preflight} pre-flight, {data.caught_by_portal} portal)"
    )
    for cycle in data.cycle_times:
        out.print(
            f"Median days from invoice date to {cycle.milestone}: {cycle.median_days if cycle.median_days is not None else 'n/a'} (n={cycle.invoices})"
        )
    totals = ", ".join(output.money_text(v, cur) for cur, v in data.outstanding_totals().items()) or "nothing"
    out.print(f"Outstanding at the end of the period: {totals}")
    out.print(f"Written: {done.written.html} and {len(done.written.csvs)} CSV file(s) in {folder}")


@commands.command(cls=Command, rich_help_panel=PANEL)
def web(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: web.host, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: web.port, 8780).")] = None,
) -> None:
    """Serve the collectors' web pages and the HTTP API (docs/web.md) until Ctrl-C."""
    import uvicorn

    from hub.config import WebConfig
    from hub.web import session_secret
    from hub.web.app import create_app

    with context.opened_hub() as hub:
        settings = hub.config.web or WebConfig()
        app_ = create_app(hub, secret_key=session_secret(hub), secure_cookies=settings.secure_cookies)
        bind, listen = host or settings.host, settings.port if port is None else port
        output.err.print(f"portalhub web on http://{bind}:{listen}/ (Ctrl-C stops it)")
        uvicorn.run(app_, host=bind, port=listen, log_level="warning")


@commands.command(cls=Command, rich_help_panel=PANEL)
def connectors(as_json: JsonOption = False) -> None:
    """The installed portal families (built-in and third-party): document format, transports and what
    each can do (`Connector.describe`; docs/connectors.md says how to write one)."""
    from rich.table import Table

    from hub.registry import ConnectorRegistry

    registry = ConnectorRegistry()
    described = [registry.get(name).describe() for name in registry.names]
    if as_json:
        output.emit_json([d.as_dict() for d in described])
        return
    table = Table(title="Installed portal families")
    for column in ("Family", "Document", "Transports", "Can", "What it is"):
        table.add_column(column, overflow="fold")
    for d in described:
        table.add_row(
            d.name, d.document_format, ", ".join(d.transports), ", ".join(d.capabilities), escape(d.summary)
        )
    output.out.print(table)


@users.command("add", cls=Command)
def users_add(
    name: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[str, typer.Option(help="viewer, collector or admin.")] = "viewer",
    customer: Annotated[
        list[str] | None,
        typer.Option(help="A collector acts on this customer's invoices only (repeatable; none: all)."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (scripts).")
    ] = False,
) -> None:
    """Add a user who logs in to the web pages (the password is asked, or read with --password-stdin)."""
    from hub.operations import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with context.opened_hub() as hub:
        add_user(hub, name, password, role, tuple(customer or ()))
    output.out.print(f"user {name} added ({role})")


@users.command("list", cls=Command)
def users_list(as_json: JsonOption = False) -> None:
    """Users (role, customers, disabled, tokens) and API tokens; never a password or a token."""
    from rich.table import Table

    from hub.operations import accounts

    with context.opened_hub() as hub:
        found = accounts(hub)
    if as_json:
        output.emit_json(found.as_json())
        return
    table = Table(title="Users")
    for column in ("User", "Role", "Customers", "State", "Tokens"):
        table.add_column(column)
    for u in found.users:
        table.add_row(
            u["name"],
            u["role"] or "(none)",
            " ".join(u["customers"]) or "all",
            "disabled" if u["disabled"] else "active",
            " ".join(u["tokens"]),
        )
    output.out.print(table)
    tokens_table = Table(title="API tokens")
    for column in ("Token", "User", "Role", "Last used", "State"):
        tokens_table.add_column(column)
    for t in found.tokens:
        tokens_table.add_row(
            t["name"],
            t["user"] or "(system)",
            t["role"] or "(the user's)",
            t["last_used_at"] or "never",
            "revoked" if t["revoked"] else "active",
        )
    output.out.print(tokens_table)


@users.command("disable", cls=Command)
def users_disable(name: Annotated[str, typer.Argument(help="The login name.")]) -> None:
    """Disable a user: no login; open sessions and the user's tokens stop working at once."""
    from hub.operations import disable_user

    with context.opened_hub() as hub:
        disable_user(hub, name)
    output.out.print(f"user {name} disabled")


@users.command("token", cls=Command)
def users_token(
    name: Annotated[str, typer.Argument(help="The token's name (recorded as api:<name> on every action).")],
    user: Annotated[str | None, typer.Option(help="A user's token: it acts with the user's role.")] = None,
    role: Annotated[str | None, typer.Option(help="A system's token with its own role.")] = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke the token of this name.")] = False,
) -> None:
    """Make an API token (printed once; only its hash is kept), or revoke one with --revoke."""
    from hub.operations import create_token, revoke_token

    with context.opened_hub() as hub:
        if revoke:
            revoke_token(hub, name)
            output.out.print(f"token {name} revoked")
            return
        token = create_token(hub, name, user=user, role=role)
    output.err.print(f"token {name} made; it is shown once, keep it in a secret store:")
    sys.stdout.write(token + "\n")
