"""What the collectors' commands (and the web pages) ask of the hub. The read questions return their
JSON form directly (plain dicts and lists, as the web API serves them); what acts returns a typed result
with its JSON form (`as_json()`), so the command line only prints.

- `status_summary`: invoices per profile and state, and everything that needs a person;
- `timeline`: one invoice, its events and attempts (why is it where it is); `invoice_page` adds the
  next step after a portal's refusal (what `show` prints);
- `rejections`: the collectors' worklist (who must fix what; hub/worklist.py);
- `quarantined`: AR records that are not valid invoices.

Every invoice number is looked up one way (`invoice_row`, over `find_invoice`): by any number the buyer
sees, in any case. Acting on one invoice (validate, submit) is hub/invoice_actions.py; the operators'
questions (audit, report, users) are hub/operations.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, select

from hub import profile_health, unplaced
from hub.corrections import InvoiceNotFound, correction_links, find_invoice, related_documents
from hub.errors import ConfigError
from hub.model import InvoiceState, RejectionCategory
from hub.money import amount_text
from hub.store.tables import AttemptRow, CursorRow, EventRow, InvoiceRow, QuarantineRow
from hub.worklist import CATEGORY_LABELS, WorklistFilter, latest_violations, worklist

if TYPE_CHECKING:
    # Sending and pre-flight (connectors, mappings, the rules engine) are imported where they are used:
    # the read-only questions (`status`, `show`, `rejections`) must not load them (hub/readonly.py).
    from hub.readonly import ReadOnlyHub
    from hub.runtime import Hub

S = InvoiceState

#: The invoice asked for is not in the store (nor quarantined: see `find_invoice`).
NotFound = InvoiceNotFound


def invoice_row(hub: Hub | ReadOnlyHub, number: str) -> InvoiceRow:
    """The invoice by any number the buyer sees, case-insensitively (hub/corrections/common.py): the
    one lookup behind every service that takes an invoice number."""
    with hub.store.session() as session:
        return find_invoice(session, number)


# --- status --------------------------------------------------------------------------------------------------
@dataclass
class Attention:
    invoice_number: str
    state: str
    profile_id: str | None
    why: str


def status_summary(hub: Hub | ReadOnlyHub) -> dict[str, Any]:
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


def portals_not_working(hub: Hub | ReadOnlyHub, session: Session, now: datetime) -> dict[str, str]:
    """profile id -> why it is not working now: held or failing (hub/profile_health.py), credentials
    refused, or the portal down longer than `notifications.portal_down_minutes` (default 30)."""
    from hub.notify.health import incidents_of

    minutes = hub.config.notifications.portal_down_minutes if hub.config.notifications else 30
    found = incidents_of(session, customers_by_profile(hub), now, timedelta(minutes=minutes))
    words = {"profile_auth": "credentials refused", "profile_down": "portal not working"}
    return {
        i.profile_id: f"{words.get(i.kind, i.kind)} since {i.since:%Y-%m-%d %H:%M} UTC: {i.detail}"
        for i in found
    }


def customers_by_profile(hub: Hub | ReadOnlyHub) -> dict[str, tuple[str, ...]]:
    """profile id -> the AR customers it matches, from the full hub's profiles or the read-only outlines."""
    from hub.readonly import ReadOnlyHub

    if isinstance(hub, ReadOnlyHub):
        return {pid: outline.customers for pid, outline in hub.profile_outlines.items()}
    return {pid: tuple(profile.match.customer_id) for pid, profile in hub.profiles.items()}


def profile_health_of(hub: Hub | ReadOnlyHub, profile_id: str | None) -> dict[str, Any] | None:
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
def timeline(hub: Hub | ReadOnlyHub, number: str) -> dict[str, Any]:
    row = invoice_row(hub, number)
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
            "total": amount_text(row.total, row.currency),
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


def invoice_page(hub: Hub | ReadOnlyHub, number: str) -> dict[str, Any]:
    """What `portalhub show` prints: the timeline (`timeline`) with the next step (`next_step`)."""
    page = timeline(hub, number)
    page["next_step"] = next_step(hub, page["invoice"])
    return page


def _evidence(details: str | None) -> dict[str, Any]:
    if not details or '"evidence"' not in details:
        return {}
    data = json.loads(details)
    return {**data.get("evidence", {}), "unverified": bool(data.get("unverified"))}


