"""What the CLI asks of the hub: plain functions returning plain data (the CLI only renders).

- `status_summary`: invoices per profile and state, and everything that needs a person;
- `timeline`: one invoice, its events and attempts (why is it where it is);
- `rejections`: the collectors' worklist (who must fix what; hub/worklist.py);
- `validate_ref`: pre-flight of a stored invoice or a JSON file, without sending;
- `submit_now`: send one READY invoice now.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, func, select

from hub import profile_health, unplaced
from hub.ar import describe_validation_error
from hub.corrections import correction_links, related_documents
from hub.errors import ConfigError, DocumentError
from hub.model import Invoice, InvoiceState, RejectionCategory
from hub.pipeline.submit import SubmitReport, submit_profile
from hub.preflight import PreflightResult, preflight
from hub.runtime import Hub
from hub.store.tables import AttemptRow, CursorRow, EventRow, InvoiceRow, QuarantineRow
from hub.worklist import WorklistFilter, latest_violations, worklist

S = InvoiceState


class NotFound(ConfigError):
    """The invoice asked for is not in the store."""


def _invoice_row(hub: Hub, number: str) -> InvoiceRow:
    with hub.store.session() as session:
        rows = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == number)).all()
    if not rows:
        raise NotFound(f"no invoice {number!r} in the store (is it posted in the AR system and ingested?)")
    return rows[0]


# --- status --------------------------------------------------------------------------------------------------
@dataclass
class Attention:
    invoice_number: str
    state: str
    profile_id: str | None
    why: str


def status_summary(hub: Hub) -> dict[str, Any]:
    now = hub.clock.now()
    with hub.store.session() as session:
        counts = session.exec(
            select(InvoiceRow.profile_id, InvoiceRow.state, func.count()).group_by(
                InvoiceRow.profile_id, InvoiceRow.state
            )
        ).all()
        troubled = profile_health.troubled(session)
        attention: list[Attention] = []
        for row in session.exec(
            select(InvoiceRow).where(
                col(InvoiceRow.state).in_((S.IN_DOUBT.value, S.SUBMITTING.value, S.READY.value))
            )
        ):
            waiting = row.next_attempt_at is not None and row.next_attempt_at > now
            held = troubled.get(row.profile_id or "")
            if row.state == S.READY.value and held is not None:
                why = f"waits: profile {row.profile_id} {held.describe()}"
                attention.append(Attention(row.invoice_number, row.state, row.profile_id, why))
                continue
            if row.state == S.READY.value and not waiting and not row.last_category:
                continue  # simply waiting for its turn
            if row.state == S.SUBMITTING.value and row.lease_expires_at and row.lease_expires_at > now:
                continue  # being sent right now
            why = row.last_reason or ""
            if row.next_attempt_at:
                why += f" (next try {row.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)"
            attention.append(Attention(row.invoice_number, row.state, row.profile_id, why))
        quarantined = session.exec(
            select(func.count()).select_from(QuarantineRow).where(col(QuarantineRow.resolved_at).is_(None))
        ).one()
        cursors = session.exec(select(CursorRow)).all()
        not_working = portals_not_working(hub, session, now)
    per_profile: dict[str, dict[str, int]] = {}
    for profile_id, state, count in counts:
        per_profile.setdefault(profile_id or "(no profile)", {})[state] = count
    from hub.heartbeat import daemons

    return {
        "profiles": per_profile,
        "daemons": [d.as_json() for d in daemons(hub.store, now)],
        "broken_rules_files": hub.broken_profiles,
        # Profiles that cannot work now (failing, or held until a person acts), with the reason.
        "profile_health": {
            pid: h.as_json() | {"summary": h.describe()} for pid, h in sorted(troubled.items())
        },
        "contested_customers": dict(sorted(hub.contested.items())),
        # Portals that refuse the credentials or have given no usable answer for `portal_down_minutes`
        # (derived from the sends and polls, as the notification digests say it).
        "portals_not_working": {pid: why for pid, why in not_working.items() if pid not in troubled},
        "attention": [asdict(a) for a in attention],
        "quarantined": int(quarantined),
        "polls": [
            {
                "profile_id": c.profile_id,
                "cursor": c.cursor,
                "polled_at": c.polled_at.isoformat() if c.polled_at else None,
                "requests": c.requests,
                "last_error": c.last_error,
            }
            for c in cursors
        ],
    }


def portals_not_working(hub: Hub, session: Session, now: datetime) -> dict[str, str]:
    """profile id -> why it is not working now: held or failing (hub/profile_health.py), credentials
    refused, or the portal down longer than `notifications.portal_down_minutes` (default 30)."""
    from hub.notify.health import incidents

    minutes = hub.config.notifications.portal_down_minutes if hub.config.notifications else 30
    found = incidents(session, list(hub.profiles.values()), now, timedelta(minutes=minutes))
    words = {"profile_auth": "credentials refused", "profile_down": "portal not working"}
    return {
        i.profile_id: f"{words.get(i.kind, i.kind)} since {i.since:%Y-%m-%d %H:%M} UTC: {i.detail}"
        for i in found
    }


def profile_health_of(hub: Hub, profile_id: str | None) -> dict[str, Any] | None:
    """The profile's health when it is not working (None when it works or there is no profile)."""
    if profile_id is None:
        return None
    with hub.store.session() as session:
        health = profile_health.health_of(session, profile_id)
    return None if health.working else health.as_json() | {"summary": health.describe()}


