"""The collectors' worklist: every invoice that is stuck, why, who must fix what, grouped by customer
and reason category, oldest first, with the amount at stake.

Open problems are invoices blocked before sending, rejected or disputed by the portal, invoices
waiting because the portal refused the hub's credentials (they are stuck too, though READY), and
statuses a portal pushed that could not be applied (hub/unplaced.py, their own category);
sends whose outcome nobody has confirmed: IN_DOUBT longer than `daemon.in_doubt_worklist_hours`, and
SUBMITTED on evidence the hub could not verify ("presumed received": a duplicate answer to our own
unanswered send where the portal cannot be asked what it holds). Each row
carries the portal's own words (verbatim, as the portal sent them), the broken rules of a blocked
invoice, a hint and who acts (collector, or AR operations for credentials and configuration).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from hub import profile_health, unplaced
from hub.money import amount_text
from hub.states import InvoiceState, RejectionCategory

if TYPE_CHECKING:
    # The rows are built from rows read with or without the ORM: `portalhub rejections` reads them
    # through the DB-API driver (hub/store_reader.py); `worklist` below imports the ORM when it runs.
    from hub.readonly import ReadOnlyHub
    from hub.runtime import Hub
    from hub.store.tables import AttemptRow, EventRow, InvoiceRow

S = InvoiceState
C = RejectionCategory
PROBLEM_STATES = (S.BLOCKED.value, S.REJECTED.value, S.DISPUTED.value)
# The states as plain strings, for the loops over every event of every open problem.
_BLOCKED, _DISPUTED, _READY, _SUBMITTING = (s.value for s in (S.BLOCKED, S.DISPUTED, S.READY, S.SUBMITTING))
_DISPUTED_CATEGORY, _OTHER = C.DISPUTED.value, C.OTHER.value
#: READY invoices in these categories wait on AR operations (the portal refused access, a profile is wrong).
WAITING_CATEGORIES = (C.CREDENTIALS.value, C.CONFIG.value)
#: The worklist's own category for sends whose outcome a person must confirm at the portal.
UNCONFIRMED = "unconfirmed"
_IN_DOUBT, _SUBMITTED = S.IN_DOUBT.value, S.SUBMITTED.value

#: The worklist's categories, in the order a collector reads them, with the words shown for each.
CATEGORY_LABELS: dict[str, str] = {
    C.PO.value: "missing/invalid PO",
    C.PRICE_QUANTITY.value: "price or quantity mismatch",
    C.DUPLICATE.value: "duplicate",
    C.TAX.value: "tax",
    C.MISSING_FIELD.value: "missing field",
    C.DATES.value: "dates",
    C.ATTACHMENTS.value: "attachments",
    UNCONFIRMED: "sent, outcome not confirmed",
    C.CREDENTIALS.value: "credentials/portal access",
    C.DISPUTED.value: "disputed by buyer",
    C.DOCUMENT.value: "document format",
    C.CONFIG.value: "hub configuration",
    C.OTHER.value: "other",
    unplaced.CATEGORY: unplaced.LABEL,
}
_ORDER = {name: n for n, name in enumerate(CATEGORY_LABELS)}

PORTAL_HINTS = {
    "po": "Check the PO (or contract) number against the customer's PO; correct it in AR and the hub resends.",
    "price_quantity": "Compare price, quantity and unit of measure with the PO line; correct the invoice in AR.",
    "duplicate": "The portal already has this number: check whether it was sent before; if not, reissue under a new number.",
    "dates": "Re-date the invoice within the customer's window, or ask their AP for an exception.",
    "tax": "Check the tax amounts and the tax ID the customer expects.",
    "credentials": "The portal refused the hub's credentials: AR operations must fix the profile's secrets.",
    "config": "A rules file or profile needs fixing (AR operations); the invoice waits.",
    "document": "The document did not pass the portal's format check; report it with the invoice number.",
    "disputed": "The buyer disputed it: read the reason, issue a correction (credit and rebill if they ask).",
    UNCONFIRMED: "The hub sent it but cannot confirm the portal has it: look the number up at the portal; "
    "`portalhub show` has every send and the portal's last answer.",
}
DEFAULT_HINT = (
    "Read the portal's words, fix the invoice in the AR system; the hub resends the corrected invoice."
)


@dataclass(frozen=True)
class WorklistFilter:
    """What the collector asked to see. Every field narrows; None means no limit."""

    customer: str | None = None
    portal: str | None = None
    categories: tuple[str, ...] = ()
    since: datetime | None = None  # problems that arose at or after this instant
    older_than_days: int | None = None  # problems at least this many days old
    min_amount: Decimal | None = None  # amount at stake (absolute: credit memos count too)

    def keeps(self, row: dict[str, Any]) -> bool:
        if self.categories and row["category"] not in self.categories:
            return False
        if self.since is not None and datetime.fromisoformat(row["since"]) < self.since:
            return False
        if self.older_than_days is not None and row["days"] < self.older_than_days:
            return False
        return not (self.min_amount is not None and abs(Decimal(row["amount"])) < self.min_amount)

    def places(self, customer_id: str | None, profile_id: str | None) -> bool:
        """The customer and portal filters, applied to the open problems as read (see `worklist`)."""
        return (not self.customer or customer_id == self.customer) and (
            not self.portal or profile_id == self.portal
        )


@dataclass
class Group:
    """The problems of one customer in one category, oldest first, with the amount at stake per currency."""

    customer_id: str
    category: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)

    @property
    def totals(self) -> dict[str, Decimal]:
        return amounts_by_currency(self.rows)

    @property
    def oldest_days(self) -> int:
        return max(row["days"] for row in self.rows)

    def as_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "category": self.category,
            "label": self.label,
            "count": len(self.rows),
            "totals": {currency: amount_text(amount, currency) for currency, amount in self.totals.items()},
            "oldest_days": self.oldest_days,
            "invoices": self.rows,
        }


def amounts_by_currency(rows: Iterable[dict[str, Any]]) -> dict[str, Decimal]:
    """Sum of `amount` per currency, exact (amounts travel as strings, are added as Decimal)."""
    totals: dict[str, Decimal] = {}
    for row in rows:
        if row["currency"]:  # an unplaced status naming no invoice of ours has no amount
            totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + Decimal(row["amount"])
    return dict(sorted(totals.items()))


def worklist(hub: Hub | ReadOnlyHub, flt: WorklistFilter | None = None) -> list[dict[str, Any]]:
    """Open problems as rows, sorted by customer, category, then oldest first."""
    from sqlmodel import col, or_, select

    from hub.store.tables import AttemptRow, EventRow, InvoiceRow

    flt = flt or WorklistFilter()
    now = hub.clock.now()
    with hub.store.session() as session:
        troubled = profile_health.troubled(session)
    stuck = or_(
        col(InvoiceRow.state).in_(PROBLEM_STATES),
        (col(InvoiceRow.state) == S.READY.value) & col(InvoiceRow.last_category).in_(WAITING_CATEGORIES),
        # Waiting on a profile that cannot work (held or failing): a configuration problem of the profile.
        (col(InvoiceRow.state) == S.READY.value) & col(InvoiceRow.profile_id).in_(sorted(troubled)),
        col(InvoiceRow.state) == _IN_DOUBT,
        # Recorded as received on a duplicate answer nobody could compare (hub/pipeline/evidence.py).
        (col(InvoiceRow.state) == _SUBMITTED) & (col(InvoiceRow.last_category) == C.DUPLICATE.value),
    )
    # Plain rows with the columns the rows need (same attribute names), never ORM objects nor the
    # documents: on a store of 100,000 invoices with 5,000 open problems, loading whole invoices and
    # sends (cXML included) was most of the time. Instants and amounts are read as the database gives
    # them: only the instant that starts each problem is converted (`_instant`), amounts are shown as
    # stored. The customer and portal filters are applied to the open problems here, not in SQL:
    # given `customer_id = ?`, SQLite (which keeps no statistics) walked every invoice of the customer
    # by its index instead of the few open problems by state.
    invoices = InvoiceRow.__table__  # type: ignore[attr-defined]
    events = EventRow.__table__  # type: ignore[attr-defined]
    attempts = AttemptRow.__table__  # type: ignore[attr-defined]
    history: dict[int, list[EventRow]] = {}
    sends: dict[int | None, AttemptRow] = {}
    with hub.store.session() as session:
        found = [
            cast(InvoiceRow, row)
            for row in session.execute(select(*_as_read(invoices, INVOICE_COLUMNS)).where(stuck)).all()
            if flt.places(row.customer_id, row.profile_id)
        ]
        ids = [row.id for row in found]
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            for event in session.execute(
                select(*_as_read(events, EVENT_COLUMNS))
                .where(events.c.invoice_id.in_(chunk))
                .order_by(events.c.invoice_id, events.c.id)
            ).all():
                history.setdefault(event.invoice_id, []).append(cast(EventRow, event))
            for attempt in session.execute(
                select(*(attempts.c[name] for name in ATTEMPT_COLUMNS)).where(
                    attempts.c.invoice_id.in_(chunk)
                )
            ).all():
                sends[attempt.id] = cast(AttemptRow, attempt)
        # Statuses the portal pushed that could not be applied wait for a person too.
        kept = unplaced.worklist_rows(session, now)
    in_doubt_after = timedelta(hours=hub.config.daemon.in_doubt_worklist_hours)
    return open_problems(found, history, sends, kept, troubled, now, flt, in_doubt_after)


def open_problems(
    found: Sequence[InvoiceRow],
    history: dict[int, list[EventRow]],
    sends: dict[int | None, AttemptRow],
    kept: Sequence[dict[str, Any]],
    troubled: dict[str, profile_health.Health],
    now: datetime,
    flt: WorklistFilter,
    in_doubt_after: timedelta,
    made: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The worklist's rows from what was read of the stuck invoices (`found`, already placed by the
    filter), their events (per invoice, oldest first) and sends (by id), the open unplaced statuses'
    rows and the profiles that cannot work: the same rows whoever read them (`worklist` through the
    ORM; `portalhub rejections` through the DB-API driver, hub/store_reader.py).

    `made`: rows made earlier for some of `found`, by invoice id, still true (hub/readonly/kept_rows.py):
    used with their days worked out for `now`, and their invoices need no history; the rows made here
    that may be kept (all but those of a profile that cannot work) are added to it."""
    per_invoice: dict[int, list[AttemptRow]] = {}
    for send in sends.values():
        per_invoice.setdefault(send.invoice_id, []).append(send)
    rows = []
    for row in found:
        profile = troubled.get(row.profile_id or "") if row.state == _READY else None
        earlier = made.get(row.id or 0) if made is not None and profile is None else None
        if earlier is not None:
            rows.append({**earlier, "days": (now - datetime.fromisoformat(earlier["since"])).days})
            continue
        new = _row(row, history.get(row.id or 0, []), sends, per_invoice.get(row.id or 0, []), now, profile)
        if made is not None and profile is None:
            made[row.id or 0] = new
        rows.append(new)
    rows += [row for row in kept if flt.places(row["customer_id"], row["profile_id"])]
    # An unanswered send is reconciled on its own for a while; only then does it need a person.
    rows = [
        row
        for row in rows
        if flt.keeps(row)
        and (row["state"] != _IN_DOUBT or now - datetime.fromisoformat(row["since"]) >= in_doubt_after)
    ]
    rows.sort(key=lambda r: (r["customer_id"], _ORDER.get(r["category"], len(_ORDER)), r["since"]))
    return rows


