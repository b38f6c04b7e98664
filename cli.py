"""`portalhub`: the command line. Parses, calls hub services, renders (rich tables, or --json).

Exit codes: 0 ok; 1 violations or rejections found; 2 usage or configuration error.
Heavy modules are imported inside the commands, so `portalhub --help` stays fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from hub.readonly import StoreView
    from hub.runtime import Hub

OK, FOUND, USAGE = 0, 1, 2

app = typer.Typer(
    help="portalhub: gets every AR invoice into each buyer's procurement portal, checked before it is sent.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
rules_app = typer.Typer(help="Check and explore rules files (one per customer portal).", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
profile_app = typer.Typer(help="Portal profiles that cannot work: release a hold.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")
schema_app = typer.Typer(help="JSON Schemas of what portalhub reads from AR systems.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
webhook_app = typer.Typer(
    help="portalhub's webhooks (AR status events, notification digests): check a signature, or make a "
    "signed test event.",
    no_args_is_help=True,
)
app.add_typer(webhook_app, name="webhook")
config_app = typer.Typer(
    help="Check portalhub.yaml and everything it names before deploying; its schema and reference.",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")
recipe_app = typer.Typer(
    help="Web portals' recipes: try one without sending, or print its schema.", no_args_is_help=True
)
app.add_typer(recipe_app, name="recipe")
users_app = typer.Typer(
    help="Who may use the web pages and the API: users (viewer, collector, admin) and API tokens.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")

# Tables are for people; piped into a file or CI log they should not fold at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)  # error text is copied and grepped: never hard-wrapped
_state: dict[str, Any] = {"config": None}

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Hub configuration (default: $PORTALHUB_CONFIG or ./portalhub.yaml)."
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug).")
    ] = 0,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format", help="text, or json: one object per line for log shippers.", case_sensitive=False
        ),
    ] = "text",
) -> None:
    if log_format.lower() not in ("text", "json"):
        fail(f"--log-format must be text or json, not {log_format!r}")
    _state["config"] = config
    _state["verbose"] = verbose
    _state["log_format"] = log_format.lower()
    _configure_logging(logging.WARNING - 10 * min(verbose, 2))


def _configure_logging(level: int) -> None:
    from hub.logs import configure

    configure(level, _state.get("log_format", "text"))


def fail(message: str, code: int = USAGE) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def opened_hub(*, initialize: bool = False) -> Iterator[Hub]:
    """The hub of the configured deployment. Its store must be at this version's schema: commands never
    migrate it on the side (`portalhub migrate` does); `initialize` lets the daemon create a new one."""
    from hub.config import find_config, load_config
    from hub.errors import ConfigError
    from hub.runtime import build_hub
    from hub.store_schema import require_current_schema

    try:
        config = load_config(find_config(_state["config"]))
        require_current_schema(config.store_url, initialize=initialize)
        hub = build_hub(config, migrate=False)
    except ConfigError as exc:
        fail(str(exc))
    try:
        yield hub
    except ConfigError as exc:
        fail(str(exc))
    finally:
        hub.close()


@contextmanager
def opened_view() -> Iterator[StoreView]:
    """The store and configuration only, for commands that answer without sending (hub/readonly/):
    no connector, no compiled rules, no AR adapter, so no deployment secret is needed."""
    from hub.config import find_config, load_config
    from hub.errors import ConfigError
    from hub.store_schema import open_view

    try:
        view = open_view(load_config(find_config(_state["config"])))
    except ConfigError as exc:
        fail(str(exc))
    try:
        yield view
    except ConfigError as exc:
        fail(str(exc))
    finally:
        view.close()


def emit_json(data: Any) -> None:
    text = json.dumps(data, default=str, indent=2, ensure_ascii=False)
    if out.is_terminal:
        out.print_json(text)
    else:
        # Piped into jq, a file or a script: the same text, without rich's highlighter (it took ~7 s
        # and ~400 MB to print the 5,000-row worklist of a big store).
        sys.stdout.write(text + "\n")


def _short(text: str | None, width: int = 110) -> str:
    """Portal and AR words, shortened and escaped: a `[rule-id]` must print, not be taken for markup."""
    text = (text or "").replace("\n", " ")
    return escape(text if len(text) <= width else text[: width - 1] + "…")


# --- demo and daemon -------------------------------------------------------------------------------------
@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option(help="Keep the workspace (database, AR, rules) to explore afterwards.")
    ] = False,
    workspace: Annotated[Path | None, typer.Option(help="Use this folder as the workspace (kept).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the hub end to end on the embedded default: SQLite, the Coupa sandbox, 50 demo AR invoices."""
    from hub.demo import run_demo

    if not as_json:
        err.print("Running the demo: AR -> rules -> Coupa sandbox -> status -> AR (takes about a minute)…")
    outcome, root = run_demo(workspace, keep=keep or workspace is not None)
    if as_json:
        emit_json(outcome.__dict__)
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
            money_text(row["total"], row["currency"]),
            f"[{colour.get(row['state'], 'white')}]{state}[/]",
            _short(row["reason"], 90),
        )
    out.print(table)
    if outcome.quarantined:
        quarantine = Table(title="Quarantined AR records (not invoices; fix in AR)")
        for column in ("AR record", "Invoice", "Why"):
            quarantine.add_column(column, overflow="fold")
        for q in outcome.quarantined:
            quarantine.add_row(q["ar_key"], q["invoice_number"] or "-", _short(q["reason"], 100))
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


@app.command()
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

    try:
        run = start_sandbox(family, directory)
    except ConfigError as exc:
        fail(str(exc))
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


@app.command()
def connectors(as_json: JsonOption = False) -> None:
    """The installed portal families (built-in and third-party): document format, transports and what
    each can do (`Connector.describe`; docs/connectors.md says how to write one)."""
    from hub.registry import ConnectorRegistry

    registry = ConnectorRegistry()
    described = [registry.get(name).describe() for name in registry.names]
    if as_json:
        emit_json([d.as_dict() for d in described])
        return
    table = Table(title="Installed portal families")
    for column in ("Family", "Document", "Transports", "Can", "What it is"):
        table.add_column(column, overflow="fold")
    for d in described:
        table.add_row(
            d.name, d.document_format, ", ".join(d.transports), ", ".join(d.capabilities), escape(d.summary)
        )
    out.print(table)