def release_profile(hub: Hub, profile_id: str, actor: str) -> profile_health.Health | None:
    """`portalhub profile release ID`: end a hold or a failure now; the health it had (None if it was
    working). A held profile whose cause is still there is held again at its next attempt."""
    with hub.store.session() as session:
        return profile_health.release(session, profile_id, actor, hub.clock.now())


# --- show ----------------------------------------------------------------------------------------------------
def timeline(hub: Hub, number: str) -> dict[str, Any]:
    row = _invoice_row(hub, number)
    with hub.store.session() as session:
        events = session.exec(
            select(EventRow).where(col(EventRow.invoice_id) == row.id).order_by(col(EventRow.id))
        ).all()
        attempts = session.exec(
            select(AttemptRow).where(col(AttemptRow.invoice_id) == row.id).order_by(col(AttemptRow.id))
        ).all()
        corrections = correction_links(events, attempts)
        related = related_documents(session, row)
        kept = [unplaced.as_dict(u) for u in unplaced.for_invoice(session, row)]
    violations = latest_violations(events)
    return {
        "invoice": {
            "invoice_number": row.invoice_number,
            "portal_invoice_number": row.portal_invoice_number,
            "customer_id": row.customer_id,
            "profile_id": row.profile_id,
            "state": row.state,
            "purpose": row.purpose,
            "total": str(row.total),
            "currency": row.currency,
            "invoice_date": row.invoice_date.isoformat(),
            "revision": row.revision,
            "portal_invoice_id": row.portal_invoice_id,
            "portal_status": row.portal_status_raw,
            "reason": row.last_reason,
            "category": row.last_category,
            # The invoice waits while its profile cannot work: why, in the profile's words.
            "profile_health": profile_health_of(hub, row.profile_id),
            # Recorded as received on evidence nobody could verify (a duplicate answer to our own
            # unanswered send, the portal's copy not comparable): a person should confirm it.
            "unconfirmed": row.state == S.SUBMITTED.value
            and row.last_category == RejectionCategory.DUPLICATE.value,
        },
        "events": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "from": e.from_state,
                "to": e.to_state,
                "reason": e.reason,
                "category": e.category,
                "raw_status": e.raw_status,
                "attempt_id": e.attempt_id,
                # What settled an unanswered send: the portal's copy compared, or the portal's answer.
                "evidence": _evidence(e.details) or None,
            }
            for e in events
        ],
        "violations": violations,
        "attempts": [
            {
                "id": a.id,
                "payload_id": a.payload_id,
                "revision": a.revision,
                "portal_invoice_number": a.portal_invoice_number,
                "outcome": a.outcome,
                "started_at": a.started_at.isoformat(),
                "duration_ms": a.duration_ms,
                "http_status": a.http_status,
                "portal_code": a.portal_code,
                "portal_text": a.portal_text,
                "error": a.error,
            }
            for a in attempts
        ],
        # Which send corrected which refused one (resubmitted by a collector or picked up by the daemon),
        # and credit memos, rebills or cancels in the store that name this invoice as their original.
        "corrections": corrections,
        "related": related,
        # Statuses the portal pushed naming this invoice that could not be applied (hub/unplaced.py).
        "unplaced_statuses": kept,
    }


def _evidence(details: str | None) -> dict[str, Any]:
    if not details or '"evidence"' not in details:
        return {}
    data = json.loads(details)
    return {**data.get("evidence", {}), "unverified": bool(data.get("unverified"))}


# --- rejections ----------------------------------------------------------------------------------------------
def rejections(
    hub: Hub,
    *,
    customer: str | None = None,
    portal: str | None = None,
    since: datetime | None = None,
    categories: tuple[str, ...] = (),
    older_than_days: int | None = None,
    min_amount: Decimal | None = None,
) -> list[dict[str, Any]]:
    """The collectors' worklist (hub/worklist.py): open problems by customer and category, oldest first."""
    return worklist(
        hub,
        WorklistFilter(
            customer=customer,
            portal=portal,
            categories=categories,
            since=since,
            older_than_days=older_than_days,
            min_amount=min_amount,
        ),
    )


# --- validate and submit -------------------------------------------------------------------------------------
def load_invoice_file(path: Path) -> Invoice:
    try:
        return Invoice.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise DocumentError(f"{path} is not a valid invoice: {describe_validation_error(exc)}") from exc


def validate_ref(hub: Hub, ref: str, profile_id: str | None) -> tuple[Invoice, str, PreflightResult]:
    """Pre-flight an invoice given by file path or invoice number, against a profile (or its routed one)."""
    path = Path(ref)
    if path.suffix.lower() == ".json" or path.exists():
        invoice = load_invoice_file(path)
    else:
        invoice = Invoice.model_validate_json(_invoice_row(hub, ref).document)
    profile = hub.profile(profile_id) if profile_id else hub.route(invoice.customer_id)
    if profile is None:
        raise ConfigError(f"no profile takes customer {invoice.customer_id!r}; pass --profile")
    return (
        invoice,
        profile.id,
        preflight(invoice, profile, hub.preflight_connector(profile), hub.schemas, hub.clock.now()),
    )


def submit_now(hub: Hub, number: str) -> SubmitReport:
    """Send one READY invoice now (ignoring its backoff); refuses other states with the reason."""
    row = _invoice_row(hub, number)
    if row.state != S.READY.value or row.profile_id is None:
        raise ConfigError(f"{number} is {row.state}, not READY: {row.last_reason or ''}".rstrip(": "))
    return submit_profile(hub, hub.profile(row.profile_id), limit=1, invoice_id=row.id)


def money(value: Decimal | str) -> str:
    return f"{Decimal(value):,.2f}"
