"""What the sandbox web portal holds: sessions, the invoice being keyed (a draft per session), and the
invoices received, whose status follows the buyer's AP habits on the sandbox clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from connectors.sandbox.web import CENT, status_at
from connectors.sandbox.webportal.config import Buyer


@dataclass(frozen=True)
class DraftLine:
    po_line: int | None
    part: str
    description: str
    quantity: Decimal
    uom: str
    unit_price: Decimal
    afe: str

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT)


@dataclass
class Draft:
    """The invoice form as the portal keeps it between the form's own round trips."""

    header: dict[str, str] = field(default_factory=dict)
    lines: list[DraftLine] = field(default_factory=list)
    po_found: str | None = None

    @property
    def lines_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass
class Session:
    token: str
    buyer: str
    username: str
    last_seen: datetime
    authenticated: bool = False  # password accepted but the second factor not yet
    next_path: str | None = None
    draft: Draft = field(default_factory=Draft)


@dataclass
class PortalInvoice:
    reference: str
    buyer: str
    number: str
    invoice_date: str
    po_number: str
    currency: str
    lines: list[DraftLine]
    tax: Decimal
    charges: Decimal
    total: Decimal
    submitted_at: datetime
    submitted_by: str
    #: (when, status, reason): the status in force at a time is the last entry at or before it.
    timeline: list[tuple[datetime, str, str | None]]
    pdf: bytes | None = field(default=None, repr=False)
    pdf_name: str | None = None

    def status_at(self, now: datetime) -> tuple[str, str | None, datetime]:
        return status_at(self.timeline, now)


def review(buyer: Buyer, invoice: PortalInvoice) -> None:
    """What the buyer's AP team will do, decided now and dated in portal time: over the PO quantity
    is rejected, over the PO price is disputed, anything else is approved and later paid."""
    verdict, reason = "Approved", None
    po = buyer.purchase_order(invoice.po_number)
    for n, line in enumerate(invoice.lines, 1):
        po_line = po.line(line.po_line) if po is not None and line.po_line is not None else None
        if po_line is None:
            continue
        if line.quantity > po_line.quantity:
            verdict = "Rejected"
            reason = (
                f"Line {n}: quantity {line.quantity} exceeds the {po_line.quantity} {po_line.uom} "
                f"ordered on PO line {po_line.line}."
            )
            break
        if line.unit_price > po_line.unit_price:
            verdict = "Disputed"
            reason = (
                f"Line {n}: unit price {line.unit_price} is above the PO price {po_line.unit_price}; "
                "send a corrected invoice."
            )
            break
    reviewed = invoice.submitted_at + timedelta(hours=buyer.review_after_hours)
    invoice.timeline.append((reviewed, verdict, reason))
    if verdict == "Approved":
        invoice.timeline.append((reviewed + timedelta(hours=buyer.pay_after_hours), "Paid", None))
