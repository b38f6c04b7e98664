"""The answers of the read-only commands (`status`, `show`, `rejections`, `quarantine`), read through
the store's driver, and the builders that turn rows into answers for both paths (hub/services.py reads
the same rows through the ORM). See the package docstring."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hub import profile_health, unplaced
from hub.corrections.common import not_found
from hub.corrections.links import correction_links, original_numbers, related_document
from hub.money import amount_text
from hub.readonly.kept_rows import KeptRows
from hub.readonly.views import Outlines, ReadOnlyHub, StoreView
from hub.states import InvoiceState, RejectionCategory
from hub.store_reader import StoreReader, StuckCondition
from hub.worklist import PROBLEM_STATES, WAITING_CATEGORIES, WorklistFilter, latest_violations, open_problems

if TYPE_CHECKING:
    from hub.notify.health import Incident
    from hub.runtime import Hub

S = InvoiceState


@contextmanager
def reading(hub: StoreView | ReadOnlyHub | Hub) -> Iterator[StoreReader]:
    """The view's reader; for a hub with an ORM store (tests hand the commands one), a reader on one of
    its connections, given back when the block ends."""
    if isinstance(hub, StoreView):
        yield hub.reader
        return
    reader = StoreReader.borrow(hub.store)
    try:
        yield reader
    finally:
        reader.close()


def customers_by_profile(hub: StoreView | ReadOnlyHub | Hub) -> dict[str, tuple[str, ...]]:
    """profile id -> the AR customers it matches, from the full hub's profiles or the outlines."""
    if isinstance(hub, Outlines):
        return {pid: outline.customers for pid, outline in hub.profile_outlines.items()}
    return {pid: tuple(profile.match.customer_id) for pid, profile in hub.profiles.items()}


def needs_attention(
    row: Any, now: datetime, troubled: dict[str, profile_health.Health]
) -> dict[str, Any] | None:
    """An IN_DOUBT, SUBMITTING or READY invoice that needs a person (`status`), with why; None when it
    simply waits for its turn or is being sent right now."""
    waiting = row.next_attempt_at is not None and row.next_attempt_at > now
    held = troubled.get(row.profile_id or "")
    if row.state == S.READY.value and held is not None:
        why = f"waits: profile {row.profile_id} {held.describe()}"
        return {
            "invoice_number": row.invoice_number,
            "state": row.state,
            "profile_id": row.profile_id,
            "why": why,
        }
    if row.state == S.READY.value and not waiting and not row.last_category:
        return None  # simply waiting for its turn
    if row.state == S.SUBMITTING.value and row.lease_expires_at and row.lease_expires_at > now:
        return None  # being sent right now
    why = row.last_reason or ""
    if row.next_attempt_at:
        why += f" (next try {row.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)"
    return {
        "invoice_number": row.invoice_number,
        "state": row.state,
        "profile_id": row.profile_id,
        "why": why,
    }


#: The invoice states `needs_attention` looks at.
ATTENTION_STATES = (S.IN_DOUBT.value, S.SUBMITTING.value, S.READY.value)


def status_summary(hub: StoreView | ReadOnlyHub | Hub) -> dict[str, Any]:
    """`portalhub status`: invoices per profile and state, and everything that needs a person."""
    from hub.heartbeat import statuses
    from hub.notify.health import RECENT_ATTEMPTS, incidents_from

    now = hub.clock.now()
    notifications = hub.config.notifications
    down_after = timedelta(minutes=notifications.portal_down_minutes if notifications else 30)
    with reading(hub) as reader:
        counts = reader.state_counts()
        troubled = {r.profile_id: profile_health.from_row(r) for r in reader.troubled_health()}
        attention = [
            item
            for item in (
                needs_attention(row, now, troubled) for row in reader.waiting_invoices(ATTENTION_STATES)
            )
            if item is not None
        ]
        quarantined = reader.open_quarantine_count()
        cursors = reader.cursors()
        found = incidents_from(
            troubled,
            customers_by_profile(hub),
            now,
            down_after,
            recent_sends=lambda profile_id: reader.recent_sends(profile_id, RECENT_ATTEMPTS),
            cursor=reader.cursor,
            first_send=reader.first_send,
        )
        daemons = statuses(reader.daemons(), now)
    return summary_of(hub, counts, troubled, attention, quarantined, cursors, found, daemons)