#: Invoice ids bound in one query: well under the databases' limits on bound parameters.
_IDS_PER_QUERY = 5000
#: What `_row` and the functions it calls read of an invoice, its events and its sends.
INVOICE_COLUMNS = (
    "id",
    "invoice_number",
    "portal_invoice_number",
    "customer_id",
    "profile_id",
    "state",
    "total",
    "currency",
    "last_reason",
    "last_category",
    "updated_at",
)
EVENT_COLUMNS = (
    "id",
    "invoice_id",
    "at",
    "from_state",
    "to_state",
    "reason",
    "category",
    "raw_status",
    "details",
    "attempt_id",
)
ATTEMPT_COLUMNS = ("id", "invoice_id", "portal_code", "portal_text", "error")
_AS_READ = frozenset({"at", "updated_at", "total"})


def _as_read(table: Any, names: Sequence[str]) -> list[Any]:
    from sqlalchemy import String, type_coerce

    return [type_coerce(table.c[n], String).label(n) if n in _AS_READ else table.c[n] for n in names]


def groups(rows: Sequence[dict[str, Any]]) -> list[Group]:
    """Rows (already sorted by `worklist`) gathered per customer and category."""
    found: dict[tuple[str, str], Group] = {}
    for row in rows:
        key = (row["customer_id"], row["category"])
        found.setdefault(key, Group(*key)).rows.append(row)
    return list(found.values())


