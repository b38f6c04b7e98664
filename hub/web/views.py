"""The data behind each page and API answer, built on the hub's services (hub/services.py,
hub/worklist.py, hub/reports, hub/heartbeat.py): nothing here decides what is stuck or why."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select as sa_select
from sqlmodel import col, func, select

from hub import services
from hub.reports import build_report
from hub.reports.metrics import Report
from hub.store.tables import AttemptRow, EventRow, InvoiceRow, QuarantineRow
from hub.web.actions import follow_ups
from hub.web.filters import Filters
from hub.web.security import masked
from hub.worklist import Group, amounts_by_currency, groups

if TYPE_CHECKING:
    from hub.runtime import Hub

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")  # as connectors/webportal/evidence.py names its folders


@dataclass
class ProblemPage:
    """One page of the worklist: its rows (grouped), how many in all, and the amount at stake."""

    rows: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    totals: dict[str, Any]

    @property
    def groups(self) -> list[Group]:
        return groups(self.rows)

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None


class WorklistCache:
    """The worklist per filter, kept while no event is appended (every change of an invoice's state or
    reasons is an event, and events are append-only: the newest event id says whether anything
    changed) and for at most `max_age` seconds (the rows' ages in days). Paging through the worklist,
    or several collectors looking at it, then costs one computation, not one per page view."""

    def __init__(self, max_age: float = 60.0, size: int = 32) -> None:
        self.max_age, self.size = max_age, size
        self._entries: dict[Filters, tuple[int, float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def rows(self, hub: Hub, filters: Filters) -> list[dict[str, Any]]:
        with hub.store.session() as session:
            head = session.exec(select(func.max(EventRow.id))).one() or 0
        with self._lock:
            entry = self._entries.get(filters)
        if entry is not None and entry[0] == head and time.monotonic() - entry[1] < self.max_age:
            return entry[2]
        rows = services.rejections(hub, **filters.as_kwargs())
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.pop(min(self._entries, key=lambda k: self._entries[k][1]))
            self._entries[filters] = (head, time.monotonic(), rows)
        return rows


def problems(
    hub: Hub, filters: Filters, limit: int, offset: int, cache: WorklistCache | None = None
) -> ProblemPage:
    """The worklist (hub.services.rejections) cut to one page, with owners and follow-ups (read
    fresh: they change without an event of the invoice's state)."""
    rows = cache.rows(hub, filters) if cache is not None else services.rejections(hub, **filters.as_kwargs())
    page = rows[offset : offset + limit]
    kept = follow_ups(hub, [r["invoice_number"] for r in page])
    page = [{**r, **kept.get(r["invoice_number"], {"owner": None, "follow_up_on": None})} for r in page]
    return ProblemPage(
        rows=page,
        total=len(rows),
        limit=limit,
        offset=offset,
        totals={c: str(v) for c, v in amounts_by_currency(rows).items()},
    )


_LISTED = (
    "id",
    "invoice_number",
    "portal_invoice_number",
    "customer_id",
    "profile_id",
    "state",
    "total",
    "currency",
    "invoice_date",
    "last_category",
    "updated_at",
)


def invoices(
    hub: Hub,
    *,
    state: str | None,
    customer: str | None,
    portal: str | None,
    limit: int,
    after: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Invoices in the store, oldest id first, from after the cursor `after` (keyset paging: a page
    stays right while invoices arrive); (rows, next cursor or None)."""
    table = InvoiceRow.__table__  # type: ignore[attr-defined]
    query = sa_select(*(table.c[name] for name in _LISTED)).where(col(InvoiceRow.id) > after)
    if state:
        query = query.where(col(InvoiceRow.state) == state)
    if customer:
        query = query.where(col(InvoiceRow.customer_id) == customer)
    if portal:
        query = query.where(col(InvoiceRow.profile_id) == portal)
    with hub.store.session() as session:
        found = session.execute(query.order_by(col(InvoiceRow.id)).limit(limit + 1)).all()
    rows = [
        {
            "id": r.invoice_number,
            "invoice_number": r.invoice_number,
            "portal_invoice_number": r.portal_invoice_number,
            "customer_id": r.customer_id,
            "profile_id": r.profile_id,
            "state": r.state,
            "amount": str(r.total),
            "currency": r.currency,
            "invoice_date": r.invoice_date.isoformat(),
            "category": r.last_category,
            "updated_at": r.updated_at.isoformat(),
        }
        for r in found[:limit]
    ]
    return rows, (found[limit - 1].id if len(found) > limit else None)


def invoice(hub: Hub, number: str) -> dict[str, Any]:
    """One invoice: the timeline (hub.services.timeline), each send's documents with secrets masked,
    evidence screenshots, the AR record as stored, its owner and follow-up date."""
    data = services.timeline(hub, number)
    with hub.store.session() as session:
        row = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == number)).first()
        assert row is not None  # services.timeline found it
        documents = {
            a.id: (masked(a.request_document), masked(a.response_document))
            for a in session.exec(select(AttemptRow).where(col(AttemptRow.invoice_id) == row.id))
        }
        record = json.loads(row.document)
    for attempt in data["attempts"]:
        attempt["request_document"], attempt["response_document"] = documents.get(attempt["id"], (None, None))
        for key in ("portal_text", "error"):
            attempt[key] = masked(attempt[key])
    for event in data["events"]:
        event["reason"] = masked(event["reason"])
    record.pop("attachments", None)  # PDFs: large, and not what a collector reads here
    data["ar_record"] = record
    data["follow_up"] = follow_ups(hub, [number]).get(number, {"owner": None, "follow_up_on": None})
    data["evidence"] = [p.name for p in evidence_files(hub, data)]
    return data


def evidence_files(hub: Hub, data: dict[str, Any]) -> list[Path]:
    """Screenshots a web-portal submission kept for this invoice (`evidence_dir/<profile>/<number>/`)."""
    root = hub.config.evidence_dir
    profile = data["invoice"]["profile_id"]
    if root is None or profile is None:
        return []
    numbers = {data["invoice"]["invoice_number"], data["invoice"]["portal_invoice_number"]}
    numbers |= {a["portal_invoice_number"] for a in data["attempts"]}
    found: list[Path] = []
    for number in sorted(n for n in numbers if n):
        folder = Path(root) / _safe(profile) / _safe(number)
        if folder.is_dir():
            found.extend(sorted(folder.glob("*.png")))
    return found


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._") or "_"


def quarantined(hub: Hub) -> list[dict[str, Any]]:
    """AR records that could not become invoices and are not resolved, with the reason (raw record
    masked: an AR row may carry anything)."""
    with hub.store.session() as session:
        rows = session.exec(
            select(QuarantineRow)
            .where(col(QuarantineRow.resolved_at).is_(None))
            .order_by(col(QuarantineRow.first_seen))
        ).all()
    return [
        {
            "id": q.id,
            "source": q.source,
            "ar_key": q.ar_key,
            "invoice_number": q.invoice_number,
            "reason": masked(q.reason),
            "first_seen": q.first_seen.isoformat(),
            "last_seen": q.last_seen.isoformat(),
        }
        for q in rows
    ]


class ReportCache:
    """The report of the last `days` days, rebuilt at most every `max_age` seconds: computing it reads
    every event of the period, far too slow to do on each page view of a large store."""

    def __init__(self, hub: Hub, days: int = 30, max_age: float = 300.0) -> None:
        self.hub, self.days, self.max_age = hub, days, max_age
        self._report: Report | None = None
        self._built = 0.0
        self._lock = threading.Lock()

    def get(self) -> Report:
        with self._lock:
            if self._report is None or time.monotonic() - self._built > self.max_age:
                until = self.hub.clock.now()
                self._report = build_report(self.hub, until - timedelta(days=self.days), until)
                self._built = time.monotonic()
            return self._report

    def warm(self) -> None:
        """Build the first report in the background (the server answers meanwhile)."""
        threading.Thread(target=self.get, name="report-cache", daemon=True).start()


def report_json(report: Report) -> dict[str, Any]:
    """The report's figures as JSON (the same figures as `portalhub report --json`)."""
    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "generated_at": report.generated_at.isoformat(),
        "by_portal": [{**a.__dict__, "rate": a.rate} for a in report.by_portal],
        "by_customer": [{**a.__dict__, "rate": a.rate} for a in report.by_customer],
        "categories": [{**c.__dict__, "label": c.label} for c in report.categories],
        "caught_by_preflight": report.caught_by_preflight,
        "caught_by_portal": report.caught_by_portal,
        "preflight_share": report.preflight_share,
        "cycle_times": [c.__dict__ for c in report.cycle_times],
        "outstanding": [{**o.__dict__, "amount": str(o.amount)} for o in report.outstanding],
    }
