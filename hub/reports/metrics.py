"""The numbers of a period report, computed from the store's event log and attempts (nothing else).

- First-pass acceptance, per portal profile and per customer: of the invoices first sent in the
  period, how many the portal accepted without ever rejecting or disputing them (as of the end of the
  period). Invoices with no decision yet are counted apart, not as failures.
- Problems by category: every move into BLOCKED (caught by pre-flight) or REJECTED / DISPUTED (caught
  by the portal) in the period; a dispute counts as "disputed by buyer". Blocks for the hub's own
  configuration (no profile, broken rules file) are listed but left out of the pre-flight share: they
  say nothing about how well the rules catch what buyers refuse.
- Median days from the invoice date to the first accepted send, to approval and to payment (the
  portal's own instants where it gave them), over the invoices first sent in the period.
- Amount outstanding at the end of the period (neither paid nor cancelled), by state and by age
  (days since the invoice date), per currency, as the event log says the invoices stood then.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from hub.model import InvoiceState, RejectionCategory
from hub.store.tables import AttemptRow, EventRow, InvoiceRow
from hub.worklist import CATEGORY_LABELS

if TYPE_CHECKING:
    from hub.runtime import Hub

S = InvoiceState
PROBLEMS = (S.BLOCKED.value, S.REJECTED.value, S.DISPUTED.value)
CLOSED = (S.PAID.value, S.CANCELLED.value)
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30 days", 0, 30),
    ("31-60 days", 31, 60),
    ("61-90 days", 61, 90),
    ("over 90 days", 91, None),
)
MILESTONES = ("submission", "approval", "payment")


@dataclass
class Acceptance:
    """First-pass acceptance of one portal profile or customer."""

    key: str
    sent: int = 0
    first_pass: int = 0  # accepted, never rejected nor disputed
    refused: int = 0  # rejected or disputed at least once
    undecided: int = 0  # no decision from the portal yet

    @property
    def rate(self) -> float | None:
        decided = self.first_pass + self.refused
        return self.first_pass / decided if decided else None


@dataclass
class CategoryCount:
    category: str
    preflight: int = 0
    portal: int = 0

    @property
    def label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)


@dataclass
class CycleTime:
    milestone: str  # submission | approval | payment
    median_days: float | None
    invoices: int


@dataclass
class Outstanding:
    state: str
    bucket: str
    currency: str
    amount: Decimal = Decimal(0)
    invoices: int = 0


@dataclass
class Report:
    since: datetime
    until: datetime
    generated_at: datetime
    by_portal: list[Acceptance] = field(default_factory=list)
    by_customer: list[Acceptance] = field(default_factory=list)
    categories: list[CategoryCount] = field(default_factory=list)
    cycle_times: list[CycleTime] = field(default_factory=list)
    outstanding: list[Outstanding] = field(default_factory=list)

    @property
    def caught_by_preflight(self) -> int:
        return sum(c.preflight for c in self.categories if c.category != RejectionCategory.CONFIG.value)

    @property
    def caught_by_portal(self) -> int:
        return sum(c.portal for c in self.categories)

    @property
    def preflight_share(self) -> float | None:
        total = self.caught_by_preflight + self.caught_by_portal
        return self.caught_by_preflight / total if total else None

    def outstanding_totals(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for item in self.outstanding:
            totals[item.currency] = totals.get(item.currency, Decimal(0)) + item.amount
        return dict(sorted(totals.items()))


def build_report(hub: Hub, since: datetime, until: datetime) -> Report:
    """Compute the report of [since, until) from the store."""
    report = Report(since=since, until=until, generated_at=hub.clock.now())
    with hub.store.session() as session:
        invoices = {row.id: row for row in session.exec(select(InvoiceRow))}
        events: dict[int, list[EventRow]] = {}
        for event in session.exec(
            select(EventRow).where(col(EventRow.at) < until).order_by(col(EventRow.id))
        ):
            events.setdefault(event.invoice_id, []).append(event)
        attempts: dict[int, list[AttemptRow]] = {}
        for attempt in session.exec(
            select(AttemptRow).where(col(AttemptRow.started_at) < until).order_by(col(AttemptRow.id))
        ):
            if not attempt.outcome.startswith("cancel"):  # a withdrawal is not a send of the invoice
                attempts.setdefault(attempt.invoice_id, []).append(attempt)
    portals: dict[str, Acceptance] = {}
    customers: dict[str, Acceptance] = {}
    durations: dict[str, list[float]] = {m: [] for m in MILESTONES}
    for invoice_id, sends in attempts.items():
        invoice = invoices.get(invoice_id)
        first = sends[0]
        if invoice is None or not since <= first.started_at < until:
            continue
        history = events.get(invoice_id, [])
        refused = any(
            e.to_state in (S.REJECTED.value, S.DISPUTED.value) and e.from_state != e.to_state for e in history
        )
        accepted = [a for a in sends if a.outcome in ("accepted", "found")]
        for bucket, key in ((portals, first.profile_id), (customers, invoice.customer_id)):
            entry = bucket.setdefault(key, Acceptance(key))
            entry.sent += 1
            if refused:
                entry.refused += 1
            elif accepted:
                entry.first_pass += 1
            else:
                entry.undecided += 1
        start = datetime.combine(invoice.invoice_date, time(0), tzinfo=UTC)
        if accepted:
            durations["submission"].append(_days(start, accepted[0].finished_at or accepted[0].started_at))
        approved = _first_instant(history, S.APPROVED.value)
        if approved is not None:
            durations["approval"].append(_days(start, approved))
        paid = _first_instant(history, S.PAID.value, payment=True)
        if paid is not None:
            durations["payment"].append(_days(start, paid))
    report.by_portal = sorted(portals.values(), key=lambda a: a.key)
    report.by_customer = sorted(customers.values(), key=lambda a: a.key)
    report.cycle_times = [
        CycleTime(m, round(statistics.median(d), 1) if d else None, len(d)) for m, d in durations.items()
    ]
    report.categories = _categories(events, since, until)
    report.outstanding = _outstanding(invoices, events, until)
    return report


def _days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400


def _first_instant(history: list[EventRow], state: str, payment: bool = False) -> datetime | None:
    """When the invoice first reached `state`: the portal's instant (or payment date) when it gave one."""
    for event in history:
        if event.to_state != state:
            continue
        update: dict[str, Any] = json.loads(event.details).get("update") or {} if event.details else {}
        if payment and update.get("payment_date"):
            return datetime.combine(date.fromisoformat(update["payment_date"]), time(0), tzinfo=UTC)
        if update.get("occurred_at"):
            return datetime.fromisoformat(update["occurred_at"].replace("Z", "+00:00"))
        return event.at
    return None


