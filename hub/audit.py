"""The audit trail: who (the daemon and its worker, a user on the CLI, a portal's push) did what to an
invoice and when, in a form that shows tampering.

- The `events` table is append-only: database triggers refuse UPDATE and DELETE (migration 0003).
- Each event carries `seq` (its place in the invoice's history), the hash of the event before it and
  its own hash over its content; the invoice row keeps the newest `seq` and hash (`event_head`).
  `verify` recomputes every chain: an edited event, one removed or inserted in the middle, or one cut
  off the end is reported with the invoice and the first position that does not hold.

Why one chain per invoice rather than one for the whole log: several daemons write events at once on
PostgreSQL, and a single chain would make every write in the hub wait for the one before it. The
invoice row is already written in the same transaction as its event, so its chain costs one hash and
no extra query. What a per-invoice chain cannot show by itself: an invoice removed together with all
of its events. Keep `portalhub audit export` files outside the database for that (each line carries
the hashes, so an export can later be compared with the store).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, insert
from sqlmodel import Session, col, select

from hub.store.tables import EventRow, InvoiceRow

#: The event fields a hash covers, in the order they appear in an export.
CONTENT = (
    "invoice_id",
    "seq",
    "at",
    "actor",
    "from_state",
    "to_state",
    "reason",
    "category",
    "raw_status",
    "details",
    "attempt_id",
    "dedupe_key",
    "prev_hash",
)


def _content(event: EventRow | Row[Any]) -> dict[str, Any]:
    values = {name: getattr(event, name) for name in CONTENT}
    values["at"] = event.at.astimezone(UTC).isoformat()
    return values


def digest(event: EventRow | Row[Any]) -> str:
    """sha256 over the event's content (canonical JSON: sorted keys, instants in UTC)."""
    return _sha256(_content(event))


def _sha256(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(invoice: InvoiceRow, event: EventRow) -> None:
    """Put `event` at the end of `invoice`'s chain; call after the event's content is final. Two writers
    on one invoice at once cannot both take the same place: (invoice_id, seq) is unique."""
    event.seq = invoice.event_seq + 1
    event.prev_hash = invoice.event_head
    event.hash = digest(event)
    invoice.event_seq = event.seq
    invoice.event_head = event.hash


# --- appending many events at once (intake writes a batch of invoices per transaction) -----------------
_EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
#: Built once; with many rows SQLAlchemy sends one multi-row INSERT and returns the ids in row order.
_INSERT_EVENTS = insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True)
#: Every column an event is written with (all but its id).
EVENT_COLUMNS = tuple(c.name for c in _EVENTS.columns if c.name != "id")


def seal_values(events: Sequence[dict[str, Any]], seq: int, head: str | None) -> tuple[int, str | None]:
    """`seal` for events held as plain column values (one invoice's new events, oldest first, after its
    chain's newest `seq` and `head`): each gets its place, the hash before it and its own hash, exactly
    as `seal` gives an EventRow. Returns the invoice's new (event_seq, event_head)."""
    for values in events:
        seq += 1
        values["seq"] = seq
        values["prev_hash"] = head
        head = values["hash"] = digest_values(values)
    return seq, head


def digest_values(values: Mapping[str, Any]) -> str:
    """`digest` of an event held as column values."""
    content = {name: values[name] for name in CONTENT}
    content["at"] = values["at"].astimezone(UTC).isoformat()
    return _sha256(content)


def append_many(connection: Connection, events: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert sealed events (every column of EVENT_COLUMNS) in one statement; their ids, in order.
    The caller's transaction holds them with the invoice rows whose heads they moved."""
    if not events:
        return []
    return list(connection.execute(_INSERT_EVENTS, list(events)).scalars())


def timeline(session: Session, invoice_id: int) -> list[EventRow]:
    return list(
        session.exec(select(EventRow).where(EventRow.invoice_id == invoice_id).order_by(col(EventRow.seq)))
    )


def exported(event: EventRow, invoice_number: str) -> dict[str, Any]:
    """One line of `portalhub audit export`: everything the hash covers, the hash, and the number."""
    return {"id": event.id, "invoice_number": invoice_number, **_content(event), "hash": event.hash}


def events_between(session: Session, since: datetime, until: datetime) -> Iterator[tuple[EventRow, str]]:
    """Events with since <= at < until in the order they were written, streamed (the log can be large)."""
    query = (
        select(EventRow, InvoiceRow.invoice_number)
        .join(InvoiceRow, col(InvoiceRow.id) == col(EventRow.invoice_id))
        .where(col(EventRow.at) >= since, col(EventRow.at) < until)
        .order_by(col(EventRow.id))
        .execution_options(yield_per=2000)
    )
    for event, number in session.exec(query):  # noqa: UP028 (rows become plain tuples)
        yield event, number


@dataclass
class Problem:
    invoice_number: str
    seq: int | None
    why: str


@dataclass
class Verification:
    events: int = 0
    invoices: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> Verification:
    """Walk every invoice's chain, streaming the events in (invoice, seq) order."""
    result = Verification()
    columns = select(InvoiceRow.id, InvoiceRow.invoice_number, InvoiceRow.event_seq, InvoiceRow.event_head)
    heads: dict[int, tuple[str, int, str | None]] = {
        row[0]: (row[1], row[2], row[3]) for row in session.exec(columns) if row[0] is not None
    }
    seen: dict[int, tuple[int, str | None]] = {}  # invoice id -> (last seq, last hash) walked
    broken: set[int] = set()
    # Plain rows (the same attribute names, `at` still an aware datetime), not ORM objects: a store
    # of a million events is walked ~5x faster, and the rows are only read.
    table = EventRow.__table__  # type: ignore[attr-defined]
    query = (
        select(table).order_by(table.c.invoice_id, table.c.seq, table.c.id).execution_options(yield_per=5000)
    )
    for event in session.execute(query):
        result.events += 1
        invoice_id = event.invoice_id
        if invoice_id not in heads:
            if invoice_id not in broken:
                broken.add(invoice_id)
                result.problems.append(Problem(f"invoice id {invoice_id}", event.seq, "events of no invoice"))
            continue
        if invoice_id in broken:
            continue  # the first break of a chain is the one worth reading
        number = heads[invoice_id][0]
        last_seq, last_hash = seen.get(invoice_id, (0, None))
        seq = event.seq or 0  # NULL only if someone blanked it
        why = None
        if seq != last_seq + 1:
            why = f"expected event {last_seq + 1} here, found {event.seq}: an event was removed or inserted"
        elif event.prev_hash != last_hash:
            why = "does not follow the event before it (the one before was changed or replaced)"
        elif event.hash != digest(event):
            why = "its content no longer matches its hash: the event was changed"
        if why is not None:
            broken.add(invoice_id)
            result.problems.append(Problem(number, event.seq, why))
            continue
        seen[invoice_id] = (seq, event.hash)
    for key, (number, head_seq, head_hash) in heads.items():
        if key in broken:
            continue
        last_seq, last_hash = seen.get(key, (0, None))
        if (last_seq, last_hash) != (head_seq, head_hash):
            result.problems.append(
                Problem(
                    number,
                    last_seq + 1,
                    f"the invoice's history ends at event {last_seq}, but event {head_seq} was written: "
                    "events were removed from the end",
                )
            )
    result.invoices = len(heads)
    return result
