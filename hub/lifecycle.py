"""The state machine of an invoice, and the one way to change an invoice's state: `move`.

`move` checks the transition is allowed, appends the event (the history is never rewritten), updates
the `invoices.state` projection, and queues the event for the AR system, all in the caller's
transaction: a state change and its feedback are committed together or not at all. `move_claimed` does
the same for the send path on a plain snapshot of the invoice, with one guarded UPDATE instead of the
ORM (hub/store/work.py).

    NEW -> BLOCKED | READY
    READY -> SUBMITTING -> SUBMITTED | REJECTED | READY (transient, backoff) | IN_DOUBT
    IN_DOUBT -> SUBMITTED (the portal has it) | READY (it does not: send again)
    SUBMITTED -> portal statuses: PENDING_APPROVAL, APPROVED, DISPUTED, ON_HOLD, REJECTED, PAID, CANCELLED
    REJECTED | DISPUTED | BLOCKED -> READY | BLOCKED when the AR system sends a corrected invoice
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from hub.audit import digest_values, seal
from hub.errors import PortalhubError
from hub.model import InvoiceState, RejectionCategory
from hub.secrets import REDACTOR
from hub.store import work
from hub.store.driver_sql import DriverStatement
from hub.store.tables import EventRow, InvoiceRow, OutboxRow
from hub.transition_log import note_transition

S = InvoiceState
_EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = OutboxRow.__table__  # type: ignore[attr-defined]
#: The columns an event row is written with (its id comes back from the INSERT).
_EVENT_COLUMNS = tuple(c.name for c in _EVENTS.columns if c.name != "id")
# Built once, run on the session's connection through the driver (hub/store/driver_sql.py): the ORM's
# autoflush is not run (the invoice's own changes are flushed once, at commit).
_INSERT_EVENT = DriverStatement(
    insert(_EVENTS).values({name: bindparam(name) for name in _EVENT_COLUMNS}).returning(_EVENTS.c.id)
)
_OUTBOX_COLUMNS = tuple(c.name for c in _OUTBOX.columns if c.name != "id")
_INSERT_OUTBOX = DriverStatement(insert(_OUTBOX).values({name: bindparam(name) for name in _OUTBOX_COLUMNS}))
PORTAL_STATES = frozenset(
    {S.PENDING_APPROVAL, S.APPROVED, S.DISPUTED, S.ON_HOLD, S.REJECTED, S.PAID, S.CANCELLED, S.SUBMITTED}
)
#: States a corrected AR invoice may leave for a new validation (and a new submission).
CORRECTABLE = frozenset({S.NEW, S.BLOCKED, S.READY, S.REJECTED, S.DISPUTED})
#: States in which nothing will happen without the portal or a person.
SETTLED = frozenset({S.BLOCKED, S.REJECTED, S.DISPUTED, S.PAID, S.CANCELLED, S.ON_HOLD})

ALLOWED: dict[InvoiceState, frozenset[InvoiceState]] = {
    S.NEW: frozenset({S.BLOCKED, S.READY}),
    S.BLOCKED: frozenset({S.BLOCKED, S.READY}),
    S.READY: frozenset({S.SUBMITTING, S.BLOCKED, S.READY}),
    S.SUBMITTING: frozenset({S.SUBMITTED, S.REJECTED, S.READY, S.IN_DOUBT}),
    S.IN_DOUBT: frozenset({S.SUBMITTED, S.READY, S.REJECTED}),
    S.SUBMITTED: PORTAL_STATES,
    S.PENDING_APPROVAL: PORTAL_STATES,
    S.APPROVED: PORTAL_STATES,
    S.ON_HOLD: PORTAL_STATES,
    S.PAID: PORTAL_STATES,
    S.CANCELLED: PORTAL_STATES,
    S.REJECTED: PORTAL_STATES | {S.READY, S.BLOCKED},
    S.DISPUTED: PORTAL_STATES | {S.READY, S.BLOCKED},
}


class TransitionError(PortalhubError):
    """A move the state machine does not allow: a bug, or two workers racing on one invoice."""


class ClaimedInvoice(Protocol):
    """What `move_claimed` reads and updates of an invoice: the row as a plain object (work.Claimed)."""

    id: int
    invoice_number: str
    profile_id: str | None
    source: str
    ar_key: str
    customer_id: str
    portal_invoice_id: str | None
    state: str
    event_seq: int
    event_head: str | None


def can_move(source: InvoiceState, target: InvoiceState) -> bool:
    return source == target or target in ALLOWED.get(source, frozenset())


def event_payload(invoice: InvoiceRow, event: EventRow) -> dict[str, Any]:
    """What the AR system receives for an event (also what the webhook sink will sign)."""
    return _payload(invoice, {name: getattr(event, name) for name in _PAYLOAD_EVENT_FIELDS})


_PAYLOAD_EVENT_FIELDS = ("id", "to_state", "from_state", "reason", "category", "raw_status", "at")


def _payload(invoice: ClaimedInvoice | InvoiceRow, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": f"evt-{event['id']}",
        "source": invoice.source,
        "ar_key": invoice.ar_key,
        "invoice_number": invoice.invoice_number,
        "customer_id": invoice.customer_id,
        "profile_id": invoice.profile_id,
        "state": event["to_state"],
        "previous_state": event["from_state"],
        "reason": event["reason"],
        "category": event["category"],
        "raw_status": event["raw_status"],
        "portal_invoice_id": invoice.portal_invoice_id,
        "at": event["at"].isoformat(),
    }


def move(
    session: Session,
    invoice: InvoiceRow,
    target: InvoiceState,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    category: RejectionCategory | str | None = None,
    raw_status: str | None = None,
    details: dict[str, Any] | None = None,
    attempt_id: int | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Record `invoice` moving to `target`; returns the event's id, or None when `dedupe_key` was
    already recorded."""
    source = InvoiceState(invoice.state)
    if not can_move(source, target):
        raise TransitionError(f"invoice {invoice.invoice_number}: {source} -> {target} is not allowed")
    if dedupe_key is not None and _recorded(session, dedupe_key):
        return None
    values = _event_values(
        invoice, source, target, actor, now, reason, category, raw_status, details, attempt_id, dedupe_key
    )
    values["id"] = _INSERT_EVENT.execute(session.connection(), values).scalar_one()
    invoice.event_seq = values["seq"]
    invoice.event_head = values["hash"]
    invoice.state = target.value
    invoice.updated_at = now
    if reason is not None and target is not source:
        invoice.last_reason = values["reason"]
        invoice.last_category = values["category"]
    if raw_status is not None:
        invoice.portal_status_raw = raw_status
    session.add(invoice)
    _queue(session, invoice, values)
    if target is not source:
        _note(session, invoice, source, target, values["reason"])
    event_id: int = values["id"]
    return event_id