def _row(
    row: InvoiceRow,
    events: list[EventRow],
    attempts: dict[int | None, AttemptRow],
    sends: Sequence[AttemptRow],
    now: datetime,
    profile: profile_health.Health | None = None,
) -> dict[str, Any]:
    if profile is not None:
        return _waiting_on_profile(row, events, now, profile)
    since = _instant(problem_since(row, events))
    reason_category = row.last_category or _OTHER
    # A dispute is the buyer's call whatever its reason: it sorts under "disputed by buyer".
    category = _DISPUTED_CATEGORY if row.state == _DISPUTED else reason_category
    if row.state in (_IN_DOUBT, _SUBMITTED):
        category = reason_category = UNCONFIRMED
    if category not in CATEGORY_LABELS:
        category = _OTHER
    code, words = portal_words(row, events, attempts)
    last = max(sends, key=lambda a: a.id or 0) if sends else None
    rules = blocking_rules(row, events)
    return {
        "invoice_number": row.invoice_number,
        "portal_invoice_number": row.portal_invoice_number,
        "customer_id": row.customer_id,
        "profile_id": row.profile_id,
        "state": row.state,
        "category": category,
        "category_label": CATEGORY_LABELS[category],
        "reason_category": reason_category,
        "amount": amount_text(row.total, row.currency),
        "currency": row.currency,
        "since": since.isoformat(),
        "days": (now - since).days,
        "reason": row.last_reason,
        "portal_code": code,
        "portal_words": words,
        "hint": PORTAL_HINTS[UNCONFIRMED] if category == UNCONFIRMED else hint(row, rules),
        "rules": rules,
        # What the hub knows of its sends: how many, and the portal's last answer (or the failure).
        "attempts": len(sends),
        "last_answer": said(last.portal_code, last.portal_text or last.error) if last else None,
        "who": "AR operations (rules/profile)" if reason_category in WAITING_CATEGORIES else "collector",
    }