def _categories(events: dict[int, list[EventRow]], since: datetime, until: datetime) -> list[CategoryCount]:
    preflight: Counter[str] = Counter()
    portal: Counter[str] = Counter()
    for history in events.values():
        for event in history:
            if event.to_state not in PROBLEMS or event.from_state == event.to_state or event.at < since:
                continue
            if event.to_state == S.BLOCKED.value:
                preflight[event.category or RejectionCategory.OTHER.value] += 1
            elif event.to_state == S.DISPUTED.value:
                portal[RejectionCategory.DISPUTED.value] += 1
            else:
                portal[event.category or RejectionCategory.OTHER.value] += 1
    order = list(CATEGORY_LABELS)
    names = sorted(set(preflight) | set(portal), key=lambda c: order.index(c) if c in order else len(order))
    return [CategoryCount(name, preflight[name], portal[name]) for name in names]


def _outstanding(
    invoices: dict[int | None, InvoiceRow], events: dict[int, list[EventRow]], until: datetime
) -> list[Outstanding]:
    cells: dict[tuple[str, str, str], Outstanding] = {}
    for invoice_id, history in events.items():
        invoice = invoices.get(invoice_id)
        if invoice is None or not history:
            continue
        state = history[-1].to_state  # where the invoice stood at the end of the period
        if state in CLOSED:
            continue
        age = (until.date() - invoice.invoice_date).days
        bucket = (
            next(name for name, low, high in AGE_BUCKETS if age >= low and (high is None or age <= high))
            if age >= 0
            else AGE_BUCKETS[0][0]
        )
        cell = cells.setdefault(
            (state, bucket, invoice.currency), Outstanding(state, bucket, invoice.currency)
        )
        cell.amount += invoice.total
        cell.invoices += 1
    order = [s.value for s in InvoiceState]
    buckets = [name for name, _, _ in AGE_BUCKETS]
    return sorted(cells.values(), key=lambda o: (o.currency, order.index(o.state), buckets.index(o.bucket)))
