"""A big, realistic hub store for the benchmarks (bench/store_size.py): N invoices with the history
the hub itself would have written, in bulk.

Each invoice gets a story, the events the hub records for it (hash-chained as hub/audit.py seals
them), its revisions, its sends (attempts with the rendered cXML and the portal's answer) and one
feedback-outbox row per event (delivered). Invoices are created over 60 days; each story is cut at
`now`, so an invoice of the last four days is still pending approval or approved at the portal and
older ones are paid (5% of them after a refusal and a correction); 5% of all are open problems
(rejected twice, disputed, blocked by pre-flight) at every age. A few invoices have a long history
(a dispute argued back and forth: ~60 events), for `portalhub show`. Events are written in time order
across invoices, as a running hub writes them, so one invoice's events are spread through the table.

Rows are generated as dicts and written with executemany-style INSERTs in batches (`insert(Table)`
with a list), never one ORM object at a time.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from hub.audit import digest
from hub.model import InvoiceState
from hub.store.tables import AttemptRow, EventRow, InvoiceRow, OutboxRow, RevisionRow

S = InvoiceState
#: Bump when the generated content changes: cached stores built by an older version are not reused.
VERSION = 3
PROFILES = 3  # buyer0-coupa .. buyer2-coupa (bench/scenario.py), customer C-<n % 3>
SPAN = timedelta(days=60)  # invoices created over this long, the newest a few minutes ago
LONG_EVERY = 10_000  # every so many invoices, one with a long history
LONG_ROUNDS = 12  # disputes and corrections in such a history (~5 events each)


@dataclass(frozen=True)
class Templates:
    """Real documents of one invoice, with NUMBER and CUSTOMER where each row puts its own."""

    document: str  # canonical invoice JSON
    request: str  # the cXML sent, secrets redacted
    response: str  # the portal's cXML answer
    fingerprint: dict[str, str]  # profile id -> rules fingerprint of the BLOCKED invoices
    number: str = "TEMPLATE-NUMBER-0"
    customer: str = "C-TEMPLATE"

    def fill(self, template: str, number: str, customer: str) -> str:
        return template.replace(self.number, number).replace(self.customer, customer)


class Later(Exception):
    """The story's next event is after `now`: the hub has not written it yet."""


@dataclass
class Story:
    """One invoice's history as the hub records it, up to `now`."""

    now: datetime
    invoice_id: int
    profile: str
    number: str
    events: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    head: str | None = None
    state: str = S.NEW.value
    reason: str | None = None
    category: str | None = None
    raw_status: str | None = None

    def event(
        self,
        at: datetime,
        to: InvoiceState,
        reason: str,
        *,
        actor: str = "daemon:hub-1:4242:a1b2c3",
        category: str | None = None,
        raw_status: str | None = None,
        details: dict[str, Any] | None = None,
        attempt_id: int | None = None,
        dedupe_key: str | None = None,
    ) -> None:
        if at > self.now:
            raise Later
        self.seq += 1
        values = {
            "invoice_id": self.invoice_id,
            "seq": self.seq,
            "at": at,
            "actor": actor,
            "from_state": self.state if self.seq > 1 else None,
            "to_state": to.value,
            "reason": reason,
            "category": category,
            "raw_status": raw_status,
            "details": json.dumps(details, sort_keys=True) if details else None,
            "attempt_id": attempt_id,
            "dedupe_key": dedupe_key,
            "prev_hash": self.head,
        }
        values["hash"] = digest(SimpleNamespace(**values))  # type: ignore[arg-type]
        self.head = values["hash"]
        self.events.append(values)
        if to.value != self.state and self.seq > 1:
            self.reason, self.category = reason, category
        if raw_status is not None:
            self.raw_status = raw_status
        self.state = to.value


