"""The collectors' questions, answered from the store without sending (hub/readonly.py): how things
stand (`status`), one invoice's story (`show`), who must fix what (`rejections`), AR records that are
not invoices (`quarantine`). None of them needs a deployment secret or loads a connector."""

import sys
from typing import Annotated, Any

import typer

from hub.commands import context, output
from hub.commands.context import ReadOnlyCommand
from hub.commands.output import FOUND, OK, JsonOption

PANEL = "Collectors"
commands = context.group()


@commands.command(cls=ReadOnlyCommand, rich_help_panel=PANEL)
def status(as_json: JsonOption = False) -> None:
    """Invoices per portal and state, and everything that needs a person."""
    from hub.readonly import status_summary
    from hub.text_table import Column

    with context.opened_view() as hub:
        summary = status_summary(hub)
    if as_json:
        output.emit_json(summary)
        return
    # Plain text laid out in one pass (hub/text_table.py) and plain lines, as `rejections`: importing
    # rich and laying out its tables was ~50 ms of the command's ~200.
    states = sorted({s for counts in summary["profiles"].values() for s in counts})
    columns = [Column("Profile"), *(Column(state, wrap=False, right=True) for state in states)]
    cells = [
        [profile, *(str(counts.get(s, "")) for s in states)]
        for profile, counts in sorted(summary["profiles"].items())
    ]
    output.table(columns, cells, "Invoices by portal profile and state")
    if summary["attention"]:
        columns = [Column("Invoice"), Column("State", wrap=False), Column("Profile"), Column("Why")]
        cells = [
            [item["invoice_number"], item["state"], item["profile_id"] or "-", item["why"]]
            for item in summary["attention"]
        ]
        output.table(columns, cells, "Needs attention")
    line = output.line
    if summary["quarantined"]:
        line(
            f"{summary['quarantined']} AR record(s) quarantined (not valid invoices: `portalhub quarantine` "
            "lists them with the reasons)",
            "yellow",
        )
    for file_name, problems in summary["broken_rules_files"].items():
        line(f"rules file {file_name} does not load; its customers' invoices wait:", "red")
        for problem in problems:
            line(f"  {problem}")
    for profile_id, health in summary["profile_health"].items():
        line(f"profile {profile_id} {health['summary']}", "red")
    for customer, why in summary["contested_customers"].items():
        line(f"customer {customer} held: {why}", "red")
    for profile_id, why in summary["portals_not_working"].items():
        line(f"profile {profile_id} {why}", "red")
    for poll in summary["polls"]:
        if poll["last_error"]:
            line(f"poll {poll['profile_id']} failing: {poll['last_error']}", "red")
    _print_daemons(summary["daemons"])


def _print_daemons(daemons: list[dict[str, Any]]) -> None:
    from hub.text_table import Column

    if not daemons:
        output.line("No daemon has run on this store yet (`portalhub run`).")
        return
    columns = [Column("Daemon"), Column("Host / pid"), Column("Version"), Column("State", wrap=False)]
    columns += [Column("Last seen (UTC)", wrap=False), Column("Jobs")]
    cells = []
    for daemon in daemons:
        state = "alive" if daemon["alive"] else ("stopped" if daemon["stopped_at"] else "SILENT")
        jobs = []
        for name, job in sorted(daemon["jobs"].items()):
            when = (job["last_finished"] or job["last_started"] or "never")[11:19]
            outcome = job["outcome"] or "not run"
            jobs.append(f"{name}: {outcome} {when}" + (f" ({job['error']})" if job.get("error") else ""))
        cells.append(
            [
                daemon["worker_id"],
                f"{daemon['host']} / {daemon['pid']}",
                daemon["version"],
                state,
                daemon["last_seen_at"][:19].replace("T", " "),
                "\n".join(jobs),
            ]
        )
    title = "Daemons (last heartbeat; each job's last run and how it ended)"
    output.table(columns, cells, title)