def _waiting_on_profile(
    row: InvoiceRow, events: Sequence[EventRow], now: datetime, health: profile_health.Health
) -> dict[str, Any]:
    """A READY invoice whose profile cannot work: nothing is wrong with the invoice; the profile's
    reason is the row's reason, and AR operations act."""
    category = C.CREDENTIALS.value if health.kind == "credentials" else C.CONFIG.value
    started = health.since or _instant(problem_since(row, events))
    since = max(started, _instant(events[0].at)) if events else started
    return {
        "invoice_number": row.invoice_number,
        "portal_invoice_number": row.portal_invoice_number,
        "customer_id": row.customer_id,
        "profile_id": row.profile_id,
        "state": row.state,
        "category": category,
        "category_label": CATEGORY_LABELS[category],
        "reason_category": category,
        "amount": str(row.total),
        "currency": row.currency,
        "since": since.isoformat(),
        "days": (now - since).days,
        "reason": f"waits: profile {row.profile_id} {health.describe()}",
        "portal_code": None,
        "portal_words": None,
        "hint": f"Profile {row.profile_id} cannot work ({health.kind}): AR operations fix it; the invoice was "
        "not sent and goes once the profile works again.",
        "rules": [],
        "who": "AR operations (rules/profile)",
    }


def problem_since(row: InvoiceRow, events: Sequence[EventRow]) -> datetime:
    """When the current problem began: the first event of the trailing run that keeps the invoice in
    its state (a re-check that blocks again, or another refused login, does not restart the clock).
    The event's `at` as it was read (`worklist` reads it unconverted: see `_instant`)."""
    since: datetime | None = None
    state = row.state
    for event in reversed(events):
        to_state = event.to_state
        if to_state == _SUBMITTING or (event.from_state == to_state and event.category is None):
            continue  # sends in between and notes on the timeline
        if state == _IN_DOUBT and to_state == _READY and event.from_state == _IN_DOUBT:
            continue  # a same-number resend of the unanswered send: the same problem goes on
        if to_state != state:
            break
        if state == _READY and event.category != row.last_category:
            break
        since = event.at
    return since or row.updated_at