def move_claimed(
    session: Session,
    invoice: ClaimedInvoice,
    target: InvoiceState,
    *,
    actor: str,
    now: datetime,
    guard: work.Guard,
    worker: str | None = None,
    reason: str | None = None,
    category: RejectionCategory | str | None = None,
    raw_status: str | None = None,
    attempt_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> bool:
    """`move` for the send path: the invoice is a plain snapshot (no ORM object loaded or flushed) and
    its row is written with one UPDATE that holds only if the invoice is still what the snapshot says
    (same state and place in its audit chain) and `guard` holds (its lease is free to take, or still
    `worker`'s). False when it does not: nothing was written, the caller reads the invoice again. On True the
    event, the row's new columns (`changes` too) and the outbox row are in the caller's transaction,
    and the snapshot shows the new state."""
    source = InvoiceState(invoice.state)
    if not can_move(source, target):
        raise TransitionError(f"invoice {invoice.invoice_number}: {source} -> {target} is not allowed")
    values = _event_values(
        invoice, source, target, actor, now, reason, category, raw_status, None, attempt_id, None
    )
    columns: dict[str, Any] = {
        "state": target.value,
        "updated_at": now,
        "event_seq": values["seq"],
        "event_head": values["hash"],
        **(changes or {}),
    }
    if reason is not None and target is not source:
        columns["last_reason"] = values["reason"]
        columns["last_category"] = values["category"]
    if raw_status is not None:
        columns["portal_status_raw"] = raw_status
    connection = session.connection()
    written = work.update_guarded(
        connection, invoice.id, source, invoice.event_seq, guard, columns, now, worker
    )
    if not written:
        return False
    for name, value in columns.items():
        setattr(invoice, name, value)
    values["id"] = _INSERT_EVENT.execute(connection, values).scalar_one()
    _queue(session, invoice, values)
    if target is not source:
        _note(session, invoice, source, target, values["reason"])
    return True


#: Whether an event with a dedupe key is already recorded: built once (each status a poll applies asks),
#: and run without autoflush: it reads events, which are written straight through the driver, never
#: through the ORM's pending changes (flushing the invoice's row here cost a statement per status).
_RECORDED = (
    select(EventRow.id)
    .where(EventRow.dedupe_key == bindparam("dedupe_key"))
    .execution_options(autoflush=False)
)


def _recorded(session: Session, dedupe_key: str) -> bool:
    return session.exec(_RECORDED, params={"dedupe_key": dedupe_key}).first() is not None


def _event_values(
    invoice: ClaimedInvoice | InvoiceRow,
    source: InvoiceState,
    target: InvoiceState,
    actor: str,
    now: datetime,
    reason: str | None,
    category: RejectionCategory | str | None,
    raw_status: str | None,
    details: dict[str, Any] | None,
    attempt_id: int | None,
    dedupe_key: str | None,
) -> dict[str, Any]:
    """The event row's columns as plain values, sealed at the end of the invoice's chain (hub/audit.py:
    `seq`, `prev_hash`, `hash`); building an EventRow per event cost more than writing it."""
    values: dict[str, Any] = {
        "invoice_id": invoice.id,
        "at": now,
        "actor": actor,
        "from_state": source.value,
        "to_state": target.value,
        "reason": REDACTOR(reason) if reason else None,
        "category": str(category) if category is not None else None,
        "raw_status": raw_status,
        "details": REDACTOR(json.dumps(details, default=str, sort_keys=True)) if details else None,
        "attempt_id": attempt_id,
        "dedupe_key": dedupe_key,
        "seq": invoice.event_seq + 1,
        "prev_hash": invoice.event_head,
    }
    values["hash"] = digest_values(values)
    return values


def _note(
    session: Session,
    invoice: ClaimedInvoice | InvoiceRow,
    source: InvoiceState,
    target: InvoiceState,
    reason: str | None,
) -> None:
    note_transition(
        session,
        {
            "invoice": invoice.invoice_number,
            "profile": invoice.profile_id,
            "from_state": source.value,
            "to_state": target.value,
            "portal_id": invoice.portal_invoice_id,
            "reason": reason,
        },
    )


def _queue(session: Session, invoice: ClaimedInvoice | InvoiceRow, event: dict[str, Any]) -> None:
    """The event's outbox row for the AR system (`event`: the event's columns, with its id)."""
    _INSERT_OUTBOX.execute(
        session.connection(),
        {
            "event_key": f"evt-{event['id']}",
            "invoice_id": invoice.id,
            "payload": json.dumps(_payload(invoice, event), sort_keys=True),
            "created_at": event["at"],
            "delivered_at": None,
            "attempts": 0,
            "last_error": None,
            "next_attempt_at": None,
        },
    )


def _insert_event(session: Session, event: EventRow) -> None:
    """Write the event with one INSERT ... RETURNING id, not through the ORM's unit of work: a flush per
    event (its id is the AR side's idempotency key) was a third of the CPU of a send. The row is in the
    caller's transaction like any other; events are never updated, so the object stays detached."""
    values = {name: getattr(event, name) for name in _EVENT_COLUMNS}
    event_id = _INSERT_EVENT.execute(session.connection(), values).scalar_one()
    set_committed_value(event, "id", event_id)


def _queue_feedback(session: Session, invoice: InvoiceRow, event: EventRow) -> None:
    _queue(session, invoice, {name: getattr(event, name) for name in _PAYLOAD_EVENT_FIELDS})


def record_creation(session: Session, invoice: InvoiceRow, *, actor: str, reason: str) -> EventRow:
    """The first event of an invoice (from nothing to NEW); the row must be flushed (it has an id)."""
    event = EventRow(
        invoice_id=invoice.id,  # type: ignore[arg-type]
        at=invoice.created_at,
        actor=actor,
        from_state=None,
        to_state=InvoiceState.NEW.value,
        reason=reason,
    )
    seal(invoice, event)
    _insert_event(session, event)
    session.add(invoice)
    _queue_feedback(session, invoice, event)
    return event


def note(
    session: Session,
    invoice: InvoiceRow,
    *,
    actor: str,
    now: datetime,
    reason: str,
    raw_status: str | None = None,
    details: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    attempt_id: int | None = None,
) -> int | None:
    """An event that changes nothing but must be on the timeline (an unmapped portal status, say);
    returns its id, or None when `dedupe_key` was already recorded."""
    return move(
        session,
        invoice,
        InvoiceState(invoice.state),
        actor=actor,
        now=now,
        reason=reason,
        raw_status=raw_status,
        details=details,
        dedupe_key=dedupe_key,
        attempt_id=attempt_id,
    )