@commands.command(cls=ReadOnlyCommand, rich_help_panel=PANEL)
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
    from hub.readonly import invoice_page
    from hub.text_table import Column

    with context.opened_view() as hub:
        data = invoice_page(hub, invoice)
    if as_json:
        output.emit_json(data)
        return
    # Plain text (hub/text_table.py, `output.line`), as `status` and `rejections`: nothing a portal or
    # AR wrote is taken for markup.
    line = output.line
    head = data["invoice"]
    line(
        f"{head['invoice_number']} {head['purpose']} {head['total']} {head['currency']} "
        f"customer {head['customer_id']} -> {head['profile_id'] or '(no profile)'}: {head['state']}"
        + (f" (portal id {head['portal_invoice_id']})" if head["portal_invoice_id"] else ""),
        "bold",
    )
    if head["reason"]:
        line(f"  why: {head['reason']}")
    if head.get("profile_health"):
        line(f"  waits: profile {head['profile_id']} {head['profile_health']['summary']}", "red")
    if head.get("unconfirmed"):
        line("  unconfirmed: recorded as received on evidence the hub could not verify", "yellow")
    columns = [Column("When (UTC)", wrap=False), Column("From"), Column("To"), Column("By"), Column("Why")]
    cells = [
        [event["at"][:19], event["from"] or "", event["to"], event["actor"], event["reason"] or ""]
        for event in data["events"]
    ]
    output.table(columns, cells, "Timeline")
    if data["violations"]:
        output.violations_table("Rules found at the last pre-flight", data["violations"])
    if data["attempts"]:
        columns = [Column("#", wrap=False, right=True), Column("payloadID"), Column("As number")]
        columns += [Column("Outcome"), Column("ms", wrap=False, right=True), Column("Portal said")]
        cells = [
            [
                str(attempt["id"]),
                attempt["payload_id"],
                attempt["portal_invoice_number"],
                attempt["outcome"],
                str(attempt["duration_ms"] or ""),
                " ".join(filter(None, [attempt["portal_code"], attempt["portal_text"] or attempt["error"]])),
            ]
            for attempt in data["attempts"]
        ]
        output.table(columns, cells, "Sends")
    for link in data.get("corrections", []):
        refused = link["corrects"]
        line(
            f"correction: send #{link['attempt_id']} ({link['payload_id']}, revision {link['revision']}, "
            f"as {link['portal_invoice_number']}: {link['outcome']}) corrects send "
            f"#{refused['attempt_id']} ({refused['payload_id'] or '?'}) that {refused['profile_id']} "
            f"{refused['state'].lower()} on {refused['at'][:16]} ({refused['category_label']})"
        )
    for other in data.get("related", []):
        line(
            f"related: {other['invoice_number']} ({other['purpose']}, {other['total']} "
            f"{other['currency']}) names it as its original: {other['state']}"
        )
    for kept in data.get("unplaced_statuses", []):
        line(
            f"portal status not applied #{kept['id']} received {kept['received_at'][:16]} "
            f"({kept['status_kind'] or '?'} {kept['status_type'] or ''}"
            f"{', resolved' if kept['resolved_at'] else ''}): {kept['explanation']}"
            + (f" - said: {kept['comments']}" if kept["comments"] else ""),
            "yellow",
        )
    step = data["next_step"]
    if step:
        line(f"next step ({step['category_label']}): {step['sentence']}", "bold")
        if step.get("rules_file"):
            line(
                f"  a rule could have caught it before sending: add one at {output.relative(step['rules_file'])} "
                f"(`{step['suggest']}` proposes it from the portal's refusals)"
            )


@commands.command(cls=ReadOnlyCommand, rich_help_panel=PANEL)
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
        output.fail("--csv and --json conflict: pick one (CSV for a spreadsheet, JSON for a script)")
    if grouped and not as_json:
        output.fail("--grouped shapes the JSON output: use it with --json (the table is always grouped)")
    unknown = sorted(set(category or ()) - set(CATEGORY_LABELS))
    if unknown:
        output.fail(f"unknown category {', '.join(unknown)}; use one of: {', '.join(CATEGORY_LABELS)}")
    try:
        least = Decimal(min_amount) if min_amount is not None else None
    except InvalidOperation:
        output.fail(f"--min-amount takes a number such as 1000 or 250.50, not {min_amount!r}")
    with context.opened_view() as hub:
        check_worklist_filter(hub, customer=customer, portal=portal)
        rows = open_problems(
            hub,
            customer=customer,
            portal=portal,
            since=context.since(since),
            categories=tuple(category or ()),
            older_than_days=older_than,
            min_amount=least,
        )
    if as_csv:
        sys.stdout.write(to_csv(rows))
    elif as_json:
        output.emit_json([g.as_json() for g in groups(rows)] if grouped else rows)
    else:
        from hub.text_table import Column

        # Plain text laid out in one pass (hub/text_table.py): rich took ~5 s for 3,030 rows. The words
        # and the fix are the point of the command: wrapped in full, never cut, and the columns that
        # wrap give up width first (at 80 columns the short ones keep theirs).
        columns = [Column("Invoice"), Column("Portal")]
        columns += [Column(name, wrap=False) for name in ("State", "Amount", "Days")]
        columns += [Column("Portal said / rule"), Column("What to do")]
        for group in groups(rows):
            totals = ", ".join(output.money_text(v, c) for c, v in group.totals.items())
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
                        output.money_text(row["amount"], row["currency"]),
                        str(row["days"]),
                        said or row["reason"] or "",
                        f"{row['hint']} ({row['who']})",
                    ]
                )
            title = f"{group.customer_id} - {group.label}: {len(group.rows)} invoice(s), {totals}"
            output.table(columns, cells, title)
        output.line(f"{len(rows)} invoice(s) need fixing", "bold")
    raise typer.Exit(FOUND if rows else OK)


@commands.command(cls=ReadOnlyCommand, rich_help_panel=PANEL)
def quarantine(
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Also the records fixed in AR since (taken in as invoices).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """AR records the hub quarantined: not valid invoices, so never sent; each with the reason, to fix
    in the AR system (the hub takes a fixed record in at its next ingest). Exit 1 when there are any."""
    from hub.readonly import quarantined
    from hub.text_table import Column

    with context.opened_view() as hub:
        rows = quarantined(hub, resolved=include_resolved)
    if as_json:
        output.emit_json(rows)
    else:
        columns = [Column("AR record"), Column("Invoice"), Column("Source")]
        columns += [Column("First seen (UTC)", wrap=False), Column("Why")]
        cells = [
            [
                q["ar_key"],
                q["invoice_number"] or "-",
                q["source"],
                q["first_seen"][:16].replace("T", " ") + (" (resolved)" if q["resolved_at"] else ""),
                q["reason"],
            ]
            for q in rows
        ]
        output.table(columns, cells, "Quarantined AR records (not invoices; fix them in AR)")
        output.line(f"{len(rows)} AR record(s) quarantined", "bold")
    raise typer.Exit(FOUND if any(q["resolved_at"] is None for q in rows) else OK)