def summary_of(
    hub: StoreView | ReadOnlyHub | Hub,
    counts: Any,
    troubled: dict[str, profile_health.Health],
    attention: list[dict[str, Any]],
    quarantined: int,
    cursors: Any,
    incidents: Iterable[Incident],
    daemons: Any,
) -> dict[str, Any]:
    """`status`'s answer from what was read (hub/services.py reads it through the ORM)."""
    per_profile: dict[str, dict[str, int]] = {}
    for profile_id, state, count in counts:
        per_profile.setdefault(profile_id or "(no profile)", {})[state] = int(count)
    not_working = not_working_of(incidents)
    return {
        "profiles": per_profile,
        "daemons": [d.as_json() for d in daemons],
        "broken_rules_files": hub.broken_profiles,
        # Profiles that cannot work now (failing, or held until a person acts), with the reason.
        "profile_health": {
            pid: h.as_json() | {"summary": h.describe()} for pid, h in sorted(troubled.items())
        },
        "contested_customers": dict(sorted(hub.contested.items())),
        # Portals that refuse the credentials or have given no usable answer for `portal_down_minutes`
        # (derived from the sends and polls, as the notification digests say it).
        "portals_not_working": {pid: why for pid, why in not_working.items() if pid not in troubled},
        "attention": attention,
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


def not_working_of(incidents: Iterable[Incident]) -> dict[str, str]:
    """profile id -> why it is not working now (held or failing, credentials refused, portal down)."""
    words = {"profile_auth": "credentials refused", "profile_down": "portal not working"}
    return {
        i.profile_id: f"{words.get(i.kind, i.kind)} since {i.since:%Y-%m-%d %H:%M} UTC: {i.detail}"
        for i in incidents
    }


def timeline(hub: StoreView | ReadOnlyHub | Hub, number: str) -> dict[str, Any]:
    """`portalhub show`: one invoice (by any number the buyer sees), its events, sends, corrections,
    related documents and the statuses the portal pushed that could not be applied."""
    with reading(hub) as reader:
        row = reader.find_invoice(number)
        if row is None:
            raise not_found(number, reader.quarantined_as(number))
        events = reader.events_of(row.id)
        attempts = reader.attempts_of(row.id)
        related = [
            related_document(other) for other in reader.naming_as_original(original_numbers(row), row.id)
        ]
        numbers = [n for n in (row.invoice_number, row.portal_invoice_number) if n]
        kept = [unplaced.as_dict(u) for u in reader.unplaced_naming(row.id, numbers)]
        health = reader.health(row.profile_id) if row.profile_id is not None else None
    waits = profile_health.from_row(health) if health is not None else None
    return timeline_of(row, events, attempts, related, kept, waits)


def invoice_page(hub: StoreView | ReadOnlyHub | Hub, number: str) -> dict[str, Any]:
    """What `portalhub show` prints: the timeline with the next step after a portal's refusal."""
    from hub.next_steps import next_step

    page = timeline(hub, number)
    page["next_step"] = next_step(hub, page["invoice"])
    return page


def timeline_of(
    row: Any,
    events: Any,
    attempts: Any,
    related: list[dict[str, Any]],
    kept: list[dict[str, Any]],
    health: profile_health.Health | None,
) -> dict[str, Any]:
    """`show`'s answer from what was read (hub/services.py reads it through the ORM); `health` is the
    profile's stored health (None: no row, it works)."""
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
            "profile_health": None
            if health is None or health.working
            else health.as_json() | {"summary": health.describe()},
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
        "violations": latest_violations(events),
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
        "corrections": correction_links(events, attempts),
        "related": related,
        # Statuses the portal pushed naming this invoice that could not be applied (hub/unplaced.py).
        "unplaced_statuses": kept,
    }


def _evidence(details: str | None) -> dict[str, Any]:
    if not details or '"evidence"' not in details:
        return {}
    data = json.loads(details)
    return {**data.get("evidence", {}), "unverified": bool(data.get("unverified"))}


