"""Applying a portal's status to the invoice it belongs to. Shared by polling and inbound receivers.

Matching: by the portal's invoice id, then by the number the portal got, then by our payloadID.
The same status delivered twice is recorded once (event dedupe key). A status older than the newest
one applied never moves the invoice back. A status we have no mapping for is kept verbatim as a note.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from hub.lifecycle import can_move, move, note
from hub.model import Invoice, InvoiceState, PortalStatusUpdate, RejectionCategory
from hub.store.tables import AttemptRow, InvoiceRow
from mappings.portal_match import match_record

S = InvoiceState


class Applied(Enum):
    MOVED = "moved"
    NOTED = "noted"
    DUPLICATE = "duplicate"
    STALE = "stale"
    UNMATCHED = "unmatched"
    BUSY = "busy"  # a worker is sending this invoice right now; the next poll's overlap brings it back


_PROFILE = col(InvoiceRow.profile_id) == bindparam("profile_id")
_NUMBER: Any = bindparam("number")
# find_invoice's lookups, built once with bound parameters (building a statement cost more than
# running it, once per status of every poll), and run without autoflush: a poll applies ten statuses
# per transaction, and flushing the previous status's invoice row through the ORM before each lookup
# was a quarter of a poll's CPU. The rows are written once, at the commit. The one pending change
# that can hide an invoice from these lookups is a portal id set by an earlier status of the same
# transaction: `_pending_portal_id` looks among the session's changes for it.
_BY_PORTAL_ID = (
    select(InvoiceRow)
    .where(_PROFILE, col(InvoiceRow.portal_invoice_id) == bindparam("portal_id"))
    .execution_options(autoflush=False)
)
# Two queries, each on its own index (ix_invoices_portal_number, ix_invoices_invoice_number): as one
# OR, SQLite walked every invoice of the profile for each update (Ariba's listing names invoices by
# number only: 4 s for 100 updates with 100,000 open invoices). Neither number is changed by a status.
_BY_NUMBER = (
    select(InvoiceRow)
    .where(_PROFILE, col(InvoiceRow.portal_invoice_number) == _NUMBER)
    .execution_options(autoflush=False),
    select(InvoiceRow)
    .where(
        _PROFILE, col(InvoiceRow.invoice_number) == _NUMBER, col(InvoiceRow.portal_invoice_number).is_(None)
    )
    .execution_options(autoflush=False),
)
_BY_PAYLOAD_ID = select(AttemptRow).where(col(AttemptRow.payload_id) == bindparam("payload_id"))


def find_invoice(session: Session, profile_id: str, update: PortalStatusUpdate) -> InvoiceRow | None:
    if update.portal_invoice_id:
        params = {"profile_id": profile_id, "portal_id": update.portal_invoice_id}
        row = session.exec(_BY_PORTAL_ID, params=params).first()
        if row is None:
            row = _pending_portal_id(session, profile_id, update.portal_invoice_id)
        if row is not None:
            return row
    if update.invoice_number:
        params = {"profile_id": profile_id, "number": update.invoice_number}
        for query in _BY_NUMBER:
            row = session.exec(query, params=params).first()
            if row is not None:
                return row
    if update.payload_id:
        attempt = session.exec(_BY_PAYLOAD_ID, params={"payload_id": update.payload_id}).first()
        if attempt is not None:
            return session.get(InvoiceRow, attempt.invoice_id)
    return None


def _pending_portal_id(session: Session, profile_id: str, portal_id: str) -> InvoiceRow | None:
    """The invoice of this transaction whose portal id an earlier status set, not yet written."""
    for row in session.dirty:
        if (
            isinstance(row, InvoiceRow)
            and row.profile_id == profile_id
            and row.portal_invoice_id == portal_id
        ):
            return row
    return None


def _unproven(session: Session, row: InvoiceRow, update: PortalStatusUpdate) -> bool:
    """Is this a status for an invoice of ours that the portal never acknowledged (IN_DOUBT, refused as
    a duplicate number, or SUBMITTED as presumed received) that is not shown to be our document
    (payloadID, portal id or content)? A presumed receipt that a status does show to be ours is
    thereby confirmed (the status's move clears the flag)."""
    duplicate = row.last_category == RejectionCategory.DUPLICATE.value
    never_acknowledged = (
        row.state == S.IN_DOUBT.value
        or (row.state == S.REJECTED.value and duplicate and row.portal_invoice_id is None)
        or (row.state == S.SUBMITTED.value and duplicate)
    )
    if not never_acknowledged:
        return False
    presumed = row.state == S.SUBMITTED.value
    if not presumed and update.portal_invoice_id and update.portal_invoice_id == row.portal_invoice_id:
        return False
    payload_ids = set(
        session.exec(select(AttemptRow.payload_id).where(col(AttemptRow.invoice_id) == row.id)).all()
    )
    if row.state == S.REJECTED.value:
        return update.payload_id not in payload_ids
    match = match_record(update, Invoice.model_validate_json(row.document), payload_ids)
    return not match.ours


def apply_update(
    session: Session, profile_id: str, update: PortalStatusUpdate, *, actor: str, now: datetime
) -> Applied:
    row = find_invoice(session, profile_id, update)
    if row is None:
        return Applied.UNMATCHED
    state = InvoiceState(row.state)
    if _unproven(session, row, update):
        # Matched by number alone, on an invoice whose send the portal has not acknowledged: the
        # portal's record may be another document under that number (keyed by hand, say), so it must
        # not settle ours. Reconciliation compares identity and content before anything is decided.
        return Applied.UNMATCHED
    if state is S.SUBMITTING:
        return Applied.BUSY
    key = update.dedupe_key(profile_id)
    if row.portal_updated_at is not None and update.occurred_at < row.portal_updated_at:
        return Applied.STALE
    if update.portal_invoice_id and not row.portal_invoice_id:
        row.portal_invoice_id = update.portal_invoice_id
    details = {"update": update.model_dump(mode="json")}
    reason = _reason(update)
    if update.state is None:
        event = note(
            session,
            row,
            actor=actor,
            now=now,
            reason=reason,
            raw_status=update.raw_status,
            details=details,
            dedupe_key=key,
        )
        outcome = Applied.NOTED
    else:
        if state is S.IN_DOUBT:
            # The portal reporting on it is proof the unanswered send arrived.
            row.lease_owner = row.lease_expires_at = None
            row.next_attempt_at = None
            move(
                session,
                row,
                S.SUBMITTED,
                actor=actor,
                now=now,
                reason="the portal reports on it: the unanswered send arrived",
            )
            state = S.SUBMITTED
        if not can_move(state, update.state):
            event = note(
                session,
                row,
                actor=actor,
                now=now,
                raw_status=update.raw_status,
                details=details,
                dedupe_key=key,
                reason=f"portal status {update.raw_status!r} ignored in state {state}: {reason}",
            )
            outcome = Applied.NOTED
        else:
            event = move(
                session,
                row,
                update.state,
                actor=actor,
                now=now,
                reason=reason,
                category=update.category,
                raw_status=update.raw_status,
                details=details,
                dedupe_key=key,
            )
            outcome = Applied.MOVED
    if event is None:
        return Applied.DUPLICATE
    row.portal_updated_at = update.occurred_at
    session.add(row)
    return outcome


def _reason(update: PortalStatusUpdate) -> str:
    words = f"portal status {update.raw_status!r}"
    if update.reason:
        words += f": {update.reason}"
    if update.paid_amount is not None:
        words += (
            f" (paid {update.paid_amount}"
            + (f" on {update.payment_date}" if update.payment_date else "")
            + ")"
        )
    return words
