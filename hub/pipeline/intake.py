"""Intake: AR records become invoices in the store, routed to a profile and checked before any send.

- A record that is not a valid invoice is quarantined with its reason (and the AR system is told),
  and the others carry on.
- An unchanged record is skipped (content hash). A changed one is a new revision: validated again
  and, if it was rejected or disputed, submitted again as a correction.
- Pre-flight decides READY or BLOCKED; blocked reasons go back to the AR system at once.
- BLOCKED invoices are checked again when their profile's rules change (or a profile appears).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.ar import ArAdapter, ArRecord, ArSource
from hub.lifecycle import CORRECTABLE, move, note, record_creation
from hub.model import Invoice, InvoicePurpose, InvoiceState, RejectionCategory
from hub.pipeline import intake_batch
from hub.pipeline.intake_checks import decide, duplicate_number, routing, run_preflight
from hub.runtime import Hub
from hub.store import work
from hub.store.tables import InvoiceRow, OutboxRow, QuarantineRow, RevisionRow

log = logging.getLogger(__name__)
S = InvoiceState
INGEST_LEASE = "ingest"
#: Records per transaction (sources that take batches): the events, chains, outbox rows and revisions of
#: a batch are written in a few statements; a crash loses at most one uncommitted batch, read again.
BATCH = 200


@dataclass
class IntakeReport:
    counts: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())) or "nothing new"


def ingest(hub: Hub) -> IntakeReport:
    """Read the AR source's ready records (only those changed since the last reads, when the source can
    tell: `ArAdapter.changes`) and take in what is new or changed. One daemon at a time (the `ingest`
    lease): several daemons reading the AR system at once would only race."""
    report = IntakeReport()
    if hub.reload_profiles():
        report.counts["rules-reloaded"] += 1
        report.counts.update(hold_contested(hub))
    with hub.store.session() as session:
        if not work.acquire_lease(
            session, INGEST_LEASE, hub.worker_id, hub.clock.now(), hub.config.daemon.lease_seconds
        ):
            report.counts["skipped: another daemon is ingesting"] += 1
            return report
    try:
        if getattr(hub.ar_source, "batched_intake", False) is True:
            take_in_batches(hub, report)
        else:
            for record in _changes(hub.ar_source):
                _take_one(hub, record, report)
        report.counts.update(revalidate_blocked(hub))
    finally:
        with hub.store.session() as session:
            work.release_lease(session, INGEST_LEASE, hub.worker_id)
    return report


def _take_one(hub: Hub, record: ArRecord, report: IntakeReport) -> None:
    """One record in its own transaction (sources that do not take batches, and a batch's fallback)."""
    try:
        with hub.store.session() as session:
            report.counts[_take(hub, session, record)] += 1
    except IntegrityError:
        # Another daemon inserted the same AR record between our read and our write: it is in.
        report.counts["taken by another daemon"] += 1


def take_in_batches(hub: Hub, report: IntakeReport) -> None:
    """Take in the source's records up to BATCH per transaction (hub/pipeline/intake_batch.py). A record
    is never held past anything irreversible the source does: an adapter calls `settle()` first (the
    files adapter before it moves an export to done/), and that stores every record held. A crash
    loses only the uncommitted batch, which the source still has and yields again."""
    source = hub.ar_source
    held: list[ArRecord] = []
    keys: set[str] = set()

    def settle() -> None:
        if held:
            take_batch(hub, held, report)
            held.clear()
            keys.clear()

    adapter = source if isinstance(source, ArAdapter) else None
    if adapter is not None:
        adapter.on_settle = settle
    try:
        for record in _changes(source):
            if record.key in keys:  # the same record twice: the second sees the first stored
                settle()
            held.append(record)
            keys.add(record.key)
            if len(held) >= BATCH:
                settle()
        settle()
    finally:
        if adapter is not None:
            adapter.on_settle = None


def _changes(source: ArSource) -> Iterator[ArRecord]:
    """What this tick reads: an adapter's changes (all it has, unless it can tell what changed); a
    plain source's every ready record."""
    return source.changes() if isinstance(source, ArAdapter) else source.pull()


def take_batch(hub: Hub, records: list[ArRecord], report: IntakeReport) -> None:
    """Records with distinct keys in one transaction: new ones written together
    (hub/pipeline/intake_batch.py), a changed or quarantined one as alone. If another daemon inserted
    one of them meanwhile, the batch is rolled back and each record is taken on its own."""
    source = hub.ar_source.name
    prepared = [intake_batch.Prepared.of(record) for record in records]  # JSON and hashes: no store
    readable = [p.record.key for p in prepared if p.record.invoice is not None]
    with hub.store.session() as session:
        known = intake_batch.known_digests(session, source, readable)
    fresh = [p for p in prepared if p.record.invoice is not None and p.record.key not in known]
    now = hub.clock.now()
    for item in fresh:
        item.assess(hub, now)  # routing and pre-flight, outside the transaction
    counts: Counter[str] = Counter()
    try:
        with hub.store.session() as session:
            intake_batch.resolve_quarantines(session, source, readable, hub.clock.now())
            for item in prepared:
                record = item.record
                if record.invoice is None:
                    counts[_quarantine(session, source, record, hub.clock.now())] += 1
                elif record.key in known:
                    # unchanged (the common case: the AR system lists what it listed before), or a
                    # correction, taken as alone
                    counts[
                        "unchanged" if known[record.key] == item.digest else _take(hub, session, record)
                    ] += 1
            counts["new"] += intake_batch.insert_new(hub, session, fresh)
    except IntegrityError:
        for record in records:
            _take_one(hub, record, report)
        return
    report.counts.update(+counts)


def take(hub: Hub, session: Session, record: ArRecord) -> str:
    """Take in one AR record as `ingest` does (new, unchanged, corrected, quarantined...); returns what
    happened. `portalhub resubmit` uses it to re-read one invoice the same way the daemon would."""
    return _take(hub, session, record)


#: The invoice an AR record became, if any (built once, executed with parameters).
_BY_AR_KEY = select(InvoiceRow).where(
    col(InvoiceRow.source) == bindparam("source"), col(InvoiceRow.ar_key) == bindparam("key")
)


def _take(hub: Hub, session: Session, record: ArRecord) -> str:
    source = hub.ar_source.name
    now = hub.clock.now()
    if record.invoice is None:
        return _quarantine(session, source, record, now)
    invoice = record.invoice
    document = invoice.model_dump_json()
    digest = hashlib.sha256(document.encode()).hexdigest()  # Invoice.content_hash, from the same JSON
    row = session.exec(_BY_AR_KEY, params={"source": source, "key": record.key}).first()
    _resolve_quarantine(session, source, record.key, now)
    if row is None:
        row = InvoiceRow(
            source=source,
            ar_key=record.key,
            invoice_number=invoice.invoice_number,
            original_invoice_number=invoice.original_invoice_number,
            customer_id=invoice.customer_id,
            purpose=invoice.purpose.value,
            currency=invoice.currency,
            total=invoice.total,
            invoice_date=invoice.invoice_date,
            state=S.NEW.value,
            revision=1,
            content_hash=digest,
            document=document,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        session.add(
            RevisionRow(
                invoice_id=row.id, revision=1, content_hash=digest, document=row.document, received_at=now
            )
        )
        record_creation(
            session, row, actor=f"ar:{source}", reason=f"received from the AR system (record {record.key})"
        )
        validate(hub, session, row, invoice)
        return "new"
    if row.content_hash == digest:
        return "unchanged"
    if InvoiceState(row.state) not in CORRECTABLE:
        note(
            session,
            row,
            actor=f"ar:{source}",
            now=now,
            reason=f"the AR record changed after submission (state {row.state}); the change was not sent. "
            "Use `portalhub resubmit` if the portal must get a correction.",
            dedupe_key=f"ar-change:{row.id}:{digest}",
        )
        return "changed-after-submission"
    row.revision += 1
    row.content_hash = digest
    row.document = document
    row.invoice_number = invoice.invoice_number
    row.original_invoice_number = invoice.original_invoice_number
    row.customer_id = invoice.customer_id
    row.total = invoice.total
    row.invoice_date = invoice.invoice_date
    row.purpose = invoice.purpose.value
    row.currency = invoice.currency
    row.transient_failures = 0
    row.next_attempt_at = None
    assert row.id is not None
    session.add(
        RevisionRow(
            invoice_id=row.id,
            revision=row.revision,
            content_hash=digest,
            document=row.document,
            received_at=now,
        )
    )
    validate(hub, session, row, invoice, corrected=True)
    return "corrected"


def validate(hub: Hub, session: Session, row: InvoiceRow, invoice: Invoice, corrected: bool = False) -> None:
    """Route and pre-flight one invoice; move it to READY or BLOCKED with the reasons."""
    now = hub.clock.now()
    prefix = f"corrected invoice (revision {row.revision}): " if corrected else ""
    profile, unrouted = routing(hub, invoice)
    if profile is None:
        row.profile_id = None
        row.rules_fingerprint = None
        move(
            session,
            row,
            S.BLOCKED,
            actor=hub.actor,
            now=now,
            category=RejectionCategory.CONFIG,
            reason=prefix + str(unrouted),
        )
        return
    previous_state = InvoiceState(row.state)
    row.profile_id = profile.id
    row.rules_fingerprint = profile.fingerprint
    if (
        corrected
        and previous_state is S.DISPUTED
        and hub.registry.get(profile.connector).renumber_after_dispute
    ):
        row.portal_invoice_number = _next_number(session, row)
    result = run_preflight(hub, invoice, profile, now, row.portal_invoice_number)
    holder = number_holder(session, row)
    duplicate = (
        duplicate_number(row.portal_invoice_number or row.invoice_number, row.ar_key, holder, profile.id)
        if holder is not None
        else None
    )
    verdict = decide(profile, result, duplicate, prefix, invoice, row.portal_invoice_number)
    move(
        session,
        row,
        verdict.state,
        actor=hub.actor,
        now=now,
        reason=verdict.reason,
        category=verdict.category,
        details=verdict.details,
    )


def number_holder(session: Session, row: InvoiceRow) -> InvoiceRow | None:
    """Another, earlier AR record holding the number this one would be sent under, for the same portal
    profile (the portal refuses a number it holds for the supplier, and the two records would write
    over each other's status). A cancelled invoice no longer holds its number; a cancel names the
    invoice it withdraws by that invoice's number, so it neither holds a number nor is held back."""
    cancel = InvoicePurpose.CANCEL.value
    if row.profile_id is None or row.purpose == cancel:
        return None
    number = row.portal_invoice_number or row.invoice_number
    params = {"profile_id": row.profile_id, "row_id": row.id, "number": number}
    for query in _holder_queries(row.id is not None):
        holder = session.exec(query, params=params).first()
        if holder is not None:
            return holder
    return None


_HOLDER_QUERIES: dict[bool, tuple[Any, Any]] = {}


def _holder_queries(saved: bool) -> tuple[Any, Any]:
    """number_holder's two SELECTs (by portal number, then by AR number where no portal number was
    given), built once per process with bound parameters: building them cost more than running them."""
    if saved in _HOLDER_QUERIES:
        return _HOLDER_QUERIES[saved]
    cancel = InvoicePurpose.CANCEL.value
    base = select(InvoiceRow).where(
        col(InvoiceRow.profile_id) == bindparam("profile_id"),
        col(InvoiceRow.state) != S.CANCELLED.value,
        col(InvoiceRow.purpose) != cancel,
    )
    if saved:
        # the record taken in first keeps the number
        base = base.where(col(InvoiceRow.id) < bindparam("row_id"))
    number: Any = bindparam("number")
    queries = tuple(
        base.where(same).order_by(col(InvoiceRow.id))
        for same in (
            col(InvoiceRow.portal_invoice_number) == number,
            (col(InvoiceRow.invoice_number) == number) & col(InvoiceRow.portal_invoice_number).is_(None),
        )
    )
    _HOLDER_QUERIES[saved] = (queries[0], queries[1])
    return _HOLDER_QUERIES[saved]


def _next_number(session: Session, row: InvoiceRow) -> str:
    """A new portal number for a correction the portal would refuse under the old one (`-R1`, `-R2`, ...)."""
    base = json.loads(row.document)["invoice_number"]
    current = row.portal_invoice_number or base
    suffix = current.removeprefix(base)
    n = int(suffix.removeprefix("-R")) + 1 if suffix.startswith("-R") and suffix[2:].isdigit() else 1
    return f"{base}-R{n}"


def hold_contested(hub: Hub) -> Counter[str]:
    """READY invoices of a customer two profiles now claim wait (BLOCKED with the reason) until a person
    decides which profile takes the customer; they are checked again when the files change."""
    counts: Counter[str] = Counter()
    if not hub.contested:
        return counts
    with hub.store.session() as session:
        for row in session.exec(
            select(InvoiceRow).where(
                col(InvoiceRow.state) == S.READY.value,
                col(InvoiceRow.customer_id).in_(sorted(hub.contested)),
                or_(
                    col(InvoiceRow.lease_expires_at).is_(None),
                    col(InvoiceRow.lease_expires_at) < hub.clock.now(),
                ),
            )
        ).all():
            validate(hub, session, row, Invoice.model_validate_json(row.document))
            counts["held: contested customer"] += 1
    return counts


def revalidate_blocked(hub: Hub) -> Counter[str]:
    """BLOCKED invoices whose profile's rules changed (or that now have a profile) are checked again."""
    counts: Counter[str] = Counter()
    with hub.store.session() as session:
        # It runs on every ingest tick: the blocked invoices' routing columns are compared first, and
        # only those whose rules changed are loaded and parsed (not every blocked document, every tick).
        blocked = session.exec(
            select(InvoiceRow.id, InvoiceRow.customer_id, InvoiceRow.profile_id, InvoiceRow.rules_fingerprint)
            .where(col(InvoiceRow.state) == S.BLOCKED.value)
            .order_by(col(InvoiceRow.id))
        ).all()
        duplicates = set(
            session.exec(
                select(InvoiceRow.id).where(
                    col(InvoiceRow.state) == S.BLOCKED.value,
                    col(InvoiceRow.last_category) == RejectionCategory.DUPLICATE.value,
                )
            ).all()
        )
        for invoice_id, customer_id, profile_id, fingerprint in blocked:
            profile = hub.route(customer_id)
            current = profile.fingerprint if profile else None
            # A record blocked for a number another record holds is checked again once that one
            # no longer holds it (cancelled, renumbered): only then.
            duplicate = invoice_id in duplicates
            if current == fingerprint and (profile.id if profile else None) == profile_id and not duplicate:
                continue
            row = session.get(InvoiceRow, invoice_id)
            if row is None or row.state != S.BLOCKED.value:
                continue
            if current == fingerprint and duplicate and number_holder(session, row) is not None:
                continue
            validate(hub, session, row, Invoice.model_validate_json(row.document))
            counts["revalidated"] += 1
    return counts


def _quarantine(session: Session, source: str, record: ArRecord, now: datetime) -> str:
    digest = _hash(record.raw)
    existing = session.exec(
        select(QuarantineRow).where(
            QuarantineRow.source == source,
            QuarantineRow.ar_key == record.key,
            QuarantineRow.content_hash == digest,
        )
    ).first()
    if existing is not None:
        existing.last_seen = now
        session.add(existing)
        return "quarantined-again"
    row = QuarantineRow(
        source=source,
        ar_key=record.key,
        invoice_number=record.invoice_number,
        reason=record.error or "not an invoice",
        record=json.dumps(record.raw, sort_keys=True, default=str),
        content_hash=digest,
        first_seen=now,
        last_seen=now,
    )
    session.add(row)
    session.flush()
    log.warning("quarantined AR record %s (%s): %s", record.key, record.invoice_number, row.reason)
    session.add(
        OutboxRow(
            event_key=f"quarantine-{row.id}",
            payload=json.dumps(
                {
                    "event_id": f"quarantine-{row.id}",
                    "source": source,
                    "ar_key": record.key,
                    "invoice_number": record.invoice_number or f"(record {record.key})",
                    "state": "QUARANTINED",
                    "previous_state": None,
                    "reason": f"not sent: the AR record is not a valid invoice: {row.reason}",
                    "category": RejectionCategory.MISSING_FIELD.value,
                    "raw_status": None,
                    "portal_invoice_id": None,
                    "at": now.isoformat(),
                },
                sort_keys=True,
            ),
            created_at=now,
        )
    )
    return "quarantined"


_QUARANTINE = QuarantineRow.__table__  # type: ignore[attr-defined]
#: Built once (see _holder_queries); one UPDATE instead of loading the rows to change one column.
_RESOLVE_QUARANTINE = (
    update(_QUARANTINE)
    .where(
        _QUARANTINE.c.source == bindparam("in_source"),
        _QUARANTINE.c.ar_key == bindparam("key"),
        _QUARANTINE.c.resolved_at.is_(None),
    )
    .values(resolved_at=bindparam("now"))
)


def _resolve_quarantine(session: Session, source: str, key: str, now: datetime) -> None:
    """A record that now reads well resolves its earlier quarantine entries (none pending in this
    session: a record is taken in its own transaction, and a quarantined one returns before this)."""
    session.connection().execute(_RESOLVE_QUARANTINE, {"in_source": source, "key": key, "now": now})


def _hash(raw: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
