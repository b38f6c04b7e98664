"""Digests: everything pending for one recipient, in one message, grouped by customer and reason.

A recipient gets at most one digest per `digest_minutes`. Before a digest is composed, items that no
longer matter are dropped: an invoice that left the state it was reported for (fixed, resubmitted)
is `resolved`, an older item of an invoice that has a newer one is `superseded`, an incident that is
over is `resolved`. The remaining rows are claimed under a new digest id and committed *before*
sending; after sending they are marked `sent`. A crash in between leaves them `sending`: the next run
sends the same digest again under the same id (receivers and mail systems can drop the repeat).
"""

from __future__ import annotations

import json
import secrets as token_generator
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, func, select

from hub.money import money_text
from hub.notify.config import Collector, NotificationsConfig, WebhookTarget
from hub.store.tables import InvoiceRow, NotificationRow
from hub.worklist import CATEGORY_LABELS, said

OPEN = ("pending", "sending")
KIND_WORDS = {
    "profile_auth": "refuses the hub's credentials",
    "profile_down": "is not working",
    # Marked by the hub (hub/profile_health.py): held until a person acts, or failing.
    "profile_rules": "is held: its rules file does not load",
    "profile_recipe": "is held: the portal's pages no longer match its recipe",
    "profile_contested": "is held: it claims a customer another profile has",
    "profile_config": "cannot work: its configuration (a secret?) is wrong",
}


def new_digest_id(now: datetime) -> str:
    return f"dg-{now:%Y%m%d%H%M%S}-{token_generator.token_hex(6)}"


def due_recipients(session: Session, config: NotificationsConfig, now: datetime) -> list[str]:
    """Recipients with something to send now: a digest left `sending` (retry due), or pending items
    and no digest within the last `digest_minutes`."""
    keys = session.exec(
        select(NotificationRow.recipient)
        .where(col(NotificationRow.status).in_(OPEN))
        .where(
            (col(NotificationRow.next_attempt_at).is_(None)) | (col(NotificationRow.next_attempt_at) <= now)
        )
        .distinct()
    ).all()
    due = []
    for key in sorted(keys):
        retry_at = session.exec(
            select(func.max(NotificationRow.next_attempt_at)).where(
                col(NotificationRow.recipient) == key, col(NotificationRow.status) == "sending"
            )
        ).one()
        claimed = session.exec(
            select(NotificationRow.id).where(
                col(NotificationRow.recipient) == key, col(NotificationRow.status) == "sending"
            )
        ).first()
        if claimed is not None:
            # A digest already claimed goes out again (same id) once its retry is due; new items wait.
            if retry_at is None or retry_at <= now:
                due.append(key)
            continue
        last = session.exec(
            select(func.max(NotificationRow.sent_at)).where(col(NotificationRow.recipient) == key)
        ).one()
        if last is None or (now - last).total_seconds() >= config.digest_minutes * 60:
            due.append(key)
    return due


def claim(session: Session, key: str, live_incidents: set[str], now: datetime) -> list[NotificationRow]:
    """The rows of the recipient's next digest, claimed under one digest id (or the digest already
    claimed and not yet delivered). Items that no longer matter are set aside first."""
    sending = session.exec(
        select(NotificationRow)
        .where(col(NotificationRow.recipient) == key, col(NotificationRow.status) == "sending")
        .order_by(col(NotificationRow.id))
    ).all()
    if sending:
        return list(sending)
    pending = session.exec(
        select(NotificationRow)
        .where(col(NotificationRow.recipient) == key, col(NotificationRow.status) == "pending")
        .order_by(col(NotificationRow.id))
    ).all()
    states = {
        row.id: row.state
        for row in session.exec(
            select(InvoiceRow).where(col(InvoiceRow.id).in_({p.invoice_id for p in pending if p.invoice_id}))
        )
    }
    newest: dict[int, NotificationRow] = {}
    for row in pending:
        if row.invoice_id is not None:
            newest[row.invoice_id] = row  # ordered by id: the last one wins
    keep: list[NotificationRow] = []
    for row in pending:
        if row.invoice_id is not None:
            item = json.loads(row.payload)
            if newest[row.invoice_id] is not row:
                row.status = "superseded"
            elif states.get(row.invoice_id) != item["state"]:
                row.status = "resolved"
        elif row.event_key not in live_incidents:
            row.status = "resolved"
        if row.status == "pending":
            keep.append(row)
        session.add(row)
    if keep:
        digest_id = new_digest_id(now)
        for row in keep:
            row.status = "sending"
            row.digest_id = digest_id
            session.add(row)
    return keep