def next_step(hub: Hub | ReadOnlyHub, head: dict[str, Any]) -> dict[str, Any] | None:
    """After a portal's refusal (REJECTED or DISPUTED): what to do next (hub/next_steps.py), and where a
    rule could have caught it before sending; None for any other state."""
    from hub import next_steps

    if head["state"] not in next_steps.REFUSED:
        return None
    # A dispute is the buyer's call whatever its reason (as on the worklist).
    disputed = head["state"] == S.DISPUTED.value
    category = (RejectionCategory.DISPUTED.value if disputed else head["category"]) or "other"
    step: dict[str, Any] = {
        "category": category,
        "category_label": CATEGORY_LABELS.get(category, category),
        "sentence": next_steps.sentence(category),
        "rules_file": None,
        "suggest": None,
    }
    profile_id = head["profile_id"]
    if profile_id and category in next_steps.CAUGHT_BY_A_RULE:
        file = _rules_file_of(hub, profile_id)
        if file:
            step["rules_file"] = next_steps.rules_line(file)
            step["suggest"] = f"portalhub rules suggest --profile {profile_id}"
    return step


def _rules_file_of(hub: Hub | ReadOnlyHub, profile_id: str) -> str | None:
    outlines = getattr(hub, "profile_outlines", None)
    if outlines is not None:
        outline = outlines.get(profile_id)
        return outline.file if outline else None
    profile = getattr(hub, "profiles", {}).get(profile_id)
    return str(profile.sources[0]) if profile is not None and profile.sources else None


# --- rejections ----------------------------------------------------------------------------------------------
def rejections(
    hub: Hub | ReadOnlyHub,
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


def check_worklist_filter(hub: Hub | ReadOnlyHub, *, customer: str | None, portal: str | None) -> None:
    """A filter naming no known profile or customer is a typo, not "nothing to do": ConfigError with
    the closest names. Known profiles are those of the rules folder and those invoices were routed to;
    known customers, those the store holds invoices of and those a profile matches."""
    import difflib

    outlines = getattr(hub, "profile_outlines", None)
    if outlines is not None:
        profiles = set(outlines)
        matched = {c for o in outlines.values() for c in o.customers}
    else:
        loaded = getattr(hub, "profiles", {})
        profiles = set(loaded)
        matched = {c for p in loaded.values() for c in p.match.customer_id}
    with hub.store.session() as session:
        if portal is not None and portal not in profiles:
            stored = {p for p in session.exec(select(InvoiceRow.profile_id).distinct()) if p}
            known = profiles | stored
            if portal not in known:
                raise ConfigError(_unknown("profile", portal, known, difflib))
        if customer is not None and customer not in matched:
            held = session.exec(
                select(InvoiceRow.id).where(col(InvoiceRow.customer_id) == customer).limit(1)
            ).first()
            if held is None:
                known = matched | set(session.exec(select(InvoiceRow.customer_id).distinct()))
                raise ConfigError(_unknown("customer", customer, known, difflib))


def _unknown(what: str, given: str, known: set[str], difflib: Any) -> str:
    by_case = {k.casefold(): k for k in known}
    close = [by_case[given.casefold()]] if given.casefold() in by_case else []
    close = close or difflib.get_close_matches(given, sorted(known), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(sorted(known)[:20]) + (" ..." if len(known) > 20 else "")
    return f"no {what} {given!r} is known to this hub{hint} ({what}s: {listed or 'none yet'})"


# --- quarantine ----------------------------------------------------------------------------------------------
def quarantined(hub: Hub | ReadOnlyHub, *, resolved: bool = False) -> list[dict[str, Any]]:
    """AR records the hub quarantined (not valid invoices), newest first, with the reason each is not
    one; `resolved` adds those fixed since (taken in as invoices)."""
    query = select(QuarantineRow).order_by(col(QuarantineRow.last_seen).desc(), col(QuarantineRow.id))
    if not resolved:
        query = query.where(col(QuarantineRow.resolved_at).is_(None))
    with hub.store.session() as session:
        rows = session.exec(query).all()
    return [
        {
            "ar_key": q.ar_key,
            "source": q.source,
            "invoice_number": q.invoice_number,
            "reason": q.reason,
            "first_seen": q.first_seen.isoformat(),
            "last_seen": q.last_seen.isoformat(),
            "resolved_at": q.resolved_at.isoformat() if q.resolved_at else None,
        }
        for q in rows
    ]
