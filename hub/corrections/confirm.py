"""`portalhub confirm`: a person has checked at the portal that an invoice recorded as *presumed
received* (a duplicate answer to our own unanswered send, the portal's copy not comparable: see
hub/pipeline/evidence.py) is there and is this invoice. The confirmation is an event on the timeline
(who, when, what they checked), and the invoice leaves the worklist."""

from __future__ import annotations

from hub.corrections.common import NotApplicable, cli_actor, find_invoice
from hub.lifecycle import note
from hub.model import InvoiceState, RejectionCategory
from hub.runtime import Hub


def confirm_received(hub: Hub, number: str, checked: str | None = None, actor: str | None = None) -> str:
    """Record the confirmation; returns the reason written. NotApplicable unless the invoice is SUBMITTED
    on unverified evidence."""
    with hub.store.session() as session:
        row = find_invoice(session, number)
        if (
            row.state != InvoiceState.SUBMITTED.value
            or row.last_category != RejectionCategory.DUPLICATE.value
        ):
            raise NotApplicable(
                f"{row.invoice_number} is {row.state} and not waiting for a confirmation: only an invoice "
                "recorded as presumed received is confirmed (see `portalhub show`)"
            )
        number_sent = row.portal_invoice_number or row.invoice_number
        reason = f"confirmed at {row.profile_id}: {number_sent} there is this invoice" + (
            f" ({checked})" if checked else ""
        )
        note(session, row, actor=actor or cli_actor(), now=hub.clock.now(), reason=reason)
        # The note keeps the state; the evidence question is settled, so the worklist lets it go.
        row.last_category = None
        row.last_reason = reason
        session.add(row)
    return reason