class Generator:
    def __init__(self, invoices: int, templates: Templates, now: datetime):
        self.invoices = invoices
        self.t = templates
        self.now = now
        self.attempt_ids = iter(range(1, 10 * invoices))
        self.revision_ids = iter(range(1, 10 * invoices))

    def batches(self, size: int = 100_000) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """Rows to insert, in an order the foreign keys accept: each batch's invoices, revisions and
        attempts before its events (and the events' outbox rows)."""
        pending: list[tuple[datetime, int, dict[str, Any]]] = []  # events by time, across invoices
        batch = self._empty()
        event_id = 0
        for n in range(1, self.invoices + 1):
            created = self.now - SPAN + SPAN * (n / self.invoices) - timedelta(minutes=10)
            story, invoice, revisions = self._invoice(n, created)
            batch["invoices"].append(invoice)
            batch["revisions"].extend(revisions)
            batch["attempts"].extend(story.attempts)
            for event in story.events:
                heapq.heappush(pending, (event["at"], event["invoice_id"] * 1000 + event["seq"], event))
            while pending and pending[0][0] <= created:
                event_id += 1
                self._emit(batch, heapq.heappop(pending)[2], event_id)
            if len(batch["events"]) >= size:
                yield batch
                batch = self._empty()
        while pending:
            event_id += 1
            self._emit(batch, heapq.heappop(pending)[2], event_id)
        yield batch

    @staticmethod
    def _empty() -> dict[str, list[dict[str, Any]]]:
        return {"invoices": [], "revisions": [], "attempts": [], "events": [], "outbox": []}

    def _emit(self, batch: dict[str, list[dict[str, Any]]], event: dict[str, Any], event_id: int) -> None:
        event["id"] = event_id
        batch["events"].append(event)
        payload = {
            "event_id": f"evt-{event_id}",
            "state": event["to_state"],
            "previous_state": event["from_state"],
            "reason": event["reason"],
            "category": event["category"],
            "raw_status": event["raw_status"],
            "at": event["at"].isoformat(),
        }
        batch["outbox"].append(
            {
                "id": event_id,
                "event_key": f"evt-{event_id}",
                "invoice_id": event["invoice_id"],
                "payload": json.dumps(payload, sort_keys=True),
                "created_at": event["at"],
                "delivered_at": event["at"] + timedelta(seconds=1),
                "attempts": 1,
            }
        )

    def _invoice(self, n: int, created: datetime) -> tuple[Story, dict[str, Any], list[dict[str, Any]]]:
        customer = f"C-{n % PROFILES}"
        profile = f"buyer{n % PROFILES}-coupa"
        number = f"B-{n:06d}"
        story = Story(self.now, n, profile, number)
        story.event(created, S.NEW, f"received from the AR system (record {n})", actor="ar:demo-ar")
        kind = n % 100
        try:
            if n % LONG_EVERY == 1:
                self._long(story, created)
            elif kind == 0:
                self._blocked(story, created)
            elif kind in (1, 2):
                self._rejected(story, created)
            elif kind in (3, 4):
                self._disputed(story, created)
            elif kind in (5, 6, 7, 8, 9):
                self._paid_after_refusal(story, created)
            else:
                self._sent(story, created)
        except Later:
            pass  # a young invoice: its story goes on after now
        revision = max((a["revision"] for a in story.attempts), default=1)
        document = self.t.fill(self.t.document, number, customer)
        revisions = [
            {
                "id": next(self.revision_ids),
                "invoice_id": n,
                "revision": r,
                "content_hash": f"{n:056d}{r:08d}",
                "document": document,
                "received_at": created + timedelta(days=r - 1),
            }
            for r in range(1, revision + 1)
        ]
        last = story.events[-1]
        invoice = {
            "id": n,
            "source": "demo-ar",
            "ar_key": str(n),
            "invoice_number": number,
            "customer_id": customer,
            "profile_id": profile,
            "purpose": "invoice",
            "currency": "USD",
            "total": Decimal("1250.00") + n % 1000,
            "invoice_date": created.date(),
            "state": story.state,
            "revision": revision,
            "content_hash": f"{n:056d}{revision:08d}",
            "document": document,
            "portal_invoice_id": str(n) if story.attempts and story.state != S.REJECTED.value else None,
            "portal_status_raw": story.raw_status,
            "portal_updated_at": last["at"] if story.raw_status else None,
            "last_reason": story.reason,
            "last_category": story.category,
            "rules_fingerprint": self.t.fingerprint[profile],
            "transient_failures": 0,
            "created_at": created,
            "updated_at": last["at"],
            "event_seq": story.seq,
            "event_head": story.head,
        }
        return story, invoice, revisions

    # --- the stories ------------------------------------------------------------------------------------
    def _passed(self, story: Story, at: datetime, revision: int = 1) -> None:
        details = {
            "profile": story.profile,
            "rules_version": "1",
            "rules_effective_from": None,
            "rules_fingerprint": self.t.fingerprint[story.profile],
            "rules_sources": [f"rules.d/{story.profile}.yaml", "rules/baselines/coupa-baseline.yaml"],
            "violations": [],
        }
        prefix = f"corrected invoice (revision {revision}): " if revision > 1 else ""
        story.event(at, S.READY, prefix + f"passed pre-flight for {story.profile}", details=details)

    def _send(self, story: Story, at: datetime, outcome: str, revision: int = 1) -> int:
        attempt_id = next(self.attempt_ids)
        payload_id = f"{at.timestamp():.0f}.{story.invoice_id}.{attempt_id}@portalhub.bench"
        story.event(at, S.SUBMITTING, f"sending to {story.profile} as {payload_id}", attempt_id=attempt_id)
        refused = outcome == "rejected"
        story.attempts.append(
            {
                "id": attempt_id,
                "invoice_id": story.invoice_id,
                "revision": revision,
                "payload_id": payload_id,
                "profile_id": story.profile,
                "connector": "coupa",
                "portal_invoice_number": story.number,
                "worker_id": "hub-1:4242:a1b2c3",
                "outcome": outcome,
                "started_at": at,
                "finished_at": at + timedelta(milliseconds=180),
                "duration_ms": 180,
                "http_status": 503 if outcome == "transient" else 200,
                "portal_code": "500" if refused else ("200" if outcome == "accepted" else None),
                "portal_text": "PO number PO-9 was not found for this supplier." if refused else None,
                "error": "HTTP 503 Service Unavailable" if outcome == "transient" else None,
                "request_document": self.t.fill(self.t.request, story.number, f"C-{story.invoice_id % 3}"),
                "response_document": self.t.response if outcome != "transient" else None,
            }
        )
        return attempt_id

    def _accepted(self, story: Story, at: datetime, revision: int = 1) -> None:
        attempt = self._send(story, at, "accepted", revision)
        story.event(
            at + timedelta(seconds=1),
            S.SUBMITTED,
            f"accepted by {story.profile}: 200 OK Successful - invoice id: {story.invoice_id}",
            attempt_id=attempt,
        )

    def _portal(
        self, story: Story, at: datetime, to: InvoiceState, raw: str, reason: str | None = None
    ) -> None:
        update = {
            "portal_invoice_id": str(story.invoice_id),
            "invoice_number": story.number,
            "payload_id": None,
            "state": to.value,
            "raw_status": raw,
            "reason": reason,
            "category": "disputed" if to is S.DISPUTED else None,
            "occurred_at": at.isoformat(),
            "paid_amount": "1250.00" if to is S.PAID else None,
        }
        words = f"portal status {raw!r}" + (f": {reason}" if reason else "")
        story.event(
            at,
            to,
            words,
            actor=f"portal:{story.profile}",
            category=update["category"],
            raw_status=raw,
            details={"update": update},
            dedupe_key=f"{story.profile}|{story.invoice_id}|{raw}|{at.isoformat()}|{story.seq}",
        )

    def _sent(self, story: Story, created: datetime) -> None:
        self._passed(story, created + timedelta(seconds=2))
        at = created + timedelta(minutes=2)
        if story.invoice_id % 5:  # four in five needed a second try (a 503)
            self._send(story, at, "transient")
            story.event(at, S.READY, "Coupa answered HTTP 503: trying again", category="transient")
            at += timedelta(minutes=1)
        self._accepted(story, at)
        self._portal(story, at + timedelta(hours=1), S.PENDING_APPROVAL, "pending_approval")
        self._portal(story, at + timedelta(hours=20), S.APPROVED, "approved")
        story.event(
            at + timedelta(days=3),
            S.APPROVED,
            "portal status 'payment_scheduled' kept as a note (no mapping)",
            actor=f"portal:{story.profile}",
            raw_status="payment_scheduled",
        )
        self._portal(story, at + timedelta(days=4), S.PAID, "paid")
        story.event(
            at + timedelta(days=4, minutes=5), S.PAID, "remittance advice received", actor="ar:demo-ar"
        )

    def _blocked(self, story: Story, created: datetime) -> None:
        violation = {
            "rule_id": "acme-po-format",
            "source": f"rules.d/{story.profile}.yaml:14",
            "field": "po_number",
            "value": "4500-17",
            "expected": "^PO-\\d{6}$",
            "message": "ACME PO numbers look like PO-123456",
            "hint": "Ask the buyer for the PO number (PO- and six digits) and correct it in AR.",
            "severity": "error",
            "category": "po",
        }
        details = {"profile": story.profile, "violations": [violation]}
        reason = "[acme-po-format] po_number '4500-17': ACME PO numbers look like PO-123456"
        story.event(created + timedelta(seconds=2), S.BLOCKED, reason, category="po", details=details)
        story.event(created + timedelta(days=1), S.BLOCKED, reason, category="po", details=details)

    def _rejected(self, story: Story, created: datetime) -> None:
        self._passed(story, created + timedelta(seconds=2))
        self._refused(story, created + timedelta(minutes=2), 1)
        self._passed(story, created + timedelta(days=1), 2)
        self._refused(story, created + timedelta(days=1, minutes=2), 2)

    def _refused(self, story: Story, at: datetime, revision: int) -> None:
        attempt = self._send(story, at, "rejected", revision)
        story.event(
            at + timedelta(seconds=1),
            S.REJECTED,
            "500 Server could not create invoice. PO number PO-9 was not found for this supplier.",
            category="po",
            attempt_id=attempt,
        )

    def _disputed(self, story: Story, created: datetime) -> None:
        self._passed(story, created + timedelta(seconds=2))
        self._accepted(story, created + timedelta(minutes=2))
        self._portal(story, created + timedelta(hours=1), S.PENDING_APPROVAL, "pending_approval")
        self._portal(
            story,
            created + timedelta(days=2),
            S.DISPUTED,
            "disputed",
            "INCORRECT-PRICE Line 1: unit price 13.10 is above the PO price 12.50.",
        )

    def _paid_after_refusal(self, story: Story, created: datetime) -> None:
        self._passed(story, created + timedelta(seconds=2))
        self._refused(story, created + timedelta(minutes=2), 1)
        self._passed(story, created + timedelta(hours=6), 2)
        at = created + timedelta(hours=6, minutes=1)
        self._accepted(story, at, 2)
        self._portal(story, at + timedelta(hours=1), S.PENDING_APPROVAL, "pending_approval")
        self._portal(story, at + timedelta(hours=20), S.APPROVED, "approved")
        self._portal(story, at + timedelta(days=4), S.PAID, "paid")

    def _long(self, story: Story, created: datetime) -> None:
        """A dispute argued for weeks: sent, disputed, corrected, sent again, ... disputed at the end."""
        self._passed(story, created + timedelta(seconds=2))
        at = created + timedelta(minutes=2)
        for round_ in range(1, LONG_ROUNDS + 1):
            self._accepted(story, at, round_)
            self._portal(story, at + timedelta(hours=1), S.PENDING_APPROVAL, "pending_approval")
            self._portal(
                story, at + timedelta(hours=30), S.DISPUTED, "disputed", f"Round {round_}: quantity differs."
            )
            if round_ < LONG_ROUNDS:
                self._passed(story, at + timedelta(hours=40), round_ + 1)
            at += timedelta(hours=48)


def write(engine: Engine, batches: Iterator[dict[str, list[dict[str, Any]]]]) -> dict[str, int]:
    """Insert the batches (each in one transaction); returns the rows written per table."""
    tables = {
        "invoices": InvoiceRow,
        "revisions": RevisionRow,
        "attempts": AttemptRow,
        "events": EventRow,
        "outbox": OutboxRow,
    }
    counts = dict.fromkeys(tables, 0)
    for batch in batches:
        with engine.begin() as connection:
            for name, table in tables.items():
                rows = batch[name]
                for start in range(0, len(rows), 20_000):
                    connection.execute(insert(table), rows[start : start + 20_000])
                counts[name] += len(rows)
    if engine.dialect.name == "postgresql":  # explicit ids were given: move the sequences past them
        with engine.begin() as connection:
            for name in ("invoices", "invoice_revisions", "attempts", "events", "feedback_outbox"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {name}))"
                    )
                )
    return counts
