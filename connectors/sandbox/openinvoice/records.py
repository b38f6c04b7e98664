"""What the OpenInvoice sandbox holds per invoice: its timeline of statuses and the listing record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Entry:
    at: datetime
    status: str
    reason_code: str | None = None
    comments: tuple[str, ...] = ()


@dataclass
class PortalInvoice:
    id: str
    supplier: str
    buyer: str
    number: str
    kind: str  # InvoiceTypeCode: Invoice, CreditMemo, DebitMemo
    total: Decimal
    currency: str
    timeline: list[Entry]
    attachments: int = 0
    transport: str = ""
    document: bytes = field(default=b"", repr=False)

    def status_at(self, now: datetime) -> Entry:
        current = self.timeline[0]
        for entry in self.timeline:
            if entry.at <= now:
                current = entry
        return current

    def record(self, now: datetime) -> dict[str, Any]:
        """The invoice as the status listing shows it at `now`."""
        entry = self.status_at(now)
        paid = entry.status == "paid"
        return {
            "invoiceId": self.id,
            "invoiceNumber": self.number,
            "buyer": self.buyer,
            "status": entry.status,
            "lastActionDate": entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reasonCode": entry.reason_code,
            "comments": list(entry.comments),
            "paidAmount": str(self.total) if paid else None,
            "paymentDate": entry.at.date().isoformat() if paid else None,
            "invoiceTotal": str(self.total),
            "currency": self.currency or None,
        }
