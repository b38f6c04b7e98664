"""The feedback outbox: every event reaches the AR system once.

Events are queued in the same transaction as the state change (hub.lifecycle.move). Delivery is in
order, in batches; a batch is marked delivered only after the sink accepted it, and the sink ignores
an event id it has seen, so a crash between the two costs a harmless repeat, never a gap.

A step like the pipeline's: it takes the hub (status_sync/sync_hub.py), whose AR sink receives the events.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import col, or_, select

from hub.ar import ArSink
from hub.store import work
from hub.store.database import Store
from hub.store.tables import OutboxRow
from status_sync.sync_hub import SyncHub

log = logging.getLogger(__name__)
RETRY = timedelta(minutes=1)
LEASE = "feedback"


@dataclass
class FeedbackReport:
    delivered: int = 0
    failed: int = 0
    error: str | None = None


def deliver(hub: SyncHub, batch: int = 200, rounds: int = 50) -> FeedbackReport:
    """Deliver due events to the hub's AR sink, in order. One daemon at a time (the `feedback` lease,
    held at most `daemon.lease_seconds` by a holder that died), so events reach the AR system in order
    and are not written by two daemons at once."""
    store, sink, worker, now = hub.store, hub.ar_sink, hub.worker_id, hub.clock.now()
    report = FeedbackReport()
    with store.session() as session:
        if not work.acquire_lease(session, LEASE, worker, now, hub.config.daemon.lease_seconds):
            report.error = "another daemon is delivering"
            return report
    try:
        _deliver(store, sink, now, batch, rounds, report)
    finally:
        with store.session() as session:
            work.release_lease(session, LEASE, worker)
    return report


_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
#: Built once with bound parameters (once per batch, every feedback tick): the due events' ids and
#: payloads in order, not ORM objects; and one UPDATE marking a delivered batch.
_DUE = (
    select(col(OutboxRow.id), col(OutboxRow.payload))
    .where(col(OutboxRow.delivered_at).is_(None))
    .where(or_(col(OutboxRow.next_attempt_at).is_(None), col(OutboxRow.next_attempt_at) <= bindparam("now")))
    .order_by(col(OutboxRow.id))
    .limit(bindparam("batch"))
)
_DELIVERED = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(delivered_at=bindparam("now"), attempts=_OUTBOX.c.attempts + 1)
)


def _deliver(
    store: Store, sink: ArSink, now: datetime, batch: int, rounds: int, report: FeedbackReport
) -> None:
    for _ in range(rounds):
        with store.session() as session:
            rows = session.exec(_DUE, params={"now": now, "batch": batch}).all()
            if not rows:
                return
            payloads: list[dict[str, Any]] = [json.loads(payload) for _, payload in rows]
            ids = [row_id for row_id, _ in rows]
        try:
            sink.write(payloads)
        except Exception as exc:  # the AR system is down or refuses: keep everything, try later
            log.warning("AR feedback failed (%d events kept for later): %s", len(ids), exc)
            with store.session() as session:
                for row in session.exec(select(OutboxRow).where(col(OutboxRow.id).in_(ids))):
                    row.attempts += 1
                    row.last_error = str(exc)[:2000]
                    row.next_attempt_at = now + RETRY * min(row.attempts, 30)
                    session.add(row)
            report.failed += len(ids)
            report.error = str(exc)
            return
        with store.session() as session:
            session.connection().execute(_DELIVERED, {"now": now, "ids": ids})
        report.delivered += len(ids)