def compose_text(
    recipient: Collector | WebhookTarget, items: Sequence[dict[str, Any]], now: datetime
) -> tuple[str, str]:
    """(subject, body) of an e-mail digest: portals not working first, then each customer's problems
    by category, with the portal's words and the fix."""
    incidents = [i for i in items if i["kind"].startswith("profile_")]
    unplaced = [i for i in items if i["kind"] == "unplaced"]
    invoices = [i for i in items if not i["kind"].startswith("profile_") and i["kind"] != "unplaced"]
    customers = sorted({i["customer_id"] for i in invoices})
    parts = []
    if invoices:
        parts.append(f"{len(invoices)} invoice problem(s) for {len(customers)} customer(s)")
    if incidents:
        parts.append(f"{len(incidents)} portal profile(s) not working")
    if unplaced:
        parts.append(f"{len(unplaced)} portal status(es) not placed")
    subject = "portalhub: " + ", ".join(parts)
    lines = [
        f"Hello {recipient.name},",
        "",
        f"What needs you, as of {now:%Y-%m-%d %H:%M} UTC (portalhub digest).",
    ]
    if incidents:
        lines += ["", "PORTALS NOT WORKING (AR operations)"]
        for item in incidents:
            since = datetime.fromisoformat(item["since"])
            lines.append(
                f"  {item['profile_id']} {KIND_WORDS.get(item['kind'], item['kind'])} since "
                f"{since:%Y-%m-%d %H:%M} UTC: {item['detail']}"
            )
            lines.append(f"    customers waiting: {', '.join(item['customers'])}")
    if unplaced:
        lines += ["", "PORTAL STATUSES NOT PLACED (the portal said something the hub could not apply)"]
        for item in unplaced:
            received = datetime.fromisoformat(item["received_at"])
            named = f"invoice {item['invoice_number']}" if item.get("invoice_number") else "no invoice number"
            lines.append(
                f"  #{item['unplaced_id']} from {item.get('profile_id') or '(unknown profile)'} at "
                f"{received:%Y-%m-%d %H:%M} UTC: {named}, {item['problem_words']}"
            )
            if item.get("status_type"):
                lines.append(f"    status: {item['status_type']}")
            if item.get("comments"):
                lines.append(f"    portal said: {' / '.join(item['comments'].splitlines())}")
            lines.append(f"    why: {item['explanation']}")
            lines.append(f"    what to do: {item['hint']}")
    for customer in customers:
        mine = [i for i in invoices if i["customer_id"] == customer]
        lines += ["", f"CUSTOMER {customer}: {len(mine)} invoice(s), {_totals(mine)}"]
        for category in sorted({i["category"] for i in mine}, key=_category_order):
            group = [i for i in mine if i["category"] == category]
            lines.append(f"  {CATEGORY_LABELS.get(category, category)} ({len(group)}, {_totals(group)})")
            for item in group:
                number = item["invoice_number"]
                if item.get("portal_invoice_number") and item["portal_invoice_number"] != number:
                    number += f" (sent as {item['portal_invoice_number']})"
                lines.append(
                    f"    {number} {item['state']} {money_text(item['amount'], item['currency'])} "
                    f"via {item.get('profile_id') or '(no profile)'}"
                )
                if item.get("portal_words"):
                    lines.append(f"      portal said: {said(item.get('portal_code'), item['portal_words'])}")
                for rule in item.get("rules") or []:
                    lines.append(f"      rule {rule['rule_id']}: {rule['message']}")
                if not item.get("portal_words") and not item.get("rules") and item.get("reason"):
                    lines.append(f"      why: {item['reason']}")
                lines.append(f"      fix: {item['hint']}")
    lines += [
        "",
        "The full worklist: portalhub rejections"
        + (f" --customer {customers[0]}" if len(customers) == 1 else ""),
        "Once fixed in AR: portalhub resubmit <invoice>",
    ]
    return subject, "\n".join(lines) + "\n"


def compose_json(
    recipient: Collector | WebhookTarget, digest_id: str, items: Sequence[dict[str, Any]], now: datetime
) -> bytes:
    """The webhook body: the digest id, when, for whom, and every item as the store queued it."""
    return json.dumps(
        {
            "digest_id": digest_id,
            "generated_at": now.isoformat(),
            "recipient": recipient.name,
            "items": list(items),
        },
        sort_keys=True,
        default=str,
    ).encode()


def _totals(items: Sequence[dict[str, Any]]) -> str:
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item["currency"]] = totals.get(item["currency"], Decimal(0)) + Decimal(item["amount"])
    return ", ".join(money_text(amount, currency) for currency, amount in sorted(totals.items()))


def _category_order(category: str) -> int:
    order = list(CATEGORY_LABELS)
    return order.index(category) if category in order else len(order)
