"""What the Coupa sandbox holds of an invoice, and how its supplier API shows one (JSON keys as Coupa's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from connectors.sandbox.cxml import ReceivedInvoice


@dataclass
class PortalInvoice:
    id: int
    instance: str
    number: str
    payload_id: str
    purpose: str
    created_at: datetime
    total: Decimal
    currency: str
    timeline: list[tuple[datetime, str]]
    dispute: tuple[str, str] | None = None  # (code, description)
    attachments: int = 0
    document: bytes = field(default=b"", repr=False)
    parsed: ReceivedInvoice | None = field(default=None, repr=False)  # what the portal read
    #: invoice-date, PO and line totals as the API shows them; read from `document` on first listing.
    content: dict[str, Any] | None = None

    def status_at(self, now: datetime) -> tuple[str, datetime]:
        current = self.timeline[0]
        for entry in self.timeline:
            if entry[0] <= now:
                current = entry
        return current[1], current[0]


_READ_BACK = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def shown_content(invoice: PortalInvoice) -> dict[str, Any]:
    """What Coupa shows of an invoice it created from cXML: its date, PO and line totals."""
    if invoice.content is None:
        content: dict[str, Any] = {"invoice_date": None, "po_number": None, "lines": []}
        if invoice.document:
            root = etree.fromstring(invoice.document, _READ_BACK)
            request = root.find("Request/InvoiceDetailRequest")
            head = request.find("InvoiceDetailRequestHeader") if request is not None else None
            if request is not None and head is not None:
                content["invoice_date"] = head.get("invoiceDate", "")[:10] or None
                order = request.find("InvoiceDetailOrder/InvoiceDetailOrderInfo/OrderReference")
                content["po_number"] = order.get("orderID") if order is not None else None
                items = request.findall("InvoiceDetailOrder/InvoiceDetailItem") + request.findall(
                    "InvoiceDetailOrder/InvoiceDetailServiceItem"
                )
                content["lines"] = [
                    (item.get("invoiceLineNumber"), item.findtext("SubtotalAmount/Money") or "0")
                    for item in items
                ]
        invoice.content = content
    return invoice.content


def record(invoice: PortalInvoice, now: datetime) -> dict[str, Any]:
    status, since = invoice.status_at(now)
    content = shown_content(invoice)
    paid = status == "paid"
    record: dict[str, Any] = {
        "id": invoice.id,
        "invoice-number": invoice.number,
        "status": "approved" if paid else status,
        "created-at": invoice.created_at.isoformat(),
        "updated-at": since.isoformat(),
        "dispute-reason": {"code": invoice.dispute[0], "description": invoice.dispute[1]}
        if status == "disputed" and invoice.dispute
        else None,
        "invoice-date": f"{content['invoice_date']}T00:00:00+00:00" if content["invoice_date"] else None,
        "gross-total": str(invoice.total),
        "currency": {"code": invoice.currency},
        "invoice-lines": [
            {"line-num": number, "total": str(amount), "po-number": content["po_number"]}
            for number, amount in content["lines"]
        ],
        "paid": paid,
        "payment-date": since.date().isoformat() if paid else None,
        "payments": [
            {"amount-paid": str(invoice.total), "payment-date": since.date().isoformat(), "notes": "ACH"}
        ]
        if paid
        else [],
    }
    return record
