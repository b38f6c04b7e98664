"""Filling the notifications outbox: what happened that someone must be told, one row per recipient.

Invoice events are read from the append-only event log past a watermark (the newest event already
considered, kept in the outbox itself); each event into BLOCKED, REJECTED or DISPUTED becomes a row for
every recipient who follows that customer (or one `unrouted` row when nobody does, so the watermark
moves on). Profile incidents (refused logins, a portal down) are keyed by profile, kind and start, so
one outage is one row per recipient however often it is looked at. A status a portal pushed that the
hub could not place (status_sync/unplaced.py) is told once per kept status, to whoever follows the
customers of the profile that received it, until someone resolves it. The unique (event, recipient)
constraint makes collecting idempotent: two daemons, or a crash and a rerun, never queue twice.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from hub.model import InvoiceState
from hub.money import amount_text
from hub.notify.config import NotificationsConfig, Topic, channel, recipient_key
from hub.notify.health import Incident
from hub.store.tables import AttemptRow, EventRow, InvoiceRow, NotificationRow, UnplacedStatusRow
from hub.unplaced import HINT, PROBLEMS
from hub.worklist import CATEGORY_LABELS, DEFAULT_HINT, PORTAL_HINTS, event_words

S = InvoiceState
TOPICS = {S.BLOCKED.value: Topic.BLOCKED, S.REJECTED.value: Topic.REJECTED, S.DISPUTED.value: Topic.DISPUTED}
#: Event ids are handed out before their transactions commit; on PostgreSQL a lower id can become
#: visible after a higher one. Re-reading this many ids below the watermark catches those late commits
#: (the unique constraint makes the re-read harmless).
OVERLAP_IDS = 500
#: The first time notifications run on a store, only events this recent are told (not all history).
FIRST_LOOKBACK = timedelta(days=1)


def collect_events(session: Session, config: NotificationsConfig, now: datetime) -> int:
    """Queue every new invoice problem for its recipients; returns how many rows were added."""
    watermark = session.exec(select(func.max(NotificationRow.event_id))).one()
    query = select(EventRow).where(col(EventRow.to_state).in_(list(TOPICS)))
    if watermark is None:
        query = query.where(col(EventRow.at) >= now - FIRST_LOOKBACK)
    else:
        query = query.where(col(EventRow.id) > watermark - OVERLAP_IDS)
    events = [e for e in session.exec(query.order_by(col(EventRow.id))) if e.from_state != e.to_state]
    if not events:
        return 0
    known = set(
        session.exec(
            select(NotificationRow.event_key).where(col(NotificationRow.event_id).in_([e.id for e in events]))
        )
    )
    invoices = {
        row.id: row
        for row in session.exec(
            select(InvoiceRow).where(col(InvoiceRow.id).in_({e.invoice_id for e in events}))
        )
    }
    attempt_ids = {e.attempt_id for e in events if e.attempt_id}
    attempts = {a.id: a for a in session.exec(select(AttemptRow).where(col(AttemptRow.id).in_(attempt_ids)))}
    added = 0
    for event in events:
        key = f"evt-{event.id}"
        if key in known:
            continue
        invoice = invoices[event.invoice_id]
        topic = TOPICS[event.to_state]
        item = invoice_item(event, invoice, attempts.get(event.attempt_id))
        added += _queue(session, config, key, topic, [invoice.customer_id], item, now, event, invoice)
    return added


def collect_incidents(
    session: Session, config: NotificationsConfig, incidents: list[Incident], now: datetime
) -> int:
    """Queue each profile incident once per recipient; returns how many rows were added."""
    added = 0
    for incident in incidents:
        exists = session.exec(
            select(NotificationRow.id).where(col(NotificationRow.event_key) == incident.key).limit(1)
        ).first()
        if exists is not None:
            continue
        item = {
            "kind": incident.kind,
            "event_key": incident.key,
            "profile_id": incident.profile_id,
            "since": incident.since.isoformat(),
            "detail": incident.detail,
            "customers": list(incident.customers),
        }
        added += _queue(
            session, config, incident.key, Topic.PROFILE, list(incident.customers), item, now, None, None
        )
    return added


def unplaced_key(row: UnplacedStatusRow) -> str:
    return f"unplaced-{row.id}"


def collect_unplaced(
    session: Session,
    config: NotificationsConfig,
    rows: list[UnplacedStatusRow],
    customers_of: dict[str, tuple[str, ...]],
    now: datetime,
) -> int:
    """Queue each open unplaced status once per recipient; returns how many rows were added. Routed by
    the customers of the profile that received it (or of the invoice it names, when the hub found one)."""
    if not rows:
        return 0
    known = set(
        session.exec(
            select(NotificationRow.event_key).where(
                col(NotificationRow.event_key).in_([unplaced_key(row) for row in rows])
            )
        ).all()
    )
    named = {row.invoice_id for row in rows if row.invoice_id is not None}
    invoice_customer = (
        dict(
            session.exec(
                select(InvoiceRow.id, InvoiceRow.customer_id).where(col(InvoiceRow.id).in_(named))
            ).all()
        )
        if named
        else {}
    )
    added = 0
    for row in rows:
        key = unplaced_key(row)
        if key in known:
            continue
        if row.invoice_id in invoice_customer:
            customers = [invoice_customer[row.invoice_id]]
        else:
            customers = list(customers_of.get(row.profile_id or "", ()))
        item = {
            "kind": "unplaced",
            "event_key": key,
            "unplaced_id": row.id,
            "profile_id": row.profile_id,
            "customers": customers,
            "received_at": row.received_at.isoformat(),
            "problem": row.problem,
            "problem_words": PROBLEMS.get(row.problem, row.problem),
            "explanation": row.explanation,
            "hint": HINT.format(id=row.id),
            "invoice_number": row.invoice_number,
            "status_type": row.status_type,
            "comments": row.comments,
        }
        added += _queue(session, config, key, Topic.UNPLACED, customers, item, now, None, None)
    return added


def _queue(
    session: Session,
    config: NotificationsConfig,
    key: str,
    topic: Topic,
    customers: list[str],
    item: dict[str, Any],
    now: datetime,
    event: EventRow | None,
    invoice: InvoiceRow | None,
) -> int:
    routed = [r for r in config.recipients if r.wants(topic, customers)]
    common: dict[str, Any] = {
        "event_key": key,
        "event_id": event.id if event else None,
        "kind": item["kind"],
        "invoice_id": invoice.id if invoice else None,
        "customer_id": invoice.customer_id if invoice else None,
        "profile_id": item.get("profile_id"),
        "payload": json.dumps(item, sort_keys=True, default=str),
        "created_at": now,
    }
    if not routed:
        # Recorded all the same: the event was considered, and the watermark moves past it.
        session.add(NotificationRow(recipient="", channel="none", status="unrouted", **common))
        return 0
    for recipient in routed:
        session.add(NotificationRow(recipient=recipient_key(recipient), channel=channel(recipient), **common))
    return len(routed)


def invoice_item(event: EventRow, invoice: InvoiceRow, attempt: AttemptRow | None) -> dict[str, Any]:
    """What a digest says about one invoice event: what, how much, why (the portal's words), the fix."""
    code, words = event_words(event, attempt)
    category = "disputed" if event.to_state == S.DISPUTED.value else (event.category or "other")
    rules: list[dict[str, Any]] = []
    if event.details and '"violations"' in event.details:
        rules = [
            {"rule_id": v.get("rule_id"), "message": v.get("message"), "hint": v.get("hint")}
            for v in json.loads(event.details).get("violations", [])
            if v.get("severity") == "error"
        ]
    hints = [r["hint"] for r in rules if r.get("hint")]
    return {
        "kind": TOPICS[event.to_state].value,
        "event_key": f"evt-{event.id}",
        "at": event.at.isoformat(),
        "invoice_number": invoice.invoice_number,
        "portal_invoice_number": invoice.portal_invoice_number,
        "customer_id": invoice.customer_id,
        "profile_id": invoice.profile_id,
        "state": event.to_state,
        "category": category,
        "category_label": CATEGORY_LABELS.get(category, category),
        "amount": amount_text(invoice.total, invoice.currency),
        "currency": invoice.currency,
        "reason": event.reason,
        "portal_code": code,
        "portal_words": words,
        "rules": rules,
        "hint": " ".join(dict.fromkeys(hints)) if hints else PORTAL_HINTS.get(category, DEFAULT_HINT),
    }
