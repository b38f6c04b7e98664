"""What the collectors' commands (and the web pages) ask of the hub. The read questions return their
JSON form directly (plain dicts and lists, as the web API serves them); what acts returns a typed result
with its JSON form (`as_json()`), so the command line only prints.

- `status_summary`: invoices per profile and state, and everything that needs a person;
- `timeline`: one invoice, its events and attempts (why is it where it is); `next_step` says what to
  do after a portal's refusal (`show` asks both through hub/readonly/, without the ORM);
- `rejections`: the collectors' worklist (who must fix what; hub/worklist.py);
- `quarantined`: AR records that are not valid invoices.

Every invoice number is looked up one way (`invoice_row`, over `find_invoice`): by any number the buyer
sees, in any case. Acting on one invoice (validate, submit) is hub/invoice_actions.py; the operators'
questions (audit, report, users) are hub/operations.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, select

from hub import profile_health, unplaced
from hub.corrections import InvoiceNotFound, find_invoice, related_documents
from hub.errors import ConfigError
from hub.model import InvoiceState
from hub.next_steps import next_step as next_step  # `show` asks it here too
from hub.store.tables import AttemptRow, CursorRow, EventRow, InvoiceRow, QuarantineRow
from hub.worklist import WorklistFilter, worklist

if TYPE_CHECKING:
    # Sending and pre-flight (connectors, mappings, the rules engine) are imported where they are used:
    # the read-only questions (`status`, `show`, `rejections`) must not load them (hub/readonly/).
    from hub.notify.health import Incident
    from hub.readonly import ReadOnlyHub
    from hub.runtime import Hub

S = InvoiceState

#: The invoice asked for is not in the store (nor quarantined: see `find_invoice`).
NotFound = InvoiceNotFound


def invoice_row(hub: Hub | ReadOnlyHub, number: str) -> InvoiceRow:
    """The invoice by any number the buyer sees, case-insensitively (hub/corrections/common.py): the
    one lookup behind every service that takes an invoice number."""
    with hub.store.session() as session:
        return find_invoice(session, number)


# --- status --------------------------------------------------------------------------------------------------
def status_summary(hub: Hub | ReadOnlyHub) -> dict[str, Any]:
    """Invoices per profile and state, and everything that needs a person, read through the ORM (the
    commands read it through the driver: hub/readonly/, which builds the answer for both)."""
    from hub.heartbeat import daemons
    from hub.readonly import ATTENTION_STATES, needs_attention, summary_of

    now = hub.clock.now()
    with hub.store.session() as session:
        counts = session.exec(
            select(InvoiceRow.profile_id, InvoiceRow.state, func.count()).group_by(
                InvoiceRow.profile_id, InvoiceRow.state
            )
        ).all()
        troubled = profile_health.troubled(session)
        attention = [
            item
            for item in (
                needs_attention(row, now, troubled)
                for row in session.exec(select(InvoiceRow).where(col(InvoiceRow.state).in_(ATTENTION_STATES)))
            )
            if item is not None
        ]
        quarantined = session.exec(
            select(func.count()).select_from(QuarantineRow).where(col(QuarantineRow.resolved_at).is_(None))
        ).one()
        cursors = session.exec(select(CursorRow)).all()
        found = incidents_of(hub, session, now)
    return summary_of(hub, counts, troubled, attention, quarantined, cursors, found, daemons(hub.store, now))


def portals_not_working(hub: Hub | ReadOnlyHub, session: Session, now: datetime) -> dict[str, str]:
    """profile id -> why it is not working now (`incidents_of`), as `status` says it."""
    from hub.readonly import not_working_of

    return not_working_of(incidents_of(hub, session, now))


def incidents_of(hub: Hub | ReadOnlyHub, session: Session, now: datetime) -> list[Incident]:
    """Profiles not working now: held or failing (hub/profile_health.py), credentials refused, or the
    portal down longer than `notifications.portal_down_minutes` (default 30)."""
    from hub.notify.health import incidents_of as found
    from hub.readonly import customers_by_profile

    minutes = hub.config.notifications.portal_down_minutes if hub.config.notifications else 30
    return found(session, customers_by_profile(hub), now, timedelta(minutes=minutes))


def profile_health_of(hub: Hub | ReadOnlyHub, profile_id: str | None) -> dict[str, Any] | None:
    """The profile's health when it is not working (None when it works or there is no profile)."""
    if profile_id is None:
        return None
    with hub.store.session() as session:
        health = profile_health.health_of(session, profile_id)
    return None if health.working else health.as_json() | {"summary": health.describe()}