def rejections(
    hub: StoreView | ReadOnlyHub | Hub,
    *,
    customer: str | None = None,
    portal: str | None = None,
    since: datetime | None = None,
    categories: tuple[str, ...] = (),
    older_than_days: int | None = None,
    min_amount: Decimal | None = None,
) -> list[dict[str, Any]]:
    """`portalhub rejections`: the collectors' worklist (hub/worklist.py), read through the driver."""
    flt = WorklistFilter(
        customer=customer,
        portal=portal,
        categories=categories,
        since=since,
        older_than_days=older_than_days,
        min_amount=min_amount,
    )
    now = hub.clock.now()
    with reading(hub) as reader:
        troubled = {r.profile_id: profile_health.from_row(r) for r in reader.troubled_health()}
        condition = StuckCondition.of(
            PROBLEM_STATES, WAITING_CATEGORIES, sorted(troubled), RejectionCategory.DUPLICATE.value
        )
        stuck = reader.stuck(condition)
        # The customer and portal filters on the problems as read, as `worklist` does (and why).
        found = [row for row in stuck if flt.places(row.customer_id, row.profile_id)]
        # Rows kept by earlier commands for invoices unchanged since need no history read; but a READY
        # invoice whose profile cannot work has its row made from the profile's health, at every command.
        book = KeptRows.of(reader.url, reader.revision())
        made = book.usable(r for r in found if r.state != S.READY.value or r.profile_id not in troubled)
        earlier = set(made)
        needed = [row.id for row in found if row.id not in made]
        # Most rows to make (the first command, a filter's): every history read at once.
        events, attempts = reader.histories(condition, None if len(needed) > len(found) // 4 else needed)
        wanted = set(needed)
        history: dict[int, list[Any]] = {}
        for event in events:
            if event.invoice_id in wanted:
                history.setdefault(event.invoice_id, []).append(event)
        sends = {attempt.id: attempt for attempt in attempts if attempt.invoice_id in wanted}
        statuses = reader.open_unplaced()
        invoices = reader.invoices_by_id(sorted({s.invoice_id for s in statuses if s.invoice_id is not None}))
        kept = [unplaced.worklist_row(s, invoices.get(s.invoice_id), now) for s in statuses]
    in_doubt_after = timedelta(hours=hub.config.daemon.in_doubt_worklist_hours)
    rows = open_problems(found, history, sends, kept, troubled, now, flt, in_doubt_after, made)
    book.keep(stuck, {ident: row for ident, row in made.items() if ident not in earlier})
    return rows


def check_worklist_filter(
    hub: StoreView | ReadOnlyHub | Hub, *, customer: str | None, portal: str | None
) -> None:
    """A filter naming no known profile or customer is a typo, not "nothing to do": ConfigError with
    the closest names. Known profiles are those of the rules folder and those invoices were routed to;
    known customers, those the store holds invoices of and those a profile matches."""
    from hub.errors import ConfigError

    if customer is None and portal is None:
        return  # nothing to check: the rules folder is not even read
    matched_by = customers_by_profile(hub)
    profiles = set(matched_by)
    matched = {c for customers in matched_by.values() for c in customers}
    with reading(hub) as reader:
        if portal is not None and portal not in profiles:
            known = profiles | reader.stored_profiles()
            if portal not in known:
                raise ConfigError(unknown_name("profile", portal, known))
        if customer is not None and customer not in matched and not reader.holds_customer(customer):
            raise ConfigError(unknown_name("customer", customer, matched | reader.stored_customers()))


def unknown_name(what: str, given: str, known: set[str]) -> str:
    """ "no profile 'acme-copa' is known ...; did you mean 'acme-coupa'?": the same name in another letter
    case first, else the closest names."""
    import difflib

    by_case = {k.casefold(): k for k in known}
    close = [by_case[given.casefold()]] if given.casefold() in by_case else []
    close = close or difflib.get_close_matches(given, sorted(known), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(sorted(known)[:20]) + (" ..." if len(known) > 20 else "")
    return f"no {what} {given!r} is known to this hub{hint} ({what}s: {listed or 'none yet'})"


def quarantined(hub: StoreView | ReadOnlyHub | Hub, *, resolved: bool = False) -> list[dict[str, Any]]:
    """`portalhub quarantine`: AR records the hub quarantined (not valid invoices), newest first, with
    the reason each is not one; `resolved` adds those fixed since (taken in as invoices)."""
    with reading(hub) as reader:
        return [quarantine_record(q) for q in reader.quarantine(resolved=resolved)]


def quarantine_record(q: Any) -> dict[str, Any]:
    """One quarantined AR record as the commands give it."""
    return {
        "ar_key": q.ar_key,
        "source": q.source,
        "invoice_number": q.invoice_number,
        "reason": q.reason,
        "first_seen": q.first_seen.isoformat(),
        "last_seen": q.last_seen.isoformat(),
        "resolved_at": q.resolved_at.isoformat() if q.resolved_at else None,
    }
