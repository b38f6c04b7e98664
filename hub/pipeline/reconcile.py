"""Reconciliation: an invoice whose send has no known outcome is settled by asking the portal, never
by sending it again blind.

- `expire_leases`: a SUBMITTING invoice whose worker's lease expired (crash, kill -9, lost machine)
  becomes IN_DOUBT: the request may or may not have left.
- `reconcile_profile`: for each IN_DOUBT invoice that is due, `lookup` by the number the portal got,
  and compare what the portal holds with what was sent (mappings/portal_match.py):
  our document (same payloadID, or the same content) -> SUBMITTED (with the portal's id);
  another document under our number -> REJECTED as a number conflict for a person (never SUBMITTED,
  never resent); nothing to compare -> SUBMITTED, presumed and flagged for a person to confirm;
  not found -> READY (sent again with a new payloadID); the portal unreachable -> stays IN_DOUBT.
- Where the portal cannot be asked (a Coupa profile without `connection.api`) and it refuses a number
  it already holds, the invoice is resent under the **same** number (never a new one): the portal's
  duplicate check is the idempotency key. Its answer settles the first send (hub/pipeline/submit.py):
  accepted -> the first did not arrive; "number already used" -> presumed received, flagged; a
  content refusal -> REJECTED. After `daemon.in_doubt_resends` unanswered resends it waits for a
  person (worklist).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from connectors.base import Connector
from hub.errors import ConfigError, PortalError
from hub.lifecycle import move, note
from hub.model import Invoice, InvoiceState
from hub.pipeline.attempts import UNANSWERED, abandon_pending, attempts_of
from hub.pipeline.evidence import settle_found
from hub.runtime import Hub
from hub.store import work
from hub.store.tables import InvoiceRow
from mappings.portal_match import match_record
from rules.schema import Profile

log = logging.getLogger(__name__)
S = InvoiceState


def expire_leases(hub: Hub) -> int:
    """SUBMITTING invoices whose worker is presumed dead become IN_DOUBT. Returns how many."""
    now = hub.clock.now()
    moved = 0
    with hub.store.session() as session:
        for row in work.expired_leases(session, S.SUBMITTING, now):
            owner = row.lease_owner
            pending = abandon_pending(session, row.id, now)
            work.release(row)
            row.next_attempt_at = now
            move(
                session,
                row,
                S.IN_DOUBT,
                actor=hub.actor,
                now=now,
                reason=f"worker {owner} stopped while sending (lease expired): the portal may have it; "
                "asking the portal before any resend",
                attempt_id=pending[-1].id if pending else None,
            )
            moved += 1
    return moved


def reconcile_profile(hub: Hub, profile: Profile, connector: Connector, limit: int = 50) -> int:
    """Settle due IN_DOUBT invoices of one profile. Returns how many were settled."""
    settled = 0
    can_lookup = connector.can_lookup(profile)
    for _ in range(limit):
        now = hub.clock.now()
        with hub.store.session() as session:
            row = work.claim_due(
                session,
                profile.id,
                S.IN_DOUBT,
                hub.worker_id,
                now,
                hub.config.daemon.lease_seconds,
                hub.store.dialect,
            )
            if row is None:
                return settled
            number = row.portal_invoice_number or row.invoice_number
            invoice_id = row.id
        if not can_lookup:
            with hub.store.session() as session:
                row = session.get(InvoiceRow, invoice_id)
                assert row is not None
                work.release(row)
                settled += _without_lookup(hub, session, profile, connector, row, number, now)
            continue
        try:
            record = connector.lookup(profile, number)
        except (PortalError, ConfigError) as exc:
            with hub.store.session() as session:
                row = session.get(InvoiceRow, invoice_id)
                assert row is not None
                work.release(row)
                row.next_attempt_at = now + timedelta(
                    seconds=max(hub.config.daemon.backoff_initial_seconds, 30)
                )
                session.add(row)
            log.warning("could not reconcile %s with %s: %s", number, profile.id, exc)
            return settled
        with hub.store.session() as session:
            row = session.get(InvoiceRow, invoice_id)
            assert row is not None
            if not work.holds_lease(row, hub.worker_id, hub.clock.now()):
                continue
            work.release(row)
            attempts = attempts_of(session, row.id)
            latest = attempts[-1] if attempts else None
            if record is not None and record.state is S.CANCELLED and row.purpose != "cancel":
                # A voided invoice under this number is an earlier one, not the send we are unsure of.
                record = None
            if record is not None:
                match = match_record(
                    record, Invoice.model_validate_json(row.document), {a.payload_id for a in attempts}
                )
                settle_found(hub, session, profile, row, latest, number, record, match, now)
            else:
                if latest is not None:
                    latest.outcome = "absent"
                    session.add(latest)
                row.next_attempt_at = None
                move(
                    session,
                    row,
                    S.READY,
                    actor=hub.actor,
                    now=now,
                    reason=f"{profile.id} does not have {number}: the unanswered send did not arrive; sending again",
                    attempt_id=latest.id if latest else None,
                )
            settled += 1
    return settled


def _without_lookup(
    hub: Hub,
    session: Session,
    profile: Profile,
    connector: Connector,
    row: InvoiceRow,
    number: str,
    now: datetime,
) -> int:
    """The portal cannot be asked: resend under the same number where the portal refuses a number it
    holds; otherwise (or after too many unanswered resends) wait for a person. Returns 1 if moved."""
    daemon = hub.config.daemon
    attempts = attempts_of(session, row.id)
    unanswered = sum(1 for a in attempts if a.outcome in UNANSWERED and a.portal_invoice_number == number)
    latest = attempts[-1] if attempts else None
    if connector.refuses_reused_number and unanswered <= daemon.in_doubt_resends:
        # The first resend goes at once (most lost answers are one-off); later ones back off, as
        # Coupa asks for 5xx answers, so a portal in trouble is not hammered.
        wait = min(daemon.backoff_initial_seconds * 2 ** (unanswered - 1), daemon.backoff_max_seconds)
        row.next_attempt_at = None if unanswered <= 1 else now + timedelta(seconds=wait)
        move(
            session,
            row,
            S.READY,
            actor=hub.actor,
            now=now,
            reason=f"{profile.id} cannot be asked whether it has {number} (no status API): resending under "
            f"the same number {number}, which the portal refuses if the first send arrived "
            f"(resend {unanswered} of at most {daemon.in_doubt_resends})",
            details={"recovery": "same-number resend", "unanswered_sends": unanswered},
            attempt_id=latest.id if latest else None,
        )
        return 1
    row.next_attempt_at = now + timedelta(days=365)
    if connector.refuses_reused_number:
        why = (
            f"{unanswered} sends of {number} to {profile.id} went unanswered and the portal cannot be asked "
            "(no status API)"
        )
    else:
        why = f"{connector.name} cannot look invoices up for {profile.id}"
    note(
        session,
        row,
        actor=hub.actor,
        now=now,
        reason=f"{why}: check the portal for {number}, then resolve it by hand (`portalhub show` has "
        "the attempts and the portal's last answer)",
        dedupe_key=f"no-lookup:{row.id}:{unanswered}",
    )
    return 0
