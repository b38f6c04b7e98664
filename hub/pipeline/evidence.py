"""Evidence for an unanswered send: what the portal holds under our number, and what a "number
already used" answer to a resend proves.

A number match alone proves nothing: the portal may hold an invoice under that number that the hub
never sent. `settle_found` decides on the comparison (mappings/portal_match.py): our document ->
SUBMITTED; another document -> REJECTED as a number conflict, for a person (never SUBMITTED, never
resent); nothing to compare -> SUBMITTED, *presumed* and flagged, for a person to confirm.

`duplicate_of_our_send` reads the portal's "number already used" answer to a resend of our own
unanswered send: compared with a lookup where the portal can be asked; otherwise (a Coupa profile
without `connection.api`) recorded as presumed received, with the portal's words as the evidence,
SUBMITTED and in the worklist until a person confirms it (docs/rules.md, "Unanswered sends").
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, col, select

from connectors.base import Connector, PortalRecord
from hub.errors import PermanentPortalError
from hub.lifecycle import move
from hub.model import Invoice, InvoiceState, RejectionCategory
from hub.runtime import Hub
from hub.store.tables import AttemptRow, InvoiceRow
from mappings.portal_match import Match, Verdict, match_record
from rules.schema import Profile

log = logging.getLogger(__name__)
S = InvoiceState

#: Words that start the reason of an invoice recorded as received on evidence nobody could verify
#: (the worklist lists these for a person to confirm).
PRESUMED = "presumed received"
#: Words that start the reason of a number conflict (another document under our number at the portal).
CONFLICT = "number conflict"


def held_under(profile: Profile, connector: Connector, number: str) -> PortalRecord | BaseException | None:
    """What the portal holds under `number` (an exception when it cannot be asked)."""
    try:
        return connector.lookup(profile, number)
    except Exception as exc:  # the evidence is then unverified, never a crash of the send
        log.warning("could not look up %s at %s after a duplicate answer: %s", number, profile.id, exc)
        return exc


def settle_found(
    hub: Hub,
    session: Session,
    profile: Profile,
    row: InvoiceRow,
    attempt: AttemptRow | None,
    number: str,
    record: PortalRecord,
    match: Match,
    now: datetime,
) -> str:
    """The portal holds an invoice under our number: ours, another one, or nobody can tell. Moves the
    invoice and returns the attempt's outcome (found, conflict, presumed)."""
    held = f"portal id {record.portal_invoice_id}, status {record.raw_status}"
    details = {
        "evidence": {"source": "lookup", "match": match.as_json(), "portal": record.model_dump(mode="json")}
    }
    row.transient_failures = 0
    row.next_attempt_at = None
    if match.verdict is Verdict.OTHER_DOCUMENT:
        outcome = "conflict"
        move(
            session,
            row,
            S.REJECTED,
            actor=hub.actor,
            now=now,
            reason=f"{CONFLICT}: {profile.id} holds another invoice under {number} ({held}) that the hub did "
            f"not send: {'; '.join(match.differences)}. Not marked sent and not resent. If that invoice is "
            "this one (keyed in by hand), mark it so at the portal's side and close it in AR; otherwise "
            "reissue this invoice under a new number.",
            category=RejectionCategory.DUPLICATE,
            details=details,
            attempt_id=attempt.id if attempt else None,
        )
    elif match.ours:
        outcome = "found"
        row.portal_invoice_id = record.portal_invoice_id or row.portal_invoice_id
        move(
            session,
            row,
            S.SUBMITTED,
            actor=hub.actor,
            now=now,
            reason=f"{profile.id} has {number} ({held}) and {match.describe()}: the unanswered send went "
            "through, nothing resent",
            details=details,
            attempt_id=attempt.id if attempt else None,
        )
    else:
        outcome = "found"
        row.portal_invoice_id = record.portal_invoice_id or row.portal_invoice_id
        move(
            session,
            row,
            S.SUBMITTED,
            actor=hub.actor,
            now=now,
            reason=f"{PRESUMED}: {profile.id} has {number} ({held}) but shows nothing to compare it with "
            "what was sent; a person should confirm it is ours (`portalhub show`)",
            category=RejectionCategory.DUPLICATE,
            details={**details, "unverified": True},
            attempt_id=attempt.id if attempt else None,
        )
    if attempt is not None:
        attempt.outcome = outcome
        session.add(attempt)
    return outcome


def duplicate_of_our_send(
    hub: Hub,
    session: Session,
    profile: Profile,
    row: InvoiceRow,
    attempt: AttemptRow,
    result: PermanentPortalError,
    held: PortalRecord | BaseException | None,
    asked: bool,
    now: datetime,
) -> str:
    """The portal refused a resend of our own unanswered send as "number already used". That proves
    the first send arrived only if what the portal holds under the number is what we sent: compared
    where the portal can be asked; otherwise recorded as presumed received, flagged for a person."""
    name = profile.id
    number = row.portal_invoice_number or row.invoice_number
    if isinstance(held, PortalRecord) and not (held.state is S.CANCELLED and row.purpose != "cancel"):
        attempts = session.exec(select(AttemptRow).where(col(AttemptRow.invoice_id) == row.id)).all()
        match = match_record(
            held, Invoice.model_validate_json(row.document), {a.payload_id for a in attempts}
        )
        if match.verdict is not Verdict.UNVERIFIABLE:
            return settle_found(hub, session, profile, row, attempt, number, held, match, now)
    if isinstance(held, BaseException):
        unseen = f"the portal could not be asked what it holds ({held})"
    elif isinstance(held, PortalRecord):
        unseen = "the portal shows nothing of the invoice to compare with what was sent"
    elif asked:
        unseen = "the portal's lookup does not show the invoice yet"
    else:
        unseen = f"{name} has no status API to show what it holds"
    attempt.outcome = "found"
    session.add(attempt)
    move(
        session,
        row,
        S.SUBMITTED,
        actor=hub.actor,
        now=now,
        reason=f"{PRESUMED} (duplicate answer to our own unanswered send, content not verifiable): {name} "
        f"already has this invoice number from our earlier unanswered send ({result.portal_text}); "
        f"{unseen}. A person should confirm at the portal that {number} is this invoice.",
        category=RejectionCategory.DUPLICATE,
        details={
            "evidence": {
                "source": "duplicate answer to a same-number resend",
                "portal_code": result.portal_code,
                "portal_text": result.portal_text,
            },
            "unverified": True,
        },
        attempt_id=attempt.id,
    )
    return "found"
