"""Reconciliation: an invoice whose send has no known outcome is settled by asking the portal, never
by sending it again blind.

- `expire_leases`: a SUBMITTING invoice whose worker's lease expired (crash, kill -9, lost machine)
  becomes IN_DOUBT: the request may or may not have left.
- `reconcile_profile`: for each IN_DOUBT invoice that is due, `lookup` by the number the portal got:
  found -> SUBMITTED (with the portal's id); not found -> READY (sent again with a new payloadID);
  the portal unreachable -> stays IN_DOUBT and is asked again later.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import col, select

from connectors.base import Connector
from hub.errors import ConfigError, PortalError
from hub.lifecycle import move, note
from hub.model import InvoiceState
from hub.runtime import Hub
from hub.store import work
from hub.store.tables import AttemptRow, InvoiceRow
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
            pending = session.exec(
                select(AttemptRow).where(
                    col(AttemptRow.invoice_id) == row.id, col(AttemptRow.outcome) == "pending"
                )
            ).all()
            for attempt in pending:
                attempt.outcome = "abandoned"
                attempt.finished_at = now
                session.add(attempt)
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
    """Settle due IN_DOUBT invoices of one profile with `lookup`. Returns how many were settled."""
    settled = 0
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
        if not connector.supports_lookup:
            with hub.store.session() as session:
                row = session.get(InvoiceRow, invoice_id)
                assert row is not None
                work.release(row)
                row.next_attempt_at = now + timedelta(days=365)
                note(
                    session,
                    row,
                    actor=hub.actor,
                    now=now,
                    reason=f"{connector.name} cannot look invoices up: check the portal for {number}, then "
                    "resolve it by hand (`portalhub show` has the attempt)",
                    dedupe_key=f"no-lookup:{row.id}",
                )
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
            latest = session.exec(
                select(AttemptRow)
                .where(col(AttemptRow.invoice_id) == row.id)
                .order_by(col(AttemptRow.id).desc())
            ).first()
            if record is not None and record.state is S.CANCELLED and row.purpose != "cancel":
                # A voided invoice under this number is an earlier one, not the send we are unsure of.
                record = None
            if record is not None:
                if latest is not None:
                    latest.outcome = "found"
                    session.add(latest)
                row.portal_invoice_id = record.portal_invoice_id or row.portal_invoice_id
                row.transient_failures = 0
                row.next_attempt_at = None
                move(
                    session,
                    row,
                    S.SUBMITTED,
                    actor=hub.actor,
                    now=now,
                    reason=f"{profile.id} has {number} (portal id {record.portal_invoice_id}, status "
                    f"{record.raw_status}): the unanswered send went through, nothing resent",
                    attempt_id=latest.id if latest else None,
                )
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