@app.command()
def run(once: Annotated[bool, typer.Option("--once", help="Run one full cycle and exit.")] = False) -> None:
    """Run the daemon: ingest, validate, submit, poll, feed back (SIGTERM stops it cleanly)."""
    from hub.daemon import Daemon
    from hub.runtime import as_the_only_daemon

    clean = True
    if not _state.get("verbose"):
        _configure_logging(logging.INFO)  # the daemon says what it does by default (hub/logs.py)
    with opened_hub(initialize=True) as hub, as_the_only_daemon(hub):
        _refuse_fatal_configuration(hub)
        daemon = Daemon(hub)
        if once:
            report = daemon.run_once()
            sent = sum(s.sent for s in report.submits.values())
            delivered = report.feedback.delivered if report.feedback else 0
            out.print(
                f"ingest: {report.intake}; sent {sent}; lease expiries {report.expired}; feedback delivered {delivered}"
            )
            for profile_id, submitted in sorted(report.submits.items()):
                if submitted.health is not None:
                    err.print(
                        f"profile {escape(profile_id)} {escape(submitted.health.describe())}", highlight=False
                    )
        else:
            clean = daemon.run_forever()
    if not once and not clean:
        # A job outlived the shutdown grace period: its thread must not keep the process alive.
        os._exit(3)


@app.command()
def migrate(as_json: JsonOption = False) -> None:
    """Bring the store's schema to this version (back the store up first; daemons may keep running on
    PostgreSQL: migrations there are serialised and additive)."""
    from hub.config import find_config, load_config
    from hub.errors import ConfigError
    from hub.store_schema import migrate_store

    try:
        done = migrate_store(load_config(find_config(_state["config"])).store_url)
    except ConfigError as exc:
        fail(str(exc))
    if as_json:
        emit_json(done.as_json())
    elif done.before == done.after:
        out.print(f"{done.store}: already at schema revision {done.after}")
    else:
        out.print(f"{done.store}: schema revision {done.before or '(new store)'} -> {done.after}")


def _refuse_fatal_configuration(hub: Hub) -> None:
    """The daemon does not start on a problem that would stop every profile (`portalhub config check`)."""
    from hub.config_check import fatal_problems

    problems = fatal_problems(hub.config)
    if problems:
        fail("the daemon does not start: " + "; ".join(problems) + " (see `portalhub config check`)")


# --- collectors ----------------------------------------------------------------------------------------------
@app.command()
def status(as_json: JsonOption = False) -> None:
    """Invoices per portal and state, and everything that needs a person."""
    from hub.readonly import status_summary

    with opened_view() as hub:
        summary = status_summary(hub)
    if as_json:
        emit_json(summary)
        return
    states = sorted({s for counts in summary["profiles"].values() for s in counts})
    table = Table(title="Invoices by portal profile and state")
    table.add_column("Profile")
    for state in states:
        table.add_column(state, justify="right")
    for profile, counts in sorted(summary["profiles"].items()):
        table.add_row(profile, *[str(counts.get(s, "")) for s in states])
    out.print(table)
    if summary["attention"]:
        attention = Table(title="Needs attention")
        for column in ("Invoice", "State", "Profile", "Why"):
            attention.add_column(column, overflow="fold")
        for item in summary["attention"]:
            attention.add_row(
                item["invoice_number"], item["state"], item["profile_id"] or "-", escape(item["why"])
            )
        out.print(attention)
    if summary["quarantined"]:
        out.print(
            f"[yellow]{summary['quarantined']} AR record(s) quarantined[/yellow] (not valid invoices: `portalhub quarantine` lists them with the reasons)"
        )
    for file, problems in summary["broken_rules_files"].items():
        out.print(f"[red]rules file {escape(file)} does not load[/red]; its customers' invoices wait:")
        for problem in problems:
            out.print(f"  {escape(problem)}")
    for profile_id, health in summary["profile_health"].items():
        out.print(f"[red]profile {escape(profile_id)}[/red] {escape(health['summary'])}")
    for customer, why in summary["contested_customers"].items():
        out.print(f"[red]customer {escape(customer)} held[/red]: {escape(why)}")
    for profile_id, why in summary["portals_not_working"].items():
        out.print(f"[red]profile {escape(profile_id)}[/red] {escape(why)}")
    for poll in summary["polls"]:
        if poll["last_error"]:
            out.print(f"[red]poll {poll['profile_id']} failing:[/red] {escape(poll['last_error'])}")
    _print_daemons(summary["daemons"])


def _print_daemons(daemons: list[dict[str, Any]]) -> None:
    if not daemons:
        out.print("No daemon has run on this store yet (`portalhub run`).")
        return
    table = Table(title="Daemons (last heartbeat; each job's last run and how it ended)")
    for column in ("Daemon", "Host / pid", "Version", "State", "Last seen (UTC)", "Jobs"):
        table.add_column(column, overflow="fold")
    for daemon in daemons:
        state = (
            "[green]alive[/green]"
            if daemon["alive"]
            else ("stopped" if daemon["stopped_at"] else "[red]silent[/red]")
        )
        jobs = []
        for name, job in sorted(daemon["jobs"].items()):
            when = (job["last_finished"] or job["last_started"] or "never")[11:19]
            outcome = job["outcome"] or "not run"
            jobs.append(f"{name}: {outcome} {when}" + (f" ({job['error']})" if job.get("error") else ""))
        table.add_row(
            daemon["worker_id"],
            f"{daemon['host']} / {daemon['pid']}",
            daemon["version"],
            state,
            daemon["last_seen_at"][:19].replace("T", " "),
            escape("\n".join(jobs)),
        )
    out.print(table)


