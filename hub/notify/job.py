"""`notify(hub)`, the daemon's notification job: collect what happened into the `notifications`
table (each event once per recipient), then send each due recipient its digest. One daemon at a time
(the `notify` lease). Configuration: `notifications:` in the hub config (hub/notify/config.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import col, select

from hub.errors import ConfigError
from hub.notify.channels import DeliveryError, post_webhook, send_email
from hub.notify.config import Collector, NotificationsConfig, WebhookTarget
from hub.notify.digest import claim, compose_json, compose_text, due_recipients
from hub.notify.health import incidents
from hub.notify.outbox import collect_events, collect_incidents, collect_unplaced, unplaced_key
from hub.runtime import Hub
from hub.secrets import REDACTOR
from hub.store import work
from hub.store.tables import NotificationRow
from hub.unplaced import open_statuses

log = logging.getLogger(__name__)
NOTIFY_LEASE = "notify"


@dataclass
class NotifyReport:
    queued: int = 0
    digests: dict[str, int] = field(default_factory=dict)  # recipient -> items delivered
    failures: dict[str, str] = field(default_factory=dict)  # recipient -> why (secrets masked)
    skipped: str | None = None


def notify(hub: Hub) -> NotifyReport:
    """Collect new problems and send the digests that are due. Safe to run from several daemons."""
    report = NotifyReport()
    config = hub.config.notifications
    if config is None or not config.enabled:
        report.skipped = "notifications are not configured"
        return report
    now = hub.clock.now()
    with hub.store.session() as session:
        if not work.acquire_lease(session, NOTIFY_LEASE, hub.worker_id, now, hub.config.daemon.lease_seconds):
            report.skipped = "another daemon is notifying"
            return report
    try:
        with hub.store.session() as session:
            current = incidents(
                session, list(hub.profiles.values()), now, timedelta(minutes=config.portal_down_minutes)
            )
            unplaced = open_statuses(session)
            customers_of = {p.id: tuple(p.match.customer_id) for p in hub.profiles.values()}
            report.queued = (
                collect_events(session, config, now)
                + collect_incidents(session, config, current, now)
                + collect_unplaced(session, config, unplaced, customers_of, now)
            )
            due = due_recipients(session, config, now)
        # Incidents still going on and statuses not yet resolved: their queued items still matter.
        live = {incident.key for incident in current} | {unplaced_key(row) for row in unplaced}
        for key in due:
            _send_digest(hub, config, key, live, report)
    finally:
        with hub.store.session() as session:
            work.release_lease(session, NOTIFY_LEASE, hub.worker_id)
    return report


def _send_digest(
    hub: Hub, config: NotificationsConfig, key: str, live: set[str], report: NotifyReport
) -> None:
    now = hub.clock.now()
    recipient = config.recipient(key)
    with hub.store.session() as session:
        if recipient is None:
            # Taken out of the configuration: nobody is there to tell any more.
            for row in session.exec(
                select(NotificationRow).where(
                    col(NotificationRow.recipient) == key,
                    col(NotificationRow.status).in_(("pending", "sending")),
                )
            ):
                row.status = "unrouted"
                session.add(row)
            return
        rows = claim(session, key, live, now)
        ids = [row.id for row in rows]
        items = [json.loads(row.payload) for row in rows]
        digest_id = rows[0].digest_id if rows else None
    if not rows or digest_id is None:
        return
    try:
        _deliver(hub, config, recipient, digest_id, items)
    except (DeliveryError, ConfigError) as exc:
        why = REDACTOR(str(exc))
        report.failures[recipient.name] = why
        log.warning("digest %s for %s not delivered: %s", digest_id, recipient.name, why)
        with hub.store.session() as session:
            for row in session.exec(select(NotificationRow).where(col(NotificationRow.id).in_(ids))):
                row.attempts += 1
                row.last_error = why
                row.next_attempt_at = now + timedelta(seconds=config.retry_seconds)
                session.add(row)
        return
    with hub.store.session() as session:
        for row in session.exec(select(NotificationRow).where(col(NotificationRow.id).in_(ids))):
            row.status = "sent"
            row.sent_at = now
            row.attempts += 1
            row.last_error = None
            row.next_attempt_at = None
            session.add(row)
    report.digests[recipient.name] = len(items)
    log.info("digest %s sent to %s: %d item(s)", digest_id, recipient.name, len(items))


def _deliver(
    hub: Hub,
    config: NotificationsConfig,
    recipient: Collector | WebhookTarget,
    digest_id: str,
    items: list[dict[str, object]],
) -> None:
    now = hub.clock.now()
    if isinstance(recipient, Collector):
        smtp = config.smtp
        assert smtp is not None  # the config refuses collectors without smtp
        password = hub.secrets.resolve(smtp.password) if smtp.password else None
        subject, text = compose_text(recipient, items, now)
        send_email(smtp, password, recipient.email, subject, text, digest_id, now.timestamp())
    else:
        secret = hub.secrets.resolve(recipient.secret)
        body = compose_json(recipient, digest_id, items, now)
        post_webhook(hub.http, recipient, secret, digest_id, body, now.timestamp())
