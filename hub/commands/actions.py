"""The collectors' actions on one invoice: check it without sending (`validate`), send it now
(`submit`), send a fixed one again (`resubmit`), withdraw it (`cancel`), confirm it arrived (`confirm`),
and mark portal statuses the hub could not place as dealt with (`resolve-status`). An invoice is
named by any number the buyer sees (hub/corrections: `find_invoice`). Those that change what a portal
holds ask first on a terminal (`--yes` for scripts)."""

from typing import Annotated

import typer

from hub.commands import context, output
from hub.commands.context import Command
from hub.commands.output import FOUND, OK, JsonOption, escape

PANEL = "Collectors"
commands = context.group()


@commands.command(cls=Command, rich_help_panel=PANEL)
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
    from hub.invoice_actions import validate_invoice

    with context.opened_hub() as hub:
        try:
            done = validate_invoice(hub, invoice, profile, stored=stored)
        except DocumentError as exc:
            output.fail(str(exc), FOUND)
    number = done.invoice.invoice_number
    if as_json:
        output.emit_json(done.as_json())
    elif done.result.violations:
        title = f"{number} against {done.profile_id}, as read from {done.where}"
        output.violations_table(title, done.violations_json())
    else:
        output.out.print(
            f"[green]{number} passes pre-flight for {done.profile_id}[/green] (checked: {escape(done.where)})"
        )
    raise typer.Exit(OK if done.result.passed else FOUND)


@commands.command(cls=Command, rich_help_panel=PANEL)
def submit(
    invoice: Annotated[str, typer.Argument(help="Invoice number (must be READY).")],
    as_json: JsonOption = False,
) -> None:
    """Send one READY invoice now, whatever its retry schedule."""
    from hub.invoice_actions import submit_invoice

    with context.opened_hub() as hub:
        done = submit_invoice(hub, invoice)
    if as_json:
        output.emit_json(done.as_json())
    else:
        output.out.print(f"{escape(invoice)}: {done.state} - {escape(done.reason or '')}")
    raise typer.Exit(FOUND if done.refused else OK)


@commands.command(cls=Command, rich_help_panel=PANEL)
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

    context.confirm(f"Re-read {invoice} from AR and send it to its portal now as a correction", yes)
    with context.opened_hub() as hub:
        try:
            result = correct(hub, invoice, force=force)
        except ResubmitRefused as exc:
            output.fail(str(exc), FOUND)
    if as_json:
        output.emit_json(result.as_json())
    else:
        sent_as = result.portal_invoice_number or result.invoice_number
        colour = "green" if result.ok else "red"
        output.out.print(
            f"{escape(result.invoice_number)} (revision {result.revision}, AR record {result.ar}, sent as "
            f"{escape(sent_as)}): [{colour}]{result.state}[/{colour}] - {escape(result.message)}"
        )
        if result.corrects:
            refused = result.corrects
            output.out.print(
                f"  corrects the send {escape(refused['payload_id'] or '?')} that {refused['profile_id']} "
                f"{refused['state'].lower()} on {refused['at'][:16]} ({refused['category_label']})"
            )
    raise typer.Exit(OK if result.ok else FOUND)


@commands.command("resolve-status", cls=Command, rich_help_panel=PANEL)
def resolve_status(
    ids: Annotated[list[int], typer.Argument(help="Ids of portal statuses not placed (from `rejections`).")],
) -> None:
    """Mark portal statuses the hub could not place as dealt with: they leave the worklist (kept on
    `show`). Exit 2 for an id that does not exist."""
    from hub.errors import ConfigError
    from hub.unplaced import resolve_in

    with context.opened_hub() as hub:
        try:
            done = resolve_in(hub, ids)
        except ConfigError as exc:
            output.fail(str(exc))
    output.out.print(f"resolved: {', '.join(f'#{i}' for i in done) or 'nothing new'}")


@commands.command(cls=Command, rich_help_panel=PANEL)
def confirm(
    invoice: Annotated[str, typer.Argument(help="Invoice number recorded as presumed received.")],
    checked: Annotated[str | None, typer.Option(help="What you checked at the portal (kept).")] = None,
) -> None:
    """Confirm, after checking at the portal, that an invoice recorded as presumed received (a duplicate
    answer to the hub's own unanswered send) is there: it leaves the worklist."""
    from hub.corrections import confirm_received

    with context.opened_hub() as hub:
        output.out.print(escape(confirm_received(hub, invoice, checked)))


@commands.command(cls=Command, rich_help_panel=PANEL)
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

    context.confirm(f"Withdraw {invoice} at its portal (the portal's own cancel; it cannot be undone)", yes)
    with context.opened_hub() as hub:
        try:
            result = withdraw(hub, invoice, reason=reason)
        except PortalBusy as exc:
            output.fail(str(exc), FOUND)
    if as_json:
        output.emit_json(result.as_json())
    else:
        colour = "green" if result.ok else "red"
        output.out.print(
            f"{escape(result.invoice_number)} at {result.profile_id}: [{colour}]{result.outcome}[/{colour}] "
            f"({result.state}) - {escape(result.message)}"
        )
    raise typer.Exit(OK if result.ok else FOUND)