def _instant(value: datetime | str) -> datetime:
    """An instant read without the column's type: SQLite gives its text (UTC), PostgreSQL a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


def portal_words(
    row: InvoiceRow, events: Sequence[EventRow], attempts: dict[int | None, AttemptRow]
) -> tuple[str | None, str | None]:
    """(code, words) exactly as the portal gave them for the current problem; (None, None) for an
    invoice the portal never saw (blocked by pre-flight)."""
    if row.state == _BLOCKED:
        return None, None
    state = row.state
    for event in reversed(events):
        if event.to_state == state and event.from_state != state:
            return event_words(event, attempts.get(event.attempt_id) if event.attempt_id else None)
    return None, row.last_reason


def event_words(event: EventRow, attempt: AttemptRow | None) -> tuple[str | None, str | None]:
    """(code, words) of the portal in one event: the answer to our send, or the status it reported."""
    if event.to_state == S.BLOCKED.value:
        return None, None
    if attempt is not None and (attempt.portal_text or attempt.error):
        return attempt.portal_code, attempt.portal_text or attempt.error
    if event.details:
        update = json.loads(event.details).get("update") or {}
        if update.get("reason") or update.get("raw_status"):
            return update.get("reason_code") or update.get("raw_status"), update.get("reason")
    return event.raw_status, event.reason


def said(code: str | None, words: str | None) -> str:
    """The portal's code and words as one line, without repeating a code the words already start with."""
    if not words:
        return code or ""
    if not code or words.startswith(code):
        return words
    return f"{code} {words}"


def blocking_rules(row: InvoiceRow, events: Sequence[EventRow]) -> list[dict[str, Any]]:
    """For a blocked invoice: each broken rule with where it is written, what was found and expected."""
    if row.state != S.BLOCKED.value:
        return []
    return [
        {k: v.get(k) for k in ("rule_id", "source", "field", "value", "expected", "message", "hint")}
        for v in latest_violations(events)
        if v.get("severity") == "error"
    ]


def latest_violations(events: Iterable[EventRow]) -> list[dict[str, Any]]:
    """The violations (errors and warnings) of the newest pre-flight, with where each rule is written."""
    for event in reversed(list(events)):
        if event.details and '"violations"' in event.details:
            return list(json.loads(event.details).get("violations", []))
    return []


def hint(row: InvoiceRow, rules: Sequence[dict[str, Any]]) -> str:
    """The rules' own hints for a blocked invoice; for portal refusals, what usually fixes them."""
    hints = [r["hint"] for r in rules if r.get("hint")]
    if hints:
        return " ".join(dict.fromkeys(hints))
    category = C.DISPUTED.value if row.state == S.DISPUTED.value else (row.last_category or "")
    return PORTAL_HINTS.get(category, DEFAULT_HINT)


CSV_COLUMNS = (
    "customer_id",
    "category",
    "category_label",
    "invoice_number",
    "portal_invoice_number",
    "profile_id",
    "state",
    "amount",
    "currency",
    "since",
    "days",
    "portal_code",
    "portal_words",
    "rules",
    "reason",
    "hint",
    "who",
    "attempts",
    "last_answer",
)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The worklist as CSV for a spreadsheet: one invoice per line, rule ids joined with spaces."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "rules": " ".join(r["rule_id"] for r in row["rules"])})
    return buffer.getvalue()
