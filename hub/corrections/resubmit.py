"""`resubmit`: re-read a fixed invoice from AR, validate it again, send it now as a correction.

A correction always gets a new payloadID, and a new number where the portal refuses the old one (a
disputed invoice on a portal whose connector has `renumber_after_dispute`, e.g. Coupa: `INV-1-R1`);
the intake the daemon runs decides both, so a collector's resubmit and the daemon's pick-up of an AR
change behave alike. Nothing goes out unchanged by accident: when the content is the very content
the same portal refused for a content reason (anything but credentials or the hub's configuration),
it is refused with the portal's words unless `force`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.corrections.common import (
    NOT_CONTENT,
    NotApplicable,
    ResubmitRefused,
    cli_actor,
    find_invoice,
)
from hub.corrections.links import Refusal, correction_links, history, refusals
from hub.lifecycle import note
from hub.model import Invoice, InvoiceState
from hub.pipeline.attempts import latest_attempt
from hub.pipeline.intake import take, validate
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.store.tables import InvoiceRow, RevisionRow
from hub.worklist import CATEGORY_LABELS

S = InvoiceState
RESUBMITTABLE = frozenset({S.REJECTED, S.DISPUTED, S.BLOCKED, S.READY})


@dataclass
class ResubmitResult:
    invoice_number: str
    ar: str  # what re-reading the AR record found: corrected | unchanged
    state: str
    revision: int
    portal_invoice_number: str | None
    payload_id: str | None  # of the correction's send, when it left
    corrects: dict[str, Any] | None  # the refusal it answers
    forced: bool
    message: str
    category: str | None = None  # why it is where it is (a READY invoice whose portal refused access...)

    @property
    def ok(self) -> bool:
        """Sent and accepted, or waiting for its turn: nothing for the collector to do now."""
        accepted = (S.SUBMITTED, S.PENDING_APPROVAL, S.APPROVED, S.PAID)
        return self.state in accepted or (self.state == S.READY and self.category not in NOT_CONTENT)

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


_STATE_ADVICE = {
    S.NEW: "it has not been checked yet; the daemon validates it at its next ingest",
    S.SUBMITTING: "it is being sent right now; see `portalhub show`",
    S.IN_DOUBT: "its last send has no known outcome: the hub asks the portal before any resend (see `portalhub show`)",
    S.PAID: "it is paid: a correction now goes as a credit or debit memo from the AR system",
    S.CANCELLED: "it was cancelled at the portal: issue the corrected invoice in AR under a new number",
}
_ACCEPTED_ADVICE = (
    "the portal accepted it ({state}): a correction needs the original withdrawn first "
    "(`portalhub cancel {number}` where the portal allows it, or a credit memo from AR), then a new invoice"
)


def resubmit(hub: Hub, number: str, *, force: bool = False, actor: str | None = None) -> ResubmitResult:
    """Re-read one invoice from AR, validate it again and send it now as a correction.

    Raises NotApplicable (its state does not allow it), ResubmitRefused (unchanged since the portal
    refused its content, or the AR record is not a valid invoice any more)."""
    actor = actor or cli_actor()
    with hub.store.session() as session:
        row = find_invoice(session, number)
        links = correction_links(*history(session, row))
    state = InvoiceState(row.state)
    if state not in RESUBMITTABLE:
        advice = _STATE_ADVICE.get(state) or _ACCEPTED_ADVICE.format(state=state, number=row.invoice_number)
        if links and state not in (S.PAID, S.CANCELLED):
            latest = links[-1]
            advice = (
                f"its correction already went out (payloadID {latest['payload_id']}, as "
                f"{latest['portal_invoice_number']}, revision {latest['revision']}); see `portalhub show`"
            )
        raise NotApplicable(f"{row.invoice_number} is {state}, not resubmittable: {advice}")
    records = list(hub.ar_source.pull(keys=[row.ar_key]))
    if not records:
        raise ResubmitRefused(
            f"the AR system does not offer {row.invoice_number} (record {row.ar_key}) for sending: "
            "is it still posted?"
        )
    record = records[0]
    try:
        with hub.store.session() as session:
            took = take(hub, session, record)
    except IntegrityError:  # the daemon took the same change in at the same moment: it is in
        took = "corrected"
    if took.startswith("quarantined"):
        raise ResubmitRefused(
            f"the AR record of {row.invoice_number} is not a valid invoice any more: {record.error}; "
            "fix it in AR (it is quarantined until then)"
        )
    with hub.store.session() as session:
        row = find_invoice(session, row.invoice_number)
        events, attempts = history(session, row)
        found = refusals(events, attempts)
        last = found[-1] if found else None
        answered = last is not None and any(
            e.to_state == S.SUBMITTING.value and (e.id or 0) > last.event_id for e in events
        )
        open_refusal = last if last is not None and not answered else None
        unchanged = open_refusal is not None and _refused_content(session, row, open_refusal)
        profile = hub.route(json.loads(row.document)["customer_id"])
        same_portal = (
            open_refusal is not None and profile is not None and profile.id == open_refusal.profile_id
        )
        if (
            unchanged
            and same_portal
            and open_refusal is not None
            and open_refusal.about_content
            and not force
        ):
            verb = "rejected" if open_refusal.state == S.REJECTED.value else "disputed"
            said = f": {open_refusal.words}" if open_refusal.words else ""
            raise ResubmitRefused(
                f"{row.invoice_number} is unchanged in the AR system since {open_refusal.profile_id} {verb} "
                f"it on {open_refusal.at:%Y-%m-%d %H:%M} UTC ({CATEGORY_LABELS.get(open_refusal.category, open_refusal.category)}"
                f"{said}). Sent again as it is, it would be {verb} again: fix it in AR first, then resubmit; "
                "or pass --force to send it unchanged on purpose."
            )
        why = _why(took, open_refusal, unchanged, force)
        note(
            session,
            row,
            actor=actor,
            now=hub.clock.now(),
            reason=f"resubmit requested by {actor}: {why}",
            details={
                "resubmit": {
                    "forced": force,
                    "ar": took,
                    "corrects": open_refusal.as_json() if open_refusal else None,
                }
            },
        )
        if took == "unchanged" and InvoiceState(row.state) is not S.READY:
            invoice = Invoice.model_validate_json(row.document)
            validate(hub, session, row, invoice, corrected=InvoiceState(row.state) is not S.BLOCKED)
        profile_id = row.profile_id if row.state == S.READY.value else None
        row_id = row.id
    payload_id = None
    if profile_id is not None:
        report = submit_profile(hub, hub.profile(profile_id), limit=1, invoice_id=row_id)
        with hub.store.session() as session:
            sent = latest_attempt(session, row_id)
            if report.sent and sent is not None:
                payload_id = sent.payload_id
    with hub.store.session() as session:
        row = find_invoice(session, row.invoice_number)
    return ResubmitResult(
        invoice_number=row.invoice_number,
        ar=took,
        state=row.state,
        revision=row.revision,
        portal_invoice_number=row.portal_invoice_number,
        payload_id=payload_id,
        corrects=open_refusal.as_json() if open_refusal else None,
        forced=force,
        message=row.last_reason or "",
        category=row.last_category,
    )


def _refused_content(session: Session, row: InvoiceRow, refusal: Refusal) -> bool:
    """Is the invoice's current content the very content the portal refused?"""
    if refusal.revision is None:
        return False
    refused = session.exec(
        select(RevisionRow.content_hash).where(
            col(RevisionRow.invoice_id) == row.id, col(RevisionRow.revision) == refusal.revision
        )
    ).first()
    return refused == row.content_hash


def _why(took: str, refusal: Refusal | None, unchanged: bool, force: bool) -> str:
    if refusal is None:
        return f"AR record {took}; validated again and sent"
    label = CATEGORY_LABELS.get(refusal.category, refusal.category)
    if not unchanged:
        return f"corrected in AR since the portal's refusal ({label}); sent as a correction"
    if not refusal.about_content:
        return f"unchanged, but the refusal was not about its content ({label}); sent again"
    return f"unchanged and sent again on purpose (--force) despite the refusal ({label})" if force else "sent"
