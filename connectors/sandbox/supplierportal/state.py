"""What the sandbox supplier portal holds: sessions, drafts (an invoice being keyed, at its own
address), and submitted invoices whose status follows the AP team's habits on the sandbox clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from connectors.sandbox.supplierportal.config import SupplierPortalConfig
from connectors.sandbox.web import CENT, status_at


@dataclass(frozen=True)
class Line:
    po_line: int | None
    description: str
    quantity: Decimal
    uom: str
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT)


@dataclass
class Draft:
    id: str
    owner: str
    po: str | None = None
    number: str = ""
    invoice_date: str = ""
    currency: str = ""
    details_done: bool = False  # step 1 of the wizard passed
    submitted_as: str | None = None  # the invoice id, once submitted


@dataclass
class Session:
    token: str
    email: str
    last_seen: datetime
    verified: bool = False  # the one-time code is still to come
    next_path: str | None = None


@dataclass
class Invoice:
    id: str  # the portal's confirmation number
    number: str
    po: str
    invoice_date: str
    currency: str
    lines: list[Line]
    tax: Decimal
    freight: Decimal
    total: Decimal
    submitted_at: datetime
    submitted_by: str
    #: (when, status, reason): the status in force at a time is the last entry at or before it.
    timeline: list[tuple[datetime, str, str | None]]
    pdf: bytes | None = field(default=None, repr=False)

    def status_at(self, now: datetime) -> tuple[str, str | None, datetime]:
        return status_at(self.timeline, now)


def review(config: SupplierPortalConfig, invoice: Invoice) -> None:
    """What AP will do, decided now and dated in portal time: over the PO quantity is rejected, over
    the PO price is put on hold, anything else is approved and later paid."""
    verdict, reason = "Approved", None
    po = config.purchase_order(invoice.po)
    for n, line in enumerate(invoice.lines, 1):
        ordered = po.line(line.po_line) if po is not None and line.po_line is not None else None
        if ordered is None:
            continue
        if line.quantity > ordered.quantity:
            verdict = "Rejected"
            reason = (
                f"Line {n} bills {line.quantity} {line.uom}, more than the {ordered.quantity} {ordered.uom} "
                f"ordered on PO {po.number if po else ''} line {ordered.line}."
            )
            break
        if line.unit_price > ordered.unit_price:
            verdict = "On hold"
            reason = f"Line {n}: price {line.unit_price} is above the PO price {ordered.unit_price}."
            break
    reviewed = invoice.submitted_at + timedelta(hours=config.review_after_hours)
    invoice.timeline.append((reviewed, verdict, reason))
    if verdict == "Approved":
        invoice.timeline.append((reviewed + timedelta(hours=config.pay_after_hours), "Paid", None))
