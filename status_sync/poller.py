"""Polling a portal for status changes, from a cursor the store keeps per profile.

One poll at a time per profile across all daemons (`poll:<profile>` lease). The connector asks the
portal only for changes since the cursor; the updates are committed a few at a time (APPLY_BATCH) and
the new cursor after the last of them, so a crash re-reads the same page from the old cursor, and
dedupe keys (a status recorded once) and the stale check (never back to an older status) make that
harmless.

A step like the pipeline's: it takes the hub (status_sync/sync_hub.py) and the profile.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import col, func, select

from hub.errors import ConfigError, PortalError, ProfileUnavailableError
from hub.profile import PortalProfile
from hub.store import work
from hub.store.tables import AttemptRow, CursorRow
from status_sync.apply import apply_update
from status_sync.sync_hub import SyncHub

log = logging.getLogger(__name__)
#: Start the first poll this far before the profile's first send (portals and our clock disagree).
FIRST_POLL_MARGIN = timedelta(days=1)
#: Statuses applied per transaction. On SQLite every transaction of the daemon takes turns on the
#: store: a page of hundreds of statuses in one transaction held every portal's sends behind it
#: (tens of ms added to a send's turnaround at 100 ms latency).
APPLY_BATCH = 10


@dataclass
class PollReport:
    profile_id: str
    requests: int = 0
    applied: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    skipped: str | None = None


def poll_profile(hub: SyncHub, profile: PortalProfile) -> PollReport:
    """Apply the portal's changes since the profile's cursor, and move the cursor on."""
    report = PollReport(profile.id)
    connector = hub.connector(profile)
    if not connector.supports_poll:
        report.skipped = "connector does not poll"
        return report
    store, worker, now = hub.store, hub.worker_id, hub.clock.now()
    lease = f"poll:{profile.id}"
    with store.session() as session:
        if not work.acquire_lease(session, lease, worker, now, hub.config.daemon.lease_seconds):
            report.skipped = "another worker is polling this portal"
            return report
        cursor_row = session.get(CursorRow, profile.id) or CursorRow(profile_id=profile.id)
        cursor = cursor_row.cursor
        if cursor is None:
            first_send = session.exec(
                select(func.min(AttemptRow.started_at)).where(col(AttemptRow.profile_id) == profile.id)
            ).one()
            if first_send is None:
                work.release_lease(session, lease, worker)
                report.skipped = "nothing sent to this portal yet"
                return report
            cursor = (first_send - FIRST_POLL_MARGIN).isoformat()
    try:
        try:
            result = connector.poll(profile, cursor)
        except ProfileUnavailableError:
            raise  # the profile is held (hub/profile_health.py), not one failed poll
        except (PortalError, ConfigError) as exc:
            report.error = str(exc)
            with store.session() as session:
                row = session.get(CursorRow, profile.id) or CursorRow(profile_id=profile.id)
                row.last_error = f"{now.isoformat()}: {exc}"
                session.add(row)
            log.warning("poll of %s failed: %s", profile.id, exc)
            return report
        report.requests = result.requests
        if result.unreadable:
            log.warning("poll of %s skipped unreadable portal records: %s", profile.id, result.unreadable)
        updates = result.updates
        for start in range(0, len(updates), APPLY_BATCH):
            with store.session() as session:
                for update in updates[start : start + APPLY_BATCH]:
                    applied = apply_update(session, profile.id, update, actor=f"portal:{profile.id}", now=now)
                    report.applied[applied.value] += 1
        with store.session() as session:
            row = session.get(CursorRow, profile.id) or CursorRow(profile_id=profile.id)
            row.cursor = result.next_cursor or cursor
            row.polled_at = now
            row.requests = result.requests
            row.last_error = "; ".join(result.unreadable)[:4000] if result.unreadable else None
            session.add(row)
    finally:
        with store.session() as session:
            work.release_lease(session, lease, worker)
    return report