@app.command()
def show(
    invoice: Annotated[
        str,
        typer.Argument(
            help="Invoice number: as in AR or as any portal got it (INV-1-R1), in any letter case."
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """One invoice's full timeline, with reasons and every send; after a portal's refusal, what to
    do next. A quarantined AR record is named with the reason."""
    from hub.readonly import next_step, timeline

    with opened_view() as hub:
        data = timeline(hub, invoice)
        data["next_step"] = next_step(hub, data["invoice"])
    if as_json:
        emit_json(data)
        return
    head = data["invoice"]
    out.print(
        f"[bold]{head['invoice_number']}[/bold] {head['purpose']} {head['total']} {head['currency']} "
        f"customer {head['customer_id']} -> {head['profile_id'] or '(no profile)'}: [bold]{head['state']}[/bold]"
        + (f" (portal id {head['portal_invoice_id']})" if head["portal_invoice_id"] else "")
    )
    if head["reason"]:
        out.print(f"  why: {escape(head['reason'])}")
    if head.get("profile_health"):
        out.print(
            f"  [red]waits: profile {escape(head['profile_id'])}[/red] {escape(head['profile_health']['summary'])}"
        )
    if head.get("unconfirmed"):
        out.print(
            "  [bold yellow]unconfirmed:[/bold yellow] recorded as received on evidence the hub could not verify"
        )
    events = Table(title="Timeline")
    for column in ("When (UTC)", "From", "To", "By", "Why"):
        events.add_column(column, overflow="fold")
    for event in data["events"]:
        events.add_row(
            event["at"][:19],
            event["from"] or "",
            event["to"],
            escape(event["actor"]),
            escape(event["reason"] or ""),
        )
    out.print(events)
    if data["violations"]:
        out.print(violations_table("Rules found at the last pre-flight", data["violations"]))
    if data["attempts"]:
        attempts = Table(title="Sends")
        for column in ("#", "payloadID", "As number", "Outcome", "ms", "Portal said"):
            attempts.add_column(column, overflow="fold")
        for attempt in data["attempts"]:
            said = " ".join(
                filter(None, [attempt["portal_code"], attempt["portal_text"] or attempt["error"]])
            )
            attempts.add_row(
                str(attempt["id"]),
                attempt["payload_id"],
                attempt["portal_invoice_number"],
                attempt["outcome"],
                str(attempt["duration_ms"] or ""),
                escape(said),
            )
        out.print(attempts)
    for link in data.get("corrections", []):
        refused = link["corrects"]
        out.print(
            f"correction: send #{link['attempt_id']} ({escape(link['payload_id'])}, revision {link['revision']}, "
            f"as {escape(link['portal_invoice_number'])}: {link['outcome']}) corrects send "
            f"#{refused['attempt_id']} ({escape(refused['payload_id'] or '?')}) that {refused['profile_id']} "
            f"{refused['state'].lower()} on {refused['at'][:16]} ({refused['category_label']})"
        )
    for other in data.get("related", []):
        out.print(
            f"related: {escape(other['invoice_number'])} ({other['purpose']}, {other['total']} "
            f"{other['currency']}) names it as its original: {other['state']}"
        )
    for kept in data.get("unplaced_statuses", []):
        out.print(
            f"[yellow]portal status not applied[/yellow] #{kept['id']} received {kept['received_at'][:16]} "
            f"({kept['status_kind'] or '?'} {escape(kept['status_type'] or '')}"
            f"{', resolved' if kept['resolved_at'] else ''}): {escape(kept['explanation'])}"
            + (f" - said: {escape(kept['comments'])}" if kept["comments"] else "")
        )
    step = data["next_step"]
    if step:
        out.print(f"[bold]next step[/bold] ({escape(step['category_label'])}): {escape(step['sentence'])}")
        if step.get("rules_file"):
            out.print(
                f"  a rule could have caught it before sending: add one at {escape(_relative(step['rules_file']))} "
                f"(`{escape(step['suggest'])}` proposes it from the portal's refusals)"
            )


def violations_table(title: str, violations: list[dict[str, Any]]) -> Table:
    """Each broken rule: where it is written, the value found, what was expected, and the fix."""
    table = Table(title=title)
    for column in ("Severity", "Rule", "Written at", "Field", "Found", "Expected", "Problem", "Fix"):
        table.add_column(column, overflow="fold")
    for v in violations:
        found = "" if v.get("value") is None else str(v["value"])
        table.add_row(
            v.get("severity", "error"),
            escape(v["rule_id"]),
            escape(_relative(v.get("source"))),
            escape(v["field"]),
            escape(found),
            escape(v.get("expected") or ""),
            escape(v["message"]),
            escape(v.get("hint") or ""),
        )
    return table


def _relative(source: str | None) -> str:
    if not source:
        return "(built in)"
    path, _, line = source.rpartition(":")
    with suppress(ValueError):  # outside the working folder: keep it absolute
        path = str(Path(path).relative_to(Path.cwd()))
    return f"{path}:{line}"


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    if value.endswith("d") and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(days=int(value[:-1]))
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        fail(f"--since takes a date (2026-11-01) or a number of days (7d), not {value!r}")


@app.command()
def rejections(
    customer: Annotated[str | None, typer.Option(help="Only this AR customer id.")] = None,
    portal: Annotated[str | None, typer.Option(help="Only this portal profile id.")] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(help="Only this reason category (repeatable): po, price_quantity, duplicate, tax, ..."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only problems since a date (2026-11-01) or days ago (7d).")
    ] = None,
    older_than: Annotated[
        int | None, typer.Option("--older-than", min=0, help="Only problems at least this many days old.")
    ] = None,
    min_amount: Annotated[
        str | None, typer.Option("--min-amount", help="Only invoices of at least this amount (e.g. 1000).")
    ] = None,
    as_json: JsonOption = False,
    grouped: Annotated[
        bool, typer.Option("--grouped", help="With --json: groups with their totals instead of rows.")
    ] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print CSV (one invoice a line) for a spreadsheet.")
    ] = False,
) -> None:
    """Who must fix what: stuck invoices by customer and reason, oldest first, with the amount at stake,
    the portal's words and the fix. Exit 1 when there is anything to fix."""
    from decimal import Decimal, InvalidOperation

    from hub.readonly import check_worklist_filter
    from hub.readonly import rejections as open_problems
    from hub.worklist import CATEGORY_LABELS, groups, to_csv
    from hub.worklist import said as portal_said

    if as_csv and as_json:
        fail("--csv and --json conflict: pick one (CSV for a spreadsheet, JSON for a script)")
    if grouped and not as_json:
        fail("--grouped shapes the JSON output: use it with --json (the table is always grouped)")
    unknown = sorted(set(category or ()) - set(CATEGORY_LABELS))
    if unknown:
        fail(f"unknown category {', '.join(unknown)}; use one of: {', '.join(CATEGORY_LABELS)}")
    try:
        least = Decimal(min_amount) if min_amount is not None else None
    except InvalidOperation:
        fail(f"--min-amount takes a number such as 1000 or 250.50, not {min_amount!r}")
    with opened_view() as hub:
        check_worklist_filter(hub, customer=customer, portal=portal)
        rows = open_problems(
            hub,
            customer=customer,
            portal=portal,
            since=_since(since),
            categories=tuple(category or ()),
            older_than_days=older_than,
            min_amount=least,
        )
    if as_csv:
        sys.stdout.write(to_csv(rows))
    elif as_json:
        emit_json([g.as_json() for g in groups(rows)] if grouped else rows)
    else:
        from hub.text_table import Column, render

        # Plain text laid out in one pass (hub/text_table.py): rich took ~5 s for 3,030 rows. The words
        # and the fix are the point of the command: wrapped in full, never cut, and the columns that
        # wrap give up width first (at 80 columns the short ones keep theirs).
        columns = [Column("Invoice"), Column("Portal")]
        columns += [Column(name, wrap=False) for name in ("State", "Amount", "Days")]
        columns += [Column("Portal said / rule"), Column("What to do")]
        for group in groups(rows):
            totals = ", ".join(money_text(v, c) for c, v in group.totals.items())
            cells = []
            for row in group.rows:
                said = portal_said(row["portal_code"], row["portal_words"])
                if row["rules"]:
                    said = "; ".join(f"[{r['rule_id']}] {r['message']}" for r in row["rules"])
                number = row["invoice_number"]
                if row["portal_invoice_number"] and row["portal_invoice_number"] != number:
                    number += f" (as {row['portal_invoice_number']})"
                cells.append(
                    [
                        number,
                        row["profile_id"] or "-",
                        row["state"],
                        money_text(row["amount"], row["currency"]),
                        str(row["days"]),
                        said or row["reason"] or "",
                        f"{row['hint']} ({row['who']})",
                    ]
                )
            title = f"{group.customer_id} - {group.label}: {len(group.rows)} invoice(s), {totals}"
            out.file.write(render(columns, cells, width=out.width, title=title))
        out.print(f"[bold]{len(rows)} invoice(s) need fixing[/bold]")
    raise typer.Exit(FOUND if rows else OK)


def money(value: Any, currency: str | None = None) -> str:
    """An amount with thousands separators, in its currency's minor units (hub/money.py)."""
    from hub.money import amount_text

    return amount_text(value, currency, grouped=True)


def money_text(value: Any, currency: str | None) -> str:
    """`1,234.50 USD` (hub/money.py)."""
    from hub.money import money_text as text

    return text(value, currency)


@app.command()
def quarantine(
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Also the records fixed in AR since (taken in as invoices).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """AR records the hub quarantined: not valid invoices, so never sent; each with the reason, to fix
    in the AR system (the hub takes a fixed record in at its next ingest). Exit 1 when there are any."""
    from hub.readonly import quarantined

    with opened_view() as hub:
        rows = quarantined(hub, resolved=include_resolved)
    if as_json:
        emit_json(rows)
    else:
        table = Table(title="Quarantined AR records (not invoices; fix them in AR)")
        for column in ("AR record", "Invoice", "Source", "First seen (UTC)", "Why"):
            table.add_column(column, overflow="fold")
        for q in rows:
            table.add_row(
                escape(q["ar_key"]),
                escape(q["invoice_number"] or "-"),
                escape(q["source"]),
                q["first_seen"][:16].replace("T", " ") + (" (resolved)" if q["resolved_at"] else ""),
                escape(q["reason"]),
            )
        out.print(table)
        out.print(f"[bold]{len(rows)} AR record(s) quarantined[/bold]")
    raise typer.Exit(FOUND if any(q["resolved_at"] is None for q in rows) else OK)


@app.command()
def validate(
    invoice: Annotated[
        str, typer.Argument(help="Invoice number in the store, or a canonical invoice JSON file.")
    ],
    profile: Annotated[
        str | None, typer.Option(help="Profile to check against (default: the customer's).")
    ] = None,
    stored: Annotated[
        bool,
        typer.Option(
            "--stored", help="Check the hub's stored copy instead of reading the invoice from AR now."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Pre-flight one invoice against a profile's rules and the document schema, without sending it.
    By number, the invoice is read from the AR system afresh (so a fix made in AR is what is checked);
    --stored checks the hub's copy. The output says which was checked."""
    from hub.errors import DocumentError
    from hub.services import validate_invoice

    with opened_hub() as hub:
        try:
            done = validate_invoice(hub, invoice, profile, stored=stored)
        except DocumentError as exc:
            fail(str(exc), FOUND)
    checked, profile_id, result = done.invoice, done.profile_id, done.result
    if as_json:
        emit_json(
            {
                "invoice_number": checked.invoice_number,
                "profile": profile_id,
                "checked": done.checked,
                "read_from": done.where,
                "passed": result.passed,
                "violations": [v.model_dump(mode="json") for v in result.violations],
            }
        )
    elif result.violations:
        title = f"{checked.invoice_number} against {profile_id}, as read from {done.where}"
        out.print(violations_table(title, [v.model_dump(mode="json") for v in result.violations]))
    else:
        out.print(
            f"[green]{checked.invoice_number} passes pre-flight for {profile_id}[/green] "
            f"(checked: {escape(done.where)})"
        )
    raise typer.Exit(OK if result.passed else FOUND)


@app.command()
def submit(
    invoice: Annotated[str, typer.Argument(help="Invoice number (must be READY).")],
    as_json: JsonOption = False,
) -> None:
    """Send one READY invoice now, whatever its retry schedule."""
    from hub.services import submit_now, timeline

    with opened_hub() as hub:
        report = submit_now(hub, invoice)
        head = timeline(hub, invoice)["invoice"]
    if as_json:
        emit_json(
            {
                "sent": report.sent,
                "outcomes": report.outcomes,
                "state": head["state"],
                "reason": head["reason"],
            }
        )
    else:
        out.print(f"{escape(invoice)}: {head['state']} - {escape(head['reason'] or '')}")
    raise typer.Exit(FOUND if head["state"] in ("REJECTED", "BLOCKED") else OK)


@app.command()
def resubmit(
    invoice: Annotated[str, typer.Argument(help="Invoice number (as in AR, or as the portal got it).")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Send it even if unchanged since the portal refused its content."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Re-read a fixed invoice from AR, validate it again and send it now as a correction (a new
    payloadID; a new number where the portal requires one). Exit 1 if it is blocked, rejected again,
    or refused because it is unchanged since the portal refused it."""
    from hub.corrections import ResubmitRefused
    from hub.corrections import resubmit as correct

    _confirm(f"Re-read {invoice} from AR and send it to its portal now as a correction", yes)
    with opened_hub() as hub:
        try:
            result = correct(hub, invoice, force=force)
        except ResubmitRefused as exc:
            fail(str(exc), FOUND)
    if as_json:
        emit_json({**result.__dict__, "ok": result.ok})
    else:
        sent_as = result.portal_invoice_number or result.invoice_number
        colour = "green" if result.ok else "red"
        out.print(
            f"{escape(result.invoice_number)} (revision {result.revision}, AR record {result.ar}, sent as "
            f"{escape(sent_as)}): [{colour}]{result.state}[/{colour}] - {escape(result.message)}"
        )
        if result.corrects:
            refused = result.corrects
            out.print(
                f"  corrects the send {escape(refused['payload_id'] or '?')} that {refused['profile_id']} "
                f"{refused['state'].lower()} on {refused['at'][:16]} ({refused['category_label']})"
            )
    raise typer.Exit(OK if result.ok else FOUND)


def _interactive() -> bool:
    """Is a person at a terminal to answer a question (standard input and error both terminals)?"""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _confirm(action: str, yes: bool) -> None:
    """Ask before a command that changes what a portal holds. With --yes, no question. Without a
    terminal and without --yes, refuse (exit 2): a script must say it means it."""
    if yes:
        return
    if not _interactive():
        fail(f"{action}: not done. This changes what the portal holds; without a terminal to ask, pass --yes")
    if not typer.confirm(f"{action}?", default=False, err=True):
        err.print("nothing done")
        raise typer.Exit(USAGE)


@app.command("resolve-status")
def resolve_status(
    ids: Annotated[list[int], typer.Argument(help="Ids of portal statuses not placed (from `rejections`).")],
) -> None:
    """Mark portal statuses the hub could not place as dealt with: they leave the worklist (kept on
    `show`). Exit 2 for an id that does not exist."""
    from hub.errors import ConfigError
    from hub.unplaced import resolve_in

    with opened_hub() as hub:
        try:
            done = resolve_in(hub, ids)
        except ConfigError as exc:
            fail(str(exc))
    out.print(f"resolved: {', '.join(f'#{i}' for i in done) or 'nothing new'}")


@app.command()
def confirm(
    invoice: Annotated[str, typer.Argument(help="Invoice number recorded as presumed received.")],
    checked: Annotated[str | None, typer.Option(help="What you checked at the portal (kept).")] = None,
) -> None:
    """Confirm, after checking at the portal, that an invoice recorded as presumed received (a duplicate
    answer to the hub's own unanswered send) is there: it leaves the worklist."""
    from hub.corrections import confirm_received

    with opened_hub() as hub:
        out.print(escape(confirm_received(hub, invoice, checked)))


@app.command()
def cancel(
    invoice: Annotated[str, typer.Argument(help="Invoice number the portal holds.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept on the timeline).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Withdraw an invoice at its portal with the portal's own cancel (where the portal supports it).
    Exit 1 if the portal refused or did not answer; 2 if the portal takes no cancel from the hub."""
    from hub.corrections import PortalBusy
    from hub.corrections import cancel as withdraw

    _confirm(f"Withdraw {invoice} at its portal (the portal's own cancel; it cannot be undone)", yes)
    with opened_hub() as hub:
        try:
            result = withdraw(hub, invoice, reason=reason)
        except PortalBusy as exc:
            fail(str(exc), FOUND)
    if as_json:
        emit_json({**result.__dict__, "ok": result.ok})
    else:
        colour = "green" if result.ok else "red"
        out.print(
            f"{escape(result.invoice_number)} at {result.profile_id}: [{colour}]{result.outcome}[/{colour}] "
            f"({result.state}) - {escape(result.message)}"
        )
    raise typer.Exit(OK if result.ok else FOUND)


@app.command()
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
    from hub.money import amount_text
    from hub.reports import build_report, write_report

    start = _since(since)
    end = _since(until) if until else datetime.now(UTC)
    assert start is not None and end is not None
    if start >= end:
        fail(f"--since ({start:%Y-%m-%d}) must be before --until ({end:%Y-%m-%d})")
    folder = out_dir or Path("reports") / f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"
    with opened_hub() as hub:
        data = build_report(hub, start, end)
    written = write_report(data, folder)
    if as_json:
        emit_json(
            {
                "since": start.isoformat(),
                "until": end.isoformat(),
                "by_portal": [{**a.__dict__, "rate": a.rate} for a in data.by_portal],
                "by_customer": [{**a.__dict__, "rate": a.rate} for a in data.by_customer],
                "categories": [{**c.__dict__, "label": c.label} for c in data.categories],
                "caught_by_preflight": data.caught_by_preflight,
                "caught_by_portal": data.caught_by_portal,
                "preflight_share": data.preflight_share,
                "cycle_times": [c.__dict__ for c in data.cycle_times],
                "outstanding": [
                    {**o.__dict__, "amount": amount_text(o.amount, o.currency)} for o in data.outstanding
                ],
                "html": str(written.html),
                "csv": [str(p) for p in written.csvs],
            }
        )
        return
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
    totals = ", ".join(money_text(v, cur) for cur, v in data.outstanding_totals().items()) or "nothing"
    out.print(f"Outstanding at the end of the period: {totals}")
    out.print(f"Written: {written.html} and {len(written.csvs)} CSV file(s) in {folder}")


@app.command()
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
    from hub import audit as trail
    from hub import audit_anchors
    from hub.services import _invoice_row

    with opened_hub() as hub, hub.store.session() as session:
        if what == "checkpoint":
            record = audit_anchors.checkpoint_hub(hub)
            assert hub.config.audit is not None
            summary = {k: record[k] for k in ("n", "at", "invoices", "events", "full")}
            if as_json:
                emit_json(
                    {**summary, "heads": len(record["heads"]), "file": str(hub.config.audit.anchors_file)}
                )
            else:
                out.print(
                    f"anchor {record['n']}: {record['invoices']} invoices, {record['events']} events, "
                    f"{len(record['heads'])} head(s) -> {hub.config.audit.anchors_file}"
                )
            return
        if what == "verify":
            result = trail.verify(session)
            problems = list(result.problems)
            anchored = None
            if anchors is not None:
                age = timedelta(seconds=max_age) if max_age is not None else None
                anchored = audit_anchors.verify_hub(hub, session, anchors, age)
                problems += anchored.problems
            ok = not problems
            if as_json:
                emit_json(
                    {
                        "ok": ok,
                        "events": result.events,
                        "invoices": result.invoices,
                        "anchors": None if anchored is None else anchored.anchors,
                        "anchored_heads": None if anchored is None else anchored.heads,
                        "problems": [p.__dict__ for p in problems],
                    }
                )
            else:
                for problem in problems:
                    at = f" at event {problem.seq}" if problem.seq is not None else ""
                    out.print(
                        f"[red]broken[/red] {escape(problem.invoice_number)}{at}: {escape(problem.why)}"
                    )
                verdict = "verified" if ok else f"checked, {len(problems)} problem(s)"
                if anchored is not None:
                    verdict += f" against {anchored.anchors} anchor(s) of {anchored.heads} invoice(s)"
                out.print(f"{result.events} events of {result.invoices} invoices {verdict}")
            raise typer.Exit(0 if ok else 1)
        if what == "export":
            start = _since(since)
            end = _since(until) if until else datetime.now(UTC)
            assert start is not None and end is not None
            stream = out_file.open("w", encoding="utf-8") if out_file else sys.stdout
            count = 0
            try:
                for event, number in trail.events_between(session, start, end):
                    stream.write(json.dumps(trail.exported(event, number), default=str) + "\n")
                    count += 1
            finally:
                if out_file:
                    stream.close()
            if out_file:
                err.print(f"{count} events from {start:%Y-%m-%d} to {end:%Y-%m-%d} written to {out_file}")
            return
        row = _invoice_row(hub, what)
        assert row.id is not None
        events = [trail.exported(e, row.invoice_number) for e in trail.timeline(session, row.id)]
    if as_json:
        emit_json(events)
        return
    table = Table(title=f"Audit trail of {escape(row.invoice_number)} (state {row.state})")
    for column in ("#", "When (UTC)", "Who", "What", "Why", "Hash"):
        table.add_column(column, overflow="fold")
    for entry in events:
        table.add_row(
            str(entry["seq"]),
            entry["at"][:23],
            escape(entry["actor"]),
            f"{entry['from_state'] or '-'} -> {entry['to_state']}",
            escape(_short(entry["reason"], 70)),
            (entry["hash"] or "")[:12],
        )
    out.print(table)


# --- configuration ---------------------------------------------------------------------------------------
@config_app.command("check")
def config_check(
    connect: Annotated[
        bool,
        typer.Option("--connect", help="Also open the store, read the AR source and sign in to each portal."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check portalhub.yaml, every rules file and every secret reference (values are never printed);
    with --connect, the store, the AR source and each portal's credentials. Exit 1 on an error."""
    from hub.config import find_config
    from hub.config_check import check_configuration
    from hub.errors import ConfigError

    try:
        path = find_config(_state["config"])
    except ConfigError as exc:
        fail(str(exc))
    report = check_configuration(path, connect=connect)
    if as_json:
        emit_json(report.as_json())
    else:
        marks = {"ok": "[green]✓[/green]", "warning": "[yellow]![/yellow]", "error": "[red]✗[/red]"}
        for finding in report.findings:
            console = out if finding.severity == "ok" else err
            console.print(
                f"{marks[finding.severity]} {escape(finding.subject)}: {escape(finding.message)}",
                highlight=False,
            )
        warnings = sum(1 for f in report.findings if f.severity == "warning")
        verdict = "[green]ok[/green]" if report.ok else "[red]problems found[/red]"
        out.print(f"{len(report.errors)} error(s), {warnings} warning(s): {verdict}")
    raise typer.Exit(OK if report.ok else FOUND)


@config_app.command("schema")
def config_schema_command() -> None:
    """Print the JSON Schema of portalhub.yaml (every key described), for editor completion."""
    from hub.config_docs import config_schema

    sys.stdout.write(json.dumps(config_schema(), indent=2) + "\n")


@config_app.command("docs")
def config_docs_command() -> None:
    """Print the reference page of portalhub.yaml (docs/configuration.md is this output)."""
    from hub.config_docs import config_markdown

    sys.stdout.write(config_markdown())


# --- profiles ------------------------------------------------------------------------------------------------
@profile_app.command("release")
def profile_release(
    profile_id: Annotated[str, typer.Argument(help="The profile id (its rules file name).")],
) -> None:
    """End a profile's hold (a recipe out of date, a broken or contested rules file) or failure now: its
    invoices are tried at the next tick. If the cause is still there, the profile is held again."""
    from hub.corrections.common import cli_actor
    from hub.services import release_profile

    with opened_hub() as hub:
        before = release_profile(hub, profile_id, cli_actor())
    if before is None:
        out.print(f"profile {escape(profile_id)} was not held or failing: nothing to release")
        return
    out.print(f"profile {escape(profile_id)} released (it was {escape(before.describe())})")


# --- rules ---------------------------------------------------------------------------------------------------
@rules_app.command("check")
def rules_check(
    paths: Annotated[list[Path], typer.Argument(help="Rules files or folders of them.")],
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the check too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Load and lint rules files: schema, field paths, XPaths, extends, reference lists, secrets by
    reference, routing; warnings for unreachable `when`, rules repeating inherited ones, runaway regexes."""
    from hub.registry import ConnectorRegistry
    from hub.rules_tools import check

    for path in paths:
        if not path.exists():
            fail(f"{path} does not exist")
    report = check(paths, ConnectorRegistry(), date.today())
    failed = bool(report.problems) or (strict and bool(report.warnings))
    if as_json:
        emit_json(
            {
                "ok": not failed,
                "files": report.files,
                "problems": [str(p) for p in report.problems],
                "warnings": [str(w) for w in report.warnings],
            }
        )
    else:
        broken = {str(p.file) for p in report.problems}
        for file in report.files:
            if str(Path(file).resolve()) not in broken and file not in broken:
                out.print(f"[green]✓[/green] {escape(file)}")
        for problem in report.problems:
            err.print(f"[red]✗[/red] {escape(str(problem))}", highlight=False)
        for warning in report.warnings:
            err.print(f"[yellow]![/yellow] {escape(str(warning))}", highlight=False)
        verdict = "[red]problems found[/red]" if failed else "[green]ok[/green]"
        out.print(
            f"{len(report.files)} file(s): {len(report.problems)} problem(s), {len(report.warnings)} warning(s): {verdict}"
        )
    raise typer.Exit(FOUND if failed else OK)


@rules_app.command("schema")
def rules_schema(
    baseline: Annotated[
        bool, typer.Option("--baseline", help="The schema of a baseline (no connection).")
    ] = False,
) -> None:
    """Print the JSON Schema of a rules file, for editors (yaml-language-server, IDE schema mapping):
    every key described with an example, field paths completed, `connection:` typed per connector."""
    from hub.registry import ConnectorRegistry
    from hub.rules_schema import rules_schema

    schema = rules_schema(ConnectorRegistry(), baseline)
    sys.stdout.write(json.dumps(schema, indent=2) + "\n")


@rules_app.command("test")
def rules_test(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Rules files or folders (default: the shipped baselines).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the `examples:` of rules files: each invoice must pass and fail the rules it names."""
    from hub.registry import ConnectorRegistry
    from hub.rules_tools import run_tests, shipped_rule_folders

    results = run_tests(paths or shipped_rule_folders(), ConnectorRegistry())
    failed = [r for r in results if not r.passed]
    if as_json:
        emit_json(
            [
                {
                    "file": r.file,
                    "line": r.line,
                    "example": r.name,
                    "passed": r.passed,
                    "problems": r.problems,
                }
                for r in results
            ]
        )
    else:
        for result in results:
            mark = "[green]✓[/green]" if result.passed else "[red]✗[/red]"
            at = f"{Path(result.file).name}:{result.line}" if result.line else Path(result.file).name
            out.print(f"{mark} {escape(at)}: {escape(result.name)}")
            for problem in result.problems:
                out.print(f"    {escape(problem)}")
        out.print(f"{len(results)} example(s), {len(failed)} failed")
    raise typer.Exit(FOUND if failed or not results else OK)


@rules_app.command("new")
def rules_new(
    connector: Annotated[
        str, typer.Option("--connector", help="The connector of the portal (coupa, ariba, ...).")
    ],
    customer: Annotated[str, typer.Option("--customer", help="The AR customer id the file routes.")],
    into: Annotated[
        Path | None,
        typer.Option("--out", help="The folder to write to (default: the hub's rules folder, else here)."),
    ] = None,
) -> None:
    """Write a commented rules file for a new customer: the family's baseline, the connection keys with
    placeholders and secret references, one example invoice from AR (when a hub config is found)."""
    from hub.config import find_config
    from hub.errors import ConfigError
    from hub.registry import ConnectorRegistry
    from hub.rules_new import ar_example, family_baseline, new_rules_file

    invoice = None
    folder = into
    try:
        find_config(_state["config"])
        has_hub = True
    except ConfigError:
        has_hub = False
    if has_hub:
        with opened_hub() as hub:
            invoice = ar_example(hub, customer, family_baseline(hub.registry, connector))
            folder = folder or Path(hub.config.rules_dir)
    try:
        made = new_rules_file(ConnectorRegistry(), connector, customer, folder or Path.cwd(), invoice)
    except ConfigError as exc:
        fail(str(exc))
    written = [made.path, *([made.example[0]] if made.example else [])]
    existing = [p for p in written if p.exists()]
    if existing:
        fail(f"{existing[0]} exists already; pass --out to write elsewhere")
    made.path.parent.mkdir(parents=True, exist_ok=True)
    made.path.write_text(made.text, encoding="utf-8")
    if made.example:
        made.example[0].parent.mkdir(parents=True, exist_ok=True)
        made.example[0].write_text(made.example[1], encoding="utf-8")
    for path in written:
        out.print(f"wrote {escape(str(path))}")
    if invoice is None:
        out.print("no AR invoice of this customer found: add an example invoice by hand")
    out.print(f"next: replace the placeholders, then `portalhub rules check {escape(str(made.path))}`")


@rules_app.command("suggest")
def rules_suggest(
    profile: Annotated[
        str, typer.Option("--profile", help="The profile whose portal rejections to learn from.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Propose rules that would have caught this portal's rejections before sending (never applied)."""
    from hub.rules_tools import suggest_for

    with opened_hub() as hub:
        report = suggest_for(hub, profile)
    share = report.caught_share
    if as_json:
        emit_json(
            {
                "profile": report.profile_id,
                "blocked_before_sending": report.blocked_before_sending,
                "rejected_by_portal": report.rejected_by_portal,
                "caught_share": share,
                "suggestions": [
                    {
                        "title": s.title,
                        "category": s.category,
                        "evidence": s.evidence,
                        "wordings": s.wordings,
                        "snippet": s.snippet,
                        "reference_file": s.reference_file,
                    }
                    for s in report.suggestions
                ],
            }
        )
        return
    caught = f"{share:.0%}" if share is not None else "n/a"
    out.print(
        f"[bold]{profile}[/bold]: pre-flight caught {report.blocked_before_sending}, the portal rejected "
        f"{report.rejected_by_portal} (pre-flight share {caught}). Suggestions, to review and add by hand:"
    )
    for number, suggestion in enumerate(report.suggestions, 1):
        out.print(
            f"\n[bold]{number}. {escape(suggestion.title)}[/bold] ({suggestion.category}, {suggestion.count} invoice(s))"
        )
        for invoice_number, words in suggestion.evidence[:5]:
            out.print(f"   {escape(invoice_number)}: {escape(words)}")
        if len(suggestion.evidence) > 5:
            out.print(f"   ... and {len(suggestion.evidence) - 5} more")
        said = "; ".join(f"{escape(w)} ({n})" for w, n in suggestion.wordings.items())
        out.print(f"   [dim]recognised as: {said}[/dim]")
        out.print(escape(suggestion.snippet))
        if suggestion.reference_file:
            name, values = suggestion.reference_file
            out.print(f"# {name}: {', '.join(values) or '(no accepted values yet)'}")


# --- web portals' recipes -------------------------------------------------------------------------------
@recipe_app.command("check")
def recipe_check(
    profile: Annotated[str, typer.Argument(help="The web-portal profile id.")],
    connect: Annotated[bool, typer.Option("--connect", help="Walk the portal's pages in Chromium.")] = False,
    invoice: Annotated[
        str | None,
        typer.Option("--invoice", help="Invoice number to key in (default: the profile's newest)."),
    ] = None,
    submit_sandbox: Annotated[
        bool, typer.Option("--submit-sandbox", help="Press submit too (only a portal on this machine).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Sign in, fill the form with an invoice up to (not including) submit, read the list; each step
    printed with its screenshot. Nothing is sent, unless --submit-sandbox against a local sandbox."""
    from hub.recipe_check import check_recipe

    with opened_hub() as hub:
        result = check_recipe(hub, profile, invoice, connect or submit_sandbox, submit_sandbox)
    walk = result.walk
    if as_json:
        emit_json(
            {"ok": result.ok, "invoice": result.invoice_number, "problem": result.problem, "walk": walk}
        )
        raise typer.Exit(OK if result.ok else FOUND)
    out.print(f"{escape(profile)} with invoice {escape(result.invoice_number)}")
    for step in walk.steps if walk else []:
        mark = "[green]✓[/green]" if step.ok else "[red]✗[/red]"
        out.print(
            f"{mark} {escape(step.step)}: {escape(step.did)}"
            + (f"\n    {escape(step.screenshot)}" if step.screenshot else "")
        )
    if walk is not None and walk.submitted is not None:
        out.print(f"submitted to the sandbox: portal id {escape(str(walk.submitted.portal_invoice_id))}")
    problem = result.problem or (walk.problem if walk else None)
    if problem:
        err.print(f"[red]✗[/red] {escape(problem)}", highlight=False)
    elif walk is None:
        out.print("the invoice renders for this portal; add --connect to walk the pages")
    raise typer.Exit(OK if result.ok else FOUND)


@recipe_app.command("schema")
def recipe_schema() -> None:
    """Print the JSON Schema of a recipe file, for editors (yaml-language-server, IDE schema mapping)."""
    from hub.recipe_check import recipe_schema as schema
    from hub.registry import ConnectorRegistry

    sys.stdout.write(json.dumps(schema(ConnectorRegistry()), indent=2) + "\n")


# --- AR adapters -----------------------------------------------------------------------------------------
@schema_app.command("invoice")
def schema_invoice() -> None:
    """Print the JSON Schema of an invoice in a JSON export (files adapter, docs/ar-adapters.md)."""
    from hub.ar.files import invoice_json_schema

    sys.stdout.write(json.dumps(invoice_json_schema(), indent=2) + "\n")


@webhook_app.command("verify")
def webhook_verify(
    signature: Annotated[
        str | None, typer.Option("--signature", help="The X-Portalhub-Signature header received.")
    ] = None,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="The X-Portalhub-Timestamp header received.")
    ] = None,
    body: Annotated[
        Path | None, typer.Option("--body", help="The exact body received, in a file ('-': standard input).")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="The signing secret by reference: env:NAME, file:/path, secret:name "
            "(default: the configured webhook's).",
        ),
    ] = None,
    tolerance: Annotated[int, typer.Option(min=1, help="Replay window in seconds.")] = 300,
    sample: Annotated[
        bool, typer.Option("--sample", help="Print a signed test event instead (body and headers).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check a webhook signature (exit 0 valid, 1 not), or with --sample print a test event and its
    signature headers, for testing the receiving side."""
    import time

    from hub.ar.webhook import sample as signed_sample
    from hub.ar.webhook import signing_secret
    from hub.config import find_config, load_config
    from hub.errors import ConfigError
    from hub.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify

    try:
        key = signing_secret(secret, lambda: load_config(find_config(_state["config"])))
    except ConfigError as exc:
        fail(str(exc))
    now = time.time()
    if sample:
        event, content, headers = signed_sample(key, now)
        if as_json:
            emit_json({"event": event, "body": content.decode(), "headers": headers})
        else:
            lines = "".join(f"{name}: {value}\n" for name, value in headers.items())
            sys.stdout.write(f"{content.decode()}\n{lines}")
        return
    if signature is None or timestamp is None or body is None:
        fail("give --timestamp, --signature and --body (or --sample to make a signed test event)")
    content = sys.stdin.buffer.read() if str(body) == "-" else _read_bytes(body)
    try:
        # Either the header's value or the whole `Name: value` line, as copied from a request log.
        signed_at = verify(
            key,
            content,
            timestamp.removeprefix(f"{TIMESTAMP_HEADER}:"),
            signature.removeprefix(f"{SIGNATURE_HEADER}:"),
            now,
            tolerance,
        )
    except SignatureError as exc:
        if as_json:
            emit_json({"valid": False, "reason": str(exc)})
        else:
            err.print(f"[red]invalid:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(FOUND) from None
    if as_json:
        emit_json({"valid": True, "signed_at": signed_at})
    else:
        out.print(f"[green]valid[/green]: signed at {datetime.fromtimestamp(signed_at, UTC).isoformat()}")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


@app.command()
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

    with opened_hub() as hub:
        settings = hub.config.web or WebConfig()
        app_ = create_app(hub, secret_key=session_secret(hub), secure_cookies=settings.secure_cookies)
        bind, listen = host or settings.host, settings.port if port is None else port
        err.print(f"portalhub web on http://{bind}:{listen}/ (Ctrl-C stops it)")
        uvicorn.run(app_, host=bind, port=listen, log_level="warning")


@users_app.command("add")
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
    from hub.corrections import cli_actor
    from hub.web.accounts import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with opened_hub() as hub:
        add_user(
            hub.store,
            name,
            password,
            role,
            customers=tuple(customer or ()),
            by=cli_actor(),
            now=hub.clock.now(),
        )
    out.print(f"user {name} added ({role})")


@users_app.command("list")
def users_list(as_json: JsonOption = False) -> None:
    """Users (role, customers, disabled, tokens) and API tokens; never a password or a token."""
    from hub.web.accounts import list_tokens, list_users

    with opened_hub() as hub:
        users, tokens = list_users(hub.store), list_tokens(hub.store)
    if as_json:
        emit_json({"users": users, "tokens": tokens})
        return
    table = Table(title="Users")
    for column in ("User", "Role", "Customers", "State", "Tokens"):
        table.add_column(column)
    for u in users:
        table.add_row(
            u["name"],
            u["role"] or "(none)",
            " ".join(u["customers"]) or "all",
            "disabled" if u["disabled"] else "active",
            " ".join(u["tokens"]),
        )
    out.print(table)
    tokens_table = Table(title="API tokens")
    for column in ("Token", "User", "Role", "Last used", "State"):
        tokens_table.add_column(column)
    for t in tokens:
        tokens_table.add_row(
            t["name"],
            t["user"] or "(system)",
            t["role"] or "(the user's)",
            t["last_used_at"] or "never",
            "revoked" if t["revoked"] else "active",
        )
    out.print(tokens_table)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="The login name.")]) -> None:
    """Disable a user: no login; open sessions and the user's tokens stop working at once."""
    from hub.web.accounts import disable_user

    with opened_hub() as hub:
        disable_user(hub.store, name, hub.clock.now())
    out.print(f"user {name} disabled")


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="The token's name (recorded as api:<name> on every action).")],
    user: Annotated[str | None, typer.Option(help="A user's token: it acts with the user's role.")] = None,
    role: Annotated[str | None, typer.Option(help="A system's token with its own role.")] = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke the token of this name.")] = False,
) -> None:
    """Make an API token (printed once; only its hash is kept), or revoke one with --revoke."""
    from hub.corrections import cli_actor
    from hub.web.accounts import create_token, revoke_token

    with opened_hub() as hub:
        if revoke:
            revoke_token(hub.store, name, hub.clock.now())
            out.print(f"token {name} revoked")
            return
        token = create_token(hub.store, name, user=user, role=role, by=cli_actor(), now=hub.clock.now())
    err.print(f"token {name} made; it is shown once, keep it in a secret store:")
    sys.stdout.write(token + "\n")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
