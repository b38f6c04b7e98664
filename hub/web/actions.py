"""What the web pages and the API do to an invoice beyond the corrections (hub/corrections):
re-validate it fresh from AR, assign an owner, add a note, set a follow-up date. Each is an audit event
naming who did it (`web:<user>` or `api:<token>`); owner and follow-up date are also kept in
`invoice_followups` so the worklist can show and sort by them.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from hub.corrections import NotApplicable, find_invoice
from hub.errors import ConfigError
from hub.lifecycle import note
from hub.model import Invoice
from hub.preflight import preflight
from hub.store.accounts import FollowUpRow
from hub.store.tables import InvoiceRow

if TYPE_CHECKING:
    from hub.runtime import Hub

NOTE_MAX = 4000


def customer_of(hub: Hub, number: str) -> str | None:
    """The customer of an invoice (what decides whether a collector may act on it); None: no such invoice."""
    with hub.store.session() as session:
        try:
            return find_invoice(session, number).customer_id
        except NotApplicable:
            return None


def follow_ups(hub: Hub, invoice_numbers: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """invoice number -> {owner, follow_up_on} for the invoices that have either."""
    with hub.store.session() as session:
        query = select(
            col(InvoiceRow.invoice_number), col(FollowUpRow.owner), col(FollowUpRow.follow_up_on)
        ).join(FollowUpRow, col(FollowUpRow.invoice_id) == col(InvoiceRow.id))
        if invoice_numbers is not None:
            if not invoice_numbers:
                return {}
            query = query.where(col(InvoiceRow.invoice_number).in_(invoice_numbers))
        found = session.exec(query).all()
    return {
        number: {"owner": owner, "follow_up_on": day.isoformat() if day else None}
        for number, owner, day in found
    }


def _set(hub: Hub, number: str, actor: str, reason: str, details: dict[str, Any], **values: Any) -> None:
    now = hub.clock.now()
    with hub.store.session() as session:
        row = find_invoice(session, number)
        current = session.get(FollowUpRow, row.id) or FollowUpRow(
            invoice_id=row.id,  # type: ignore[arg-type]
            updated_at=now,
            updated_by=actor,
        )
        for name, value in values.items():
            setattr(current, name, value)
        current.updated_at, current.updated_by = now, actor
        session.add(current)
        note(session, row, actor=actor, now=now, reason=reason, details=details)


def assign_owner(hub: Hub, number: str, owner: str | None, *, actor: str) -> None:
    """Make `owner` (any name; empty: nobody) responsible for the invoice's problem."""
    owner = (owner or "").strip()[:100] or None
    reason = f"owner set to {owner} by {actor}" if owner else f"owner cleared by {actor}"
    _set(hub, number, actor, reason, {"owner": owner}, owner=owner)


def set_follow_up(hub: Hub, number: str, day: date | None, *, actor: str) -> None:
    """Look at the invoice again on `day` (None: no follow-up)."""
    reason = f"follow-up set to {day.isoformat()} by {actor}" if day else f"follow-up cleared by {actor}"
    _set(hub, number, actor, reason, {"follow_up_on": day.isoformat() if day else None}, follow_up_on=day)


def add_note(hub: Hub, number: str, text: str, *, actor: str) -> None:
    """A collector's note on the timeline (kept verbatim, shown escaped)."""
    text = text.strip()
    if not text:
        raise NotApplicable("a note needs some text")
    if len(text) > NOTE_MAX:
        raise NotApplicable(f"a note has at most {NOTE_MAX} characters")
    with hub.store.session() as session:
        row = find_invoice(session, number)
        note(
            session,
            row,
            actor=actor,
            now=hub.clock.now(),
            reason=f"note by {actor}: {text}",
            details={"note": text},
        )


def revalidate(hub: Hub, number: str, *, actor: str) -> dict[str, Any]:
    """Pre-flight the invoice as the AR system has it now (read fresh, nothing stored but the event),
    against the profile it routes to: the violations, or none. The invoice is not sent."""
    with hub.store.session() as session:
        row = find_invoice(session, number)
        ar_key = row.ar_key
    records = list(hub.ar_source.pull(keys=[ar_key]))
    if not records:
        raise NotApplicable(f"the AR system does not offer {number} (record {ar_key}): is it still posted?")
    record = records[0]
    if record.invoice is None:
        raise NotApplicable(f"the AR record of {number} is not a valid invoice: {record.error}")
    invoice: Invoice = record.invoice
    profile = hub.route(invoice.customer_id)
    if profile is None:
        raise ConfigError(f"no profile takes customer {invoice.customer_id!r}")
    result = preflight(invoice, profile, hub.preflight_connector(profile), hub.schemas, hub.clock.now())
    violations = [v.model_dump(mode="json") for v in result.violations]
    errors = [v for v in violations if v["severity"] == "error"]
    verdict = f"{len(errors)} error(s)" if errors else "passes"
    with hub.store.session() as session:
        row = find_invoice(session, number)
        note(
            session,
            row,
            actor=actor,
            now=hub.clock.now(),
            reason=f"re-validated from AR by {actor} against {profile.id}: {verdict}",
            details={"revalidate": {"profile_id": profile.id, "violations": violations}},
        )
    return {"invoice_number": number, "profile_id": profile.id, "ok": not errors, "violations": violations}