def release_profile(hub: Hub, profile_id: str, actor: str) -> profile_health.Health | None:
    """`portalhub profile release ID`: end a hold or a failure now; the health it had (None if it was
    working). A held profile whose cause is still there is held again at its next attempt."""
    with hub.store.session() as session:
        return profile_health.release(session, profile_id, actor, hub.clock.now())


# --- show ----------------------------------------------------------------------------------------------------
def timeline(hub: Hub | ReadOnlyHub, number: str) -> dict[str, Any]:
    """One invoice's timeline, read through the ORM (hub/readonly/ builds it, and reads it for `show`)."""
    from hub.readonly import timeline_of

    row = invoice_row(hub, number)
    with hub.store.session() as session:
        events = session.exec(
            select(EventRow).where(col(EventRow.invoice_id) == row.id).order_by(col(EventRow.id))
        ).all()
        attempts = session.exec(
            select(AttemptRow).where(col(AttemptRow.invoice_id) == row.id).order_by(col(AttemptRow.id))
        ).all()
        related = related_documents(session, row)
        kept = [unplaced.as_dict(u) for u in unplaced.for_invoice(session, row)]
        health = profile_health.health_of(session, row.profile_id) if row.profile_id is not None else None
    return timeline_of(row, events, attempts, related, kept, health)


# --- rejections ----------------------------------------------------------------------------------------------
def rejections(
    hub: Hub | ReadOnlyHub,
    *,
    customer: str | None = None,
    portal: str | None = None,
    since: datetime | None = None,
    categories: tuple[str, ...] = (),
    older_than_days: int | None = None,
    min_amount: Decimal | None = None,
) -> list[dict[str, Any]]:
    """The collectors' worklist (hub/worklist.py): open problems by customer and category, oldest first."""
    return worklist(
        hub,
        WorklistFilter(
            customer=customer,
            portal=portal,
            categories=categories,
            since=since,
            older_than_days=older_than_days,
            min_amount=min_amount,
        ),
    )


def check_worklist_filter(hub: Hub | ReadOnlyHub, *, customer: str | None, portal: str | None) -> None:
    """A filter naming no known profile or customer is a typo, not "nothing to do": ConfigError with
    the closest names. Known profiles are those of the rules folder and those invoices were routed to;
    known customers, those the store holds invoices of and those a profile matches."""
    from hub.readonly import unknown_name

    outlines = getattr(hub, "profile_outlines", None)
    if outlines is not None:
        profiles = set(outlines)
        matched = {c for o in outlines.values() for c in o.customers}
    else:
        loaded = getattr(hub, "profiles", {})
        profiles = set(loaded)
        matched = {c for p in loaded.values() for c in p.match.customer_id}
    with hub.store.session() as session:
        if portal is not None and portal not in profiles:
            stored = {p for p in session.exec(select(InvoiceRow.profile_id).distinct()) if p}
            known = profiles | stored
            if portal not in known:
                raise ConfigError(unknown_name("profile", portal, known))
        if customer is not None and customer not in matched:
            held = session.exec(
                select(InvoiceRow.id).where(col(InvoiceRow.customer_id) == customer).limit(1)
            ).first()
            if held is None:
                known = matched | set(session.exec(select(InvoiceRow.customer_id).distinct()))
                raise ConfigError(unknown_name("customer", customer, known))


# --- quarantine ----------------------------------------------------------------------------------------------
def quarantined(hub: Hub | ReadOnlyHub, *, resolved: bool = False) -> list[dict[str, Any]]:
    """AR records the hub quarantined (not valid invoices), newest first, with the reason each is not
    one; `resolved` adds those fixed since (taken in as invoices)."""
    query = select(QuarantineRow).order_by(col(QuarantineRow.last_seen).desc(), col(QuarantineRow.id))
    if not resolved:
        query = query.where(col(QuarantineRow.resolved_at).is_(None))
    from hub.readonly import quarantine_record

    with hub.store.session() as session:
        rows = session.exec(query).all()
    return [quarantine_record(q) for q in rows]
