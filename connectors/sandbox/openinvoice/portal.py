"""The OpenInvoice portal's behaviour, whatever the transport (refs/PORTALS.md, "OpenInvoice").

It checks what OpenInvoice checks (PIDX structure, the routing identities, PrimaryCurrency, attachments
named in the document arrive with it, sums), refuses a second invoice under a number the supplier
already used at the buyer (unless the buyer disputed it: then the new one replaces it and shows as
`resubmitted`), applies the buyer's "Company Specific Business Rules" (PO, AFE, cost center from a list,
field ticket number on every line), and lets buyers approve, pay or dispute on a clock the caller
controls. Statuses are computed from that clock: nothing runs in the background.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from connectors.openinvoice.packaging import Part
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.openinvoice.config import (
    OpenInvoiceBuyer,
    OpenInvoiceSandboxConfig,
    SupplierAccount,
)
from hub.errors import MappingError
from mappings.pidx_response import ReasonCode, StatusCode
from mappings.pidx_structure import PIDX_NS, structure_problems
from mappings.xml_safety import parse_untrusted

NS = {"p": PIDX_NS}
#: Statuses under which an invoice number is free again.
GONE = frozenset({"cancelled", "deleted"})


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


@dataclass(frozen=True)
class Verdict:
    """What the portal answers to one invoice."""

    status: StatusCode
    number: str
    reason: ReasonCode | None = None
    comments: tuple[str, ...] = ()
    invoice: PortalInvoice | None = None

    @property
    def duplicate(self) -> bool:
        return any("Duplicate invoice" in c for c in self.comments)


class _Reject(Exception):
    def __init__(self, reason: ReasonCode, *comments: str):
        super().__init__("; ".join(comments))
        self.reason, self.comments = reason, comments


def _text(node: etree._Element, path: str) -> str | None:
    found = node.xpath(path, namespaces=NS)
    if not found:
        return None
    first = found[0]
    text = first if isinstance(first, str) else "".join(first.itertext())
    return " ".join(str(text).split()) or None


def _amount(node: etree._Element, path: str) -> Decimal:
    try:
        return Decimal(_text(node, path) or "0")
    except InvalidOperation:
        raise _Reject(ReasonCode.OTHER, f"{path} is not a number") from None


class OpenInvoicePortal:
    def __init__(self, config: OpenInvoiceSandboxConfig, clock: SandboxClock | None = None):
        self.config = config
        self.clock = clock or SandboxClock()
        self.buyers = {b.id: b for b in config.buyers}
        self._lock = threading.Lock()
        self._ids = itertools.count(100001)
        self._responses = itertools.count(1)
        self.invoices: list[PortalInvoice] = []
        self.received = 0  # every invoice that reached the portal, accepted or not
        now = self.clock.now()
        for existing in config.existing_invoices:
            buyer = self.buyers[existing.buyer]
            self.invoices.append(
                PortalInvoice(
                    id=f"OI-{next(self._ids)}",
                    supplier=config.suppliers[0].id,
                    buyer=buyer.id,
                    number=existing.number,
                    kind="Invoice",
                    total=Decimal(0),
                    currency="USD",
                    timeline=[Entry(now - timedelta(days=300), existing.status)],
                )
            )

    # --- accounts --------------------------------------------------------------------------------------
    def supplier_by_username(self, username: str) -> SupplierAccount | None:
        return next((s for s in self.config.suppliers if s.soap_username == username), None)

    def supplier_by_cn(self, common_name: str | None) -> SupplierAccount | None:
        return next((s for s in self.config.suppliers if s.client_cn == common_name), None)

    def response_number(self) -> str:
        with self._lock:
            return f"IR-{next(self._responses)}"

    # --- receiving -------------------------------------------------------------------------------------
    def receive(
        self, supplier: SupplierAccount, xml: bytes, attachments: Sequence[Part], transport: str
    ) -> Verdict:
        with self._lock:
            self.received += 1
        now = self.clock.now()
        number = ""
        try:
            try:
                root = parse_untrusted(xml)
            except MappingError as exc:
                raise _Reject(ReasonCode.OTHER, f"Could not parse the invoice: {exc}") from None
            number = _text(root, "p:InvoiceProperties/p:InvoiceNumber") or ""
            problems = structure_problems(root)
            if problems:
                raise _Reject(
                    ReasonCode.OTHER,
                    "The invoice does not follow the PIDX 1.61 schema: " + "; ".join(problems[:5]),
                )
            buyer = self._route(supplier, root)
            self._check_portal_rules(root, attachments)
            dispute = self._check_buyer_rules(buyer, root)
            invoice = self._record(supplier, buyer, root, number, dispute, attachments, transport, xml, now)
        except _Reject as refusal:
            return Verdict(StatusCode.REJECT, number, refusal.reason, refusal.comments)
        words = f"Received by OpenInvoice and routed to {buyer.name} for review."
        return Verdict(StatusCode.PENDING, number, None, (words,), invoice)

    def _route(self, supplier: SupplierAccount, root: etree._Element) -> OpenInvoiceBuyer:
        sellers = root.xpath(
            "p:InvoiceProperties/p:PartnerInformation[@partnerRoleIndicator='Seller']/p:PartnerIdentifier/text()",
            namespaces=NS,
        )
        if supplier.id not in [str(s).strip() for s in sellers]:
            raise _Reject(
                ReasonCode.ROUTING_ERROR,
                f"The Seller on the invoice is not the supplier account {supplier.id} that sent it.",
            )
        sold_to = root.xpath(
            "p:InvoiceProperties/p:PartnerInformation[@partnerRoleIndicator='SoldTo']/p:PartnerIdentifier/text()",
            namespaces=NS,
        )
        for identifier in sold_to:
            buyer = self.buyers.get(str(identifier).strip())
            if buyer is not None:
                return buyer
        shown = ", ".join(str(s) for s in sold_to) or "none"
        raise _Reject(
            ReasonCode.ROUTING_ERROR, f"No buyer on OpenInvoice is known by the SoldTo identifier {shown}."
        )

    @staticmethod
    def _check_portal_rules(root: etree._Element, attachments: Sequence[Part]) -> None:
        if not _text(root, "p:InvoiceProperties/p:PrimaryCurrency/p:CurrencyCode"):
            raise _Reject(ReasonCode.MISSING_CONTENT, "PrimaryCurrency is required by OpenInvoice.")
        sent = {part.content_id for part in attachments}
        for location in root.xpath(
            "p:InvoiceProperties/p:Attachment/p:AttachmentLocation/text()", namespaces=NS
        ):
            content_id = str(location).strip().removeprefix("cid:")
            if content_id not in sent:
                raise _Reject(
                    ReasonCode.MISSING_CONTENT,
                    f"Attachment {location} is named in the invoice but was not sent.",
                )
        lines = root.xpath("p:InvoiceDetails/p:InvoiceLineItem", namespaces=NS)
        line_sum = sum((_amount(line, "p:LineItemTotal/p:MonetaryAmount") for line in lines), Decimal(0))
        subtotal = _amount(root, "p:InvoiceSummary/p:SubTotalAmount/p:MonetaryAmount")
        if abs(line_sum - subtotal) > Decimal("0.01") * max(len(lines), 1):
            raise _Reject(
                ReasonCode.OTHER, f"The line totals add up to {line_sum}, the SubTotalAmount says {subtotal}."
            )

    @staticmethod
    def _check_buyer_rules(buyer: OpenInvoiceBuyer, root: etree._Element) -> tuple[str, ...]:
        """Rejects what breaks the buyer's rules; returns the dispute its AP team will raise, if any."""
        missing: list[str] = []
        invalid: list[str] = []
        header = root.find("p:InvoiceProperties", NS)
        assert header is not None

        def reference(node: etree._Element, indicator: str) -> str | None:
            return _text(
                node,
                f"p:ReferenceInformation[@referenceInformationIndicator='{indicator}']/p:ReferenceNumber",
            )

        if buyer.require_po and not _text(header, "p:PurchaseOrderInformation/p:PurchaseOrderNumber"):
            missing.append(f"A purchase order number is required by {buyer.name}.")
        header_ticket = _text(header, "p:FieldTicketInformation/p:FieldTicketNumber")
        dispute: list[str] = []
        for line in root.xpath("p:InvoiceDetails/p:InvoiceLineItem", namespaces=NS):
            n = _text(line, "p:LineItemNumber")
            afe = reference(line, "AFENumber") or reference(header, "AFENumber")
            cost_center = reference(line, "CostCenter") or reference(header, "CostCenter")
            ticket = reference(line, "FieldTicketNumber") or header_ticket
            if buyer.require_afe and not afe:
                missing.append(f"Line {n}: an AFE number is required by {buyer.name}.")
            if buyer.cost_centers is not None:
                if not cost_center:
                    missing.append(f"Line {n}: a cost center is required by {buyer.name}.")
                elif cost_center not in buyer.cost_centers:
                    invalid.append(
                        f"Line {n}: cost center {cost_center} is not a valid cost center of {buyer.name}."
                    )
            if buyer.require_field_ticket and not ticket:
                missing.append(f"Line {n}: a field ticket number is required by {buyer.name}.")
            part = _text(
                line, "p:LineItemInformation/p:LineItemIdentifier[@identifierIndicator='AssignedBySeller']"
            )
            rate = buyer.price_book.get(part or "")
            price = _amount(line, "p:Pricing/p:UnitPrice/p:MonetaryAmount")
            if rate is not None and price > rate:
                dispute.append(
                    f"Line {n}: unit price {price} for {part} is above the contract rate {rate} "
                    f"in {buyer.name}'s price book."
                )
        if missing:
            raise _Reject(ReasonCode.MISSING_CONTENT, *missing, *invalid)
        if invalid:
            raise _Reject(ReasonCode.OTHER, *invalid)
        return tuple(dispute)

    def _record(
        self,
        supplier: SupplierAccount,
        buyer: OpenInvoiceBuyer,
        root: etree._Element,
        number: str,
        dispute: tuple[str, ...],
        attachments: Sequence[Part],
        transport: str,
        xml: bytes,
        now: datetime,
    ) -> PortalInvoice:
        kind = _text(root, "p:InvoiceProperties/p:InvoiceTypeCode") or "Invoice"
        total = _amount(root, "p:InvoiceSummary/p:InvoiceTotal/p:MonetaryAmount")
        currency = _text(root, "p:InvoiceProperties/p:PrimaryCurrency/p:CurrencyCode") or ""
        with self._lock:
            # Checked under the lock: two concurrent sends of one number must still make one invoice.
            held = self._live(supplier.id, buyer.id, number, now)
            if held is not None and held.status_at(now).status != "disputed":
                raise _Reject(
                    ReasonCode.OTHER,
                    f"Duplicate invoice: invoice number {number} has already been submitted to {buyer.name} "
                    f"(OpenInvoice document {held.id}).",
                )
            first = "resubmitted" if held is not None else "submitted"
            timeline = [Entry(now, first)]
            if dispute:
                at = now + timedelta(hours=buyer.dispute_after_hours)
                timeline.append(Entry(at, "disputed", ReasonCode.DISPUTED_CONTENT.value, dispute))
            else:
                approved = now + timedelta(hours=buyer.approve_after_hours)
                timeline.append(Entry(approved, "approved"))
                if kind != "CreditMemo":  # a credit memo is approved and settled, never paid
                    timeline.append(Entry(approved + timedelta(hours=buyer.pay_after_hours), "paid"))
            if held is not None:
                held.timeline = [e for e in held.timeline if e.at <= now] + timeline
                held.total, held.kind, held.document = total, kind, xml
                held.attachments = len(attachments)
                return held
            invoice = PortalInvoice(
                id=f"OI-{next(self._ids)}",
                supplier=supplier.id,
                buyer=buyer.id,
                number=number,
                kind=kind,
                total=total,
                currency=currency,
                timeline=timeline,
                attachments=len(attachments),
                transport=transport,
                document=xml,
            )
            self.invoices.append(invoice)
            return invoice

    def _live(self, supplier: str, buyer: str, number: str, now: datetime) -> PortalInvoice | None:
        for invoice in reversed(self.invoices):
            if (
                invoice.supplier == supplier
                and invoice.buyer == buyer
                and invoice.number == number
                and invoice.status_at(now).status not in GONE
            ):
                return invoice
        return None

    # --- reading ---------------------------------------------------------------------------------------
    def records(self, supplier: SupplierAccount, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every invoice of the supplier as the listing shows it at `now`."""
        now = now or self.clock.now()
        with self._lock:
            invoices = [i for i in self.invoices if i.supplier == supplier.id]
        return [i.record(now) for i in invoices]

    def lookup(self, supplier: SupplierAccount, number: str) -> dict[str, Any] | None:
        records = [r for r in self.records(supplier) if r["invoiceNumber"] == number]
        return max(records, key=lambda r: (r["lastActionDate"], r["invoiceId"])) if records else None

    def changes(self, supplier: SupplierAccount, since: datetime | None) -> list[dict[str, Any]]:
        """Records whose last action is at or after `since`, oldest first (then by id)."""
        rows = self.records(supplier)
        if since is not None:
            rows = [r for r in rows if _instant(r["lastActionDate"]) >= since]
        return sorted(rows, key=lambda r: (r["lastActionDate"], r["invoiceId"]))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
