"""Many new AR records stored in one transaction, in a handful of statements.

Taking a record alone cost ~12 statements through the ORM (the invoice, its revision, two events with
their hash chain, two outbox rows, the number check, the commit): several ms of CPU per invoice. Here
a batch of new invoices is written with one multi-row INSERT per table, ids returned in order, and one
UPDATE of the chains' heads. What is decided for each invoice is exactly what `intake.validate` decides
(hub/pipeline/intake_checks.py), and what is written is what `lifecycle.record_creation` and
`lifecycle.move` write: the same events (sealed with `audit.seal_values`, as `audit.seal` does), the
same outbox payloads (`lifecycle.event_payload`), the same transition log lines on commit.

The CPU work of each record (its JSON, content hash, routing and pre-flight) runs before the
transaction (`Prepared`), so the store is held only for the writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlmodel import Session

from hub.ar import ArRecord
from hub.audit import append_many, seal_values
from hub.lifecycle import event_payload
from hub.model import Invoice, InvoicePurpose, InvoiceState, RejectionCategory
from hub.pipeline.intake_checks import Verdict, decide, duplicate_number, routing, run_preflight
from hub.preflight import PreflightResult
from hub.runtime import Hub
from hub.secrets import REDACTOR
from hub.store.tables import InvoiceRow, OutboxRow, QuarantineRow, RevisionRow
from hub.transition_log import note_transition
from rules.schema import Profile

S = InvoiceState
_INVOICES: Table = InvoiceRow.__table__  # type: ignore[attr-defined]
_REVISIONS: Table = RevisionRow.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = OutboxRow.__table__  # type: ignore[attr-defined]
_QUARANTINE: Table = QuarantineRow.__table__  # type: ignore[attr-defined]
#: A new invoice row's columns that intake does not set (as the ORM model's defaults leave them).
_ROW_DEFAULTS: dict[str, Any] = {
    **{c.name: None for c in _INVOICES.columns if c.name != "id"},
    "transient_failures": 0,
    "event_seq": 0,
}
#: Keys per IN (...) list: well under every database's limit on bound parameters.
_CHUNK = 500

# Built once, executed with parameters (building a statement cost more than running it).
_KNOWN = select(_INVOICES.c.ar_key, _INVOICES.c.content_hash).where(
    _INVOICES.c.source == bindparam("in_source"), _INVOICES.c.ar_key.in_(bindparam("keys", expanding=True))
)
_RESOLVE_QUARANTINES = (
    update(_QUARANTINE)
    .where(
        _QUARANTINE.c.source == bindparam("in_source"),
        _QUARANTINE.c.ar_key.in_(bindparam("keys", expanding=True)),
        _QUARANTINE.c.resolved_at.is_(None),
    )
    .values(resolved_at=bindparam("now"))
)
#: The records that hold a number for a profile (see intake.number_holder), for many numbers at once.
_HOLDERS = (
    select(
        _INVOICES.c.ar_key,
        _INVOICES.c.source,
        _INVOICES.c.state,
        _INVOICES.c.profile_id,
        _INVOICES.c.invoice_number,
        _INVOICES.c.portal_invoice_number,
    )
    .where(
        _INVOICES.c.profile_id.in_(bindparam("profiles", expanding=True)),
        _INVOICES.c.state != S.CANCELLED.value,
        _INVOICES.c.purpose != InvoicePurpose.CANCEL.value,
        _INVOICES.c.portal_invoice_number.in_(bindparam("numbers", expanding=True))
        | (
            _INVOICES.c.invoice_number.in_(bindparam("same_numbers", expanding=True))
            & _INVOICES.c.portal_invoice_number.is_(None)
        ),
    )
    .order_by(_INVOICES.c.id)
)
_INSERT_INVOICES = insert(_INVOICES).returning(_INVOICES.c.id, sort_by_parameter_order=True)
_INSERT_REVISIONS = insert(_REVISIONS)
_INSERT_OUTBOX = insert(_OUTBOX)
_SET_HEADS = (
    update(_INVOICES)
    .where(_INVOICES.c.id == bindparam("row_id"))
    .values(event_seq=bindparam("seq"), event_head=bindparam("head"))
)


@dataclass
class Prepared:
    """One record and what can be worked out for it without the store."""

    record: ArRecord
    document: str | None = None  # the canonical JSON stored as the revision
    digest: str | None = None  # Invoice.content_hash(), from the same JSON
    profile: Profile | None = None
    unrouted: str | None = None  # why it has no profile
    result: PreflightResult | None = None

    @classmethod
    def of(cls, record: ArRecord) -> Prepared:
        if record.invoice is None:
            return cls(record)
        document = record.invoice.model_dump_json()
        return cls(record, document, hashlib.sha256(document.encode()).hexdigest())

    def assess(self, hub: Hub, now: datetime) -> None:
        """Routing and pre-flight, as `intake.validate` runs them for a new record (no portal number)."""
        invoice = self.record.invoice
        assert invoice is not None
        self.profile, self.unrouted = routing(hub, invoice)
        if self.profile is not None:
            self.result = run_preflight(hub, invoice, self.profile, now, None)


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


def known_digests(session: Session, source: str, keys: Sequence[str]) -> dict[str, str]:
    """The content hash the store holds for each of these AR keys that it has."""
    connection = session.connection()
    found: dict[str, str] = {}
    for chunk in _chunks(keys):
        for key, digest in connection.execute(_KNOWN, {"in_source": source, "keys": list(chunk)}):
            found[key] = digest
    return found


def resolve_quarantines(session: Session, source: str, keys: Sequence[str], now: datetime) -> None:
    """Records that now read well resolve their earlier quarantine entries (intake._resolve_quarantine
    for many)."""
    connection = session.connection()
    for chunk in _chunks(keys):
        connection.execute(_RESOLVE_QUARANTINES, {"in_source": source, "keys": list(chunk), "now": now})


@dataclass(frozen=True)
class _Held:
    ar_key: str
    source: str
    state: str


def _holders(connection: Connection, fresh: Sequence[Prepared]) -> dict[tuple[str, str], _Held]:
    """(profile id, number) -> the record already in the store that holds that number: the first (by
    id) sent under it as its portal number, else the first with it as its own number and no other."""
    profiles = sorted({p.profile.id for p in fresh if p.profile is not None})
    numbers = sorted({p.record.invoice.invoice_number for p in fresh if p.record.invoice is not None})
    by_portal_number: dict[tuple[str, str], _Held] = {}
    by_number: dict[tuple[str, str], _Held] = {}
    if not profiles:
        return {}
    for chunk in _chunks(numbers):
        rows = connection.execute(
            _HOLDERS, {"profiles": profiles, "numbers": list(chunk), "same_numbers": list(chunk)}
        )
        for ar_key, source, state, profile_id, number, portal_number in rows:
            held = _Held(ar_key, source, state)
            if portal_number is not None:
                by_portal_number.setdefault((profile_id, portal_number), held)
            else:
                by_number.setdefault((profile_id, number), held)
    return {**by_number, **by_portal_number}


def insert_new(hub: Hub, session: Session, fresh: Sequence[Prepared]) -> int:
    """Store new records (keys the store does not have, each once, each `assess`ed) with their
    revision, creation and pre-flight events, chains and outbox rows; returns how many."""
    if not fresh:
        return 0
    session.flush()  # the ORM's writes of this transaction (corrected records) count in the number check
    connection = session.connection()
    source = hub.ar_source.name
    actor = hub.actor
    holders = _holders(connection, fresh)
    taken: dict[tuple[str, str], _Held] = {}  # numbers first held by a record of this batch
    rows: list[dict[str, Any]] = []
    verdicts: list[tuple[Verdict, datetime]] = []
    for prepared in fresh:
        invoice = prepared.record.invoice
        assert invoice is not None and prepared.document is not None
        now = hub.clock.now()
        verdict = _verdict(prepared, invoice, source, holders, taken)
        if prepared.profile is not None and invoice.purpose is not InvoicePurpose.CANCEL:
            taken.setdefault(
                (prepared.profile.id, invoice.invoice_number),
                _Held(prepared.record.key, source, verdict.state.value),
            )
        verdicts.append((verdict, now))
        rows.append(
            {
                **_ROW_DEFAULTS,
                "source": source,
                "ar_key": prepared.record.key,
                "invoice_number": invoice.invoice_number,
                "original_invoice_number": invoice.original_invoice_number,
                "customer_id": invoice.customer_id,
                "profile_id": prepared.profile.id if prepared.profile else None,
                "purpose": invoice.purpose.value,
                "currency": invoice.currency,
                "total": invoice.total,
                "invoice_date": invoice.invoice_date,
                "state": verdict.state.value,
                "revision": 1,
                "content_hash": prepared.digest,
                "document": prepared.document,
                "last_reason": REDACTOR(verdict.reason),
                "last_category": _category(verdict.category),
                "rules_fingerprint": prepared.profile.fingerprint if prepared.profile else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    ids = list(connection.execute(_INSERT_INVOICES, rows).scalars())
    events: list[dict[str, Any]] = []
    heads: list[dict[str, Any]] = []
    for row_id, row, (verdict, now) in zip(ids, rows, verdicts, strict=True):
        row["id"] = row_id
        pair = [
            _event(
                row_id,
                now,
                f"ar:{source}",
                None,
                S.NEW.value,
                f"received from the AR system (record {row['ar_key']})",
            ),
            _event(
                row_id,
                now,
                actor,
                S.NEW.value,
                verdict.state.value,
                row["last_reason"],
                row["last_category"],
                REDACTOR(json.dumps(verdict.details, default=str, sort_keys=True))
                if verdict.details
                else None,
            ),
        ]
        seq, head = seal_values(pair, 0, None)
        heads.append({"row_id": row_id, "seq": seq, "head": head})
        events.extend(pair)
    event_ids = append_many(connection, events)
    outbox = []
    for position, event_id in enumerate(event_ids):
        event = events[position]
        event["id"] = event_id
        row = rows[position // 2]
        # The creation event is queued before routing: the AR side sees no profile on it (as alone).
        shown = {**row, "profile_id": None} if event["from_state"] is None else row
        payload = event_payload(cast(Any, SimpleNamespace(**shown)), cast(Any, SimpleNamespace(**event)))
        outbox.append(
            {
                "event_key": f"evt-{event_id}",
                "invoice_id": row["id"],
                "payload": json.dumps(payload, sort_keys=True),
                "created_at": event["at"],
                "delivered_at": None,
                "attempts": 0,
                "last_error": None,
                "next_attempt_at": None,
            }
        )
    connection.execute(_INSERT_OUTBOX, outbox)
    connection.execute(
        _INSERT_REVISIONS,
        [
            {
                "invoice_id": row["id"],
                "revision": 1,
                "content_hash": row["content_hash"],
                "document": row["document"],
                "received_at": row["created_at"],
            }
            for row in rows
        ],
    )
    connection.execute(_SET_HEADS, heads)
    for row in rows:
        note_transition(
            session,
            {
                "invoice": row["invoice_number"],
                "profile": row["profile_id"],
                "from_state": S.NEW.value,
                "to_state": row["state"],
                "portal_id": None,
                "reason": row["last_reason"],
            },
        )
    return len(rows)


def _verdict(
    prepared: Prepared,
    invoice: Invoice,
    source: str,
    holders: dict[tuple[str, str], _Held],
    taken: dict[tuple[str, str], _Held],
) -> Verdict:
    if prepared.profile is None:
        return Verdict(S.BLOCKED, str(prepared.unrouted), RejectionCategory.CONFIG, {})
    assert prepared.result is not None
    duplicate = None
    if invoice.purpose is not InvoicePurpose.CANCEL:
        key = (prepared.profile.id, invoice.invoice_number)
        holder = holders.get(key) or taken.get(key)
        if holder is not None:
            duplicate = duplicate_number(
                invoice.invoice_number, prepared.record.key, holder, prepared.profile.id
            )
    return decide(prepared.profile, prepared.result, duplicate, "", invoice, None)


def _category(category: RejectionCategory | str | None) -> str | None:
    return str(category) if category is not None else None


def _event(
    invoice_id: int,
    at: datetime,
    actor: str,
    from_state: str | None,
    to_state: str,
    reason: str | None,
    category: str | None = None,
    details: str | None = None,
) -> dict[str, Any]:
    """An event's column values as lifecycle.move writes them (reason and details already redacted)."""
    return {
        "invoice_id": invoice_id,
        "at": at,
        "actor": actor,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "category": category,
        "raw_status": None,
        "details": details,
        "attempt_id": None,
        "dedupe_key": None,
    }
