"""Canonical invoice -> cXML `InvoiceDetailRequest` (InvoiceDetail.dtd 1.2.037).

Element order follows the DTD content models exactly; the golden tests validate every rendered
document against the official DTD. Portal differences (Coupa, Ariba) are data in `CxmlEnvelope`,
not branches here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal

from lxml import etree

from hub.errors import MappingError
from hub.model import (
    Address,
    ChargeKind,
    Invoice,
    InvoiceLine,
    InvoicePurpose,
    Party,
    TaxLine,
)

CXML_VERSION = "1.2.037"
DOCTYPE = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{CXML_VERSION}/InvoiceDetail.dtd">'
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

#: Canonical line references that travel as line-level Extrinsics (oil and gas, cost accounting).
LINE_EXTRINSICS = (
    ("afe_number", "AFENumber"),
    ("well_id", "WellID"),
    ("cost_center", "CostCenter"),
    ("field_ticket_number", "FieldTicketNumber"),
)
_PURPOSE = {
    InvoicePurpose.INVOICE: "standard",
    InvoicePurpose.CREDIT_MEMO: "creditMemo",
    InvoicePurpose.DEBIT_MEMO: "debitMemo",
}


@dataclass(frozen=True)
class Credential:
    domain: str
    identity: str


@dataclass(frozen=True)
class CxmlEnvelope:
    """Everything a cXML document needs besides the invoice: who talks to whom, and this send's identity."""

    payload_id: str
    timestamp: datetime
    sender: Credential
    from_: Credential
    to: Credential
    shared_secret: str
    user_agent: str = "portalhub"
    deployment_mode: str = "production"
    lang: str = "en-US"
    timezone: tzinfo = UTC  # calendar dates are rendered at midnight in the supplier's zone
    invoice_number: str | None = (
        None  # the number sent to the portal, when it differs (renumbered resubmission)
    )
    original_payload_id: str | None = None  # payloadID of the invoice a cancel or credit memo refers to
    attachment_ids: dict[str, str] = field(default_factory=dict)  # filename -> MIME Content-ID


def _fmt(amount: Decimal) -> str:
    return format(amount, "f")


def _dt(value: date | datetime, zone: tzinfo) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return datetime.combine(value, time(0, 0), tzinfo=zone).isoformat()


class _Builder:
    def __init__(self, invoice: Invoice, envelope: CxmlEnvelope):
        self.invoice = invoice
        self.env = envelope
        self.currency = invoice.currency

    def el(
        self, parent: etree._Element, tag: str, text: str | None = None, **attrs: str | None
    ) -> etree._Element:
        try:
            node = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
            if text is not None:
                node.text = text
        except ValueError:
            # lxml refuses control characters; name the element, never the value (it may be the secret).
            raise MappingError(
                f"<{tag}> would carry a character XML cannot hold (a control character, U+FFFE or U+FFFF); "
                "remove it from the invoice in the AR system"
            ) from None
        return node

    def money(self, parent: etree._Element, tag: str, amount: Decimal) -> etree._Element:
        holder = self.el(parent, tag)
        self.el(holder, "Money", _fmt(amount), currency=self.currency)
        return holder

    def described(self, parent: etree._Element, tag: str, text: str) -> etree._Element:
        node = self.el(parent, tag, text)
        node.set(XML_LANG, self.env.lang)
        return node

    def credential(self, parent: etree._Element, cred: Credential, secret: str | None = None) -> None:
        node = self.el(parent, "Credential", domain=cred.domain)
        self.el(node, "Identity", cred.identity)
        if secret is not None:
            self.el(node, "SharedSecret", secret)

    # --- document ---------------------------------------------------------------------------------------
    def build(self) -> etree._Element:
        root = etree.Element("cXML", version=CXML_VERSION, payloadID=self.env.payload_id)
        root.set("timestamp", self.env.timestamp.isoformat())
        root.set(XML_LANG, self.env.lang)
        header = self.el(root, "Header")
        self.credential(self.el(header, "From"), self.env.from_)
        self.credential(self.el(header, "To"), self.env.to)
        sender = self.el(header, "Sender")
        self.credential(sender, self.env.sender, self.env.shared_secret)
        self.el(sender, "UserAgent", self.env.user_agent)
        request = self.el(root, "Request", deploymentMode=self.env.deployment_mode)
        detail = self.el(request, "InvoiceDetailRequest")
        self.request_header(detail)
        self.order(detail)
        self.summary(detail)
        return root

    def request_header(self, parent: etree._Element) -> None:
        inv = self.invoice
        cancel = inv.purpose is InvoicePurpose.CANCEL
        header = self.el(
            parent,
            "InvoiceDetailRequestHeader",
            invoiceID=self.env.invoice_number or inv.invoice_number,
            purpose="standard" if cancel else _PURPOSE[inv.purpose],
            operation="delete" if cancel else "new",
            invoiceDate=_dt(inv.invoice_date, self.env.timezone),
        )
        self.el(header, "InvoiceDetailHeaderIndicator")
        self.el(header, "InvoiceDetailLineIndicator", isTaxInLine="yes" if inv.has_line_taxes else None)
        self.partner(header, "remitTo", inv.supplier.remit_to or inv.supplier)
        self.partner(header, "from", inv.supplier, tax_id=inv.supplier.tax_id)
        self.partner(header, "soldTo", inv.buyer, tax_id=inv.buyer.tax_id)
        if inv.bill_to is not None:
            self.partner(header, "billTo", inv.bill_to)
        if cancel or (inv.purpose is InvoicePurpose.CREDIT_MEMO and self.env.original_payload_id):
            if not self.env.original_payload_id:
                raise MappingError(
                    f"cannot cancel {inv.original_invoice_number}: the hub has no record of sending it "
                    "(its payloadID is needed in DocumentReference)"
                )
            self.el(header, "DocumentReference", payloadID=self.env.original_payload_id)
        if inv.original_invoice_number:
            original_date = (
                _dt(inv.original_invoice_date, self.env.timezone) if inv.original_invoice_date else None
            )
            self.el(header, "InvoiceIDInfo", invoiceID=inv.original_invoice_number, invoiceDate=original_date)
        if inv.ship_to is not None:
            shipping = self.el(header, "InvoiceDetailShipping")
            self.contact(shipping, "shipFrom", inv.supplier)
            self.contact(shipping, "shipTo", inv.ship_to)
        if inv.payment_terms is not None:
            terms = inv.payment_terms
            if terms.discount_percent and terms.discount_days is not None:
                self.el(
                    header,
                    "InvoiceDetailPaymentTerm",
                    payInNumberOfDays=str(terms.discount_days),
                    percentageRate=_fmt(terms.discount_percent),
                )
            self.el(
                header, "InvoiceDetailPaymentTerm", payInNumberOfDays=str(terms.net_days), percentageRate="0"
            )
        self.comments(header, inv.comments, (a.filename for a in inv.attachments))
        for name, value in inv.extrinsics.items():
            if value:  # a blank Extrinsic would satisfy a buyer's `required` document rule
                self.el(header, "Extrinsic", value, name=name)

    def comments(self, parent: etree._Element, text: str | None, filenames: Iterable[str]) -> None:
        content_ids = [self.env.attachment_ids[f] for f in filenames if f in self.env.attachment_ids]
        if not text and not content_ids:
            return
        node = self.described(parent, "Comments", text or "")
        for content_id in content_ids:
            attachment = self.el(node, "Attachment")
            self.el(attachment, "URL", f"cid:{content_id}")

    def partner(self, parent: etree._Element, role: str, party: Party, tax_id: str | None = None) -> None:
        partner = self.el(parent, "InvoicePartner")
        self.contact(partner, role, party)
        if tax_id:
            self.el(
                partner,
                "IdReference",
                identifier=tax_id,
                domain="supplierTaxID" if role == "from" else "buyerTaxID",
            )

    def contact(self, parent: etree._Element, role: str, party: Party) -> None:
        contact = self.el(parent, "Contact", role=role, addressID=party.party_id)
        self.described(contact, "Name", party.name)
        if party.address is not None:
            self.postal(contact, party.address)
        if party.email:
            self.el(contact, "Email", party.email)

    def postal(self, parent: etree._Element, address: Address) -> None:
        postal = self.el(parent, "PostalAddress")
        for street in address.street:
            self.el(postal, "Street", street)
        self.el(postal, "City", address.city)
        if address.state:
            self.el(postal, "State", address.state)
        if address.postal_code:
            self.el(postal, "PostalCode", address.postal_code)
        self.el(postal, "Country", address.country, isoCountryCode=address.country)

    def order(self, parent: etree._Element) -> None:
        inv = self.invoice
        order = self.el(parent, "InvoiceDetailOrder")
        info = self.el(order, "InvoiceDetailOrderInfo")
        po_date = _dt(inv.po_date, self.env.timezone) if inv.po_date else None
        # The PO's or contract's own payloadID is rarely known to a supplier's AR system: the DTD
        # requires the DocumentReference, portals match on orderID / agreementID.
        if inv.po_number:
            reference = self.el(info, "OrderReference", orderID=inv.po_number, orderDate=po_date)
            self.el(reference, "DocumentReference", payloadID="")
        if inv.contract_number:  # Coupa takes the contract number in MasterAgreementReference
            agreement = self.el(info, "MasterAgreementReference", agreementID=inv.contract_number)
            self.el(agreement, "DocumentReference", payloadID="")
        if not inv.po_number and not inv.contract_number:
            self.el(info, "SupplierOrderInfo", orderID=inv.invoice_number)
        for line in inv.lines:
            if line.service_period is not None:
                self.service_item(order, line)
            else:
                self.item(order, line)

    def item(self, parent: etree._Element, line: InvoiceLine) -> None:
        item = self.el(
            parent, "InvoiceDetailItem", invoiceLineNumber=str(line.line_number), quantity=_fmt(line.quantity)
        )
        self.el(item, "UnitOfMeasure", line.unit_of_measure)
        self.money(item, "UnitPrice", line.unit_price)
        reference = self.el(
            item,
            "InvoiceDetailItemReference",
            lineNumber=str(line.po_line_number) if line.po_line_number is not None else "",
        )
        self.item_id(reference, line)
        self.described(reference, "Description", line.description)
        self.money(item, "SubtotalAmount", line.amount)
        if line.taxes:
            self.tax(item, line.taxes, line.tax_total)
        self.line_extrinsics(item, line)

    def service_item(self, parent: etree._Element, line: InvoiceLine) -> None:
        assert line.service_period is not None
        item = self.el(
            parent,
            "InvoiceDetailServiceItem",
            invoiceLineNumber=str(line.line_number),
            quantity=_fmt(line.quantity),
        )
        reference = self.el(
            item,
            "InvoiceDetailServiceItemReference",
            lineNumber=str(line.po_line_number) if line.po_line_number is not None else None,
        )
        self.item_id(reference, line)
        self.described(reference, "Description", line.description)
        self.money(item, "SubtotalAmount", line.amount)
        self.el(
            item,
            "Period",
            startDate=_dt(line.service_period.start, self.env.timezone),
            endDate=_dt(line.service_period.end, self.env.timezone),
        )
        self.el(item, "UnitOfMeasure", line.unit_of_measure)
        self.money(item, "UnitPrice", line.unit_price)
        if line.taxes:
            self.tax(item, line.taxes, line.tax_total)
        self.line_extrinsics(item, line)

    def item_id(self, parent: etree._Element, line: InvoiceLine) -> None:
        if not line.supplier_part_id:
            return
        item_id = self.el(parent, "ItemID")
        self.el(item_id, "SupplierPartID", line.supplier_part_id)
        if line.buyer_part_id:
            self.el(item_id, "BuyerPartID", line.buyer_part_id)

    def line_extrinsics(self, parent: etree._Element, line: InvoiceLine) -> None:
        for attribute, name in LINE_EXTRINSICS:
            value = getattr(line, attribute)
            if value:
                self.el(parent, "Extrinsic", value, name=name)
        for name, value in line.extrinsics.items():
            if value:
                self.el(parent, "Extrinsic", value, name=name)

    def tax(self, parent: etree._Element, taxes: list[TaxLine], total: Decimal) -> None:
        tax = self.el(parent, "Tax")
        self.el(tax, "Money", _fmt(total), currency=self.currency)
        self.described(tax, "Description", ", ".join(t.description or t.category for t in taxes) or "tax")
        for line in taxes:
            detail = self.el(
                tax,
                "TaxDetail",
                category=line.category,
                percentageRate=_fmt(line.rate_percent) if line.rate_percent is not None else None,
            )
            if line.taxable_amount is not None:
                self.money(detail, "TaxableAmount", line.taxable_amount)
            self.money(detail, "TaxAmount", line.amount)
            if line.jurisdiction:
                self.described(detail, "TaxLocation", line.jurisdiction)
            if line.description:
                self.described(detail, "Description", line.description)

    def summary(self, parent: etree._Element) -> None:
        inv = self.invoice
        summary = self.el(parent, "InvoiceDetailSummary")
        self.money(summary, "SubtotalAmount", inv.subtotal)
        # Summary Tax is mandatory in the DTD; it carries the header-level tax lines and the grand total.
        self.tax(summary, inv.taxes, inv.tax_total)
        by_kind = {
            kind: sum((c.amount for c in inv.charges if c.kind is kind), Decimal(0)) for kind in ChargeKind
        }
        if by_kind[ChargeKind.SPECIAL_HANDLING]:
            self.money(summary, "SpecialHandlingAmount", by_kind[ChargeKind.SPECIAL_HANDLING])
        if by_kind[ChargeKind.SHIPPING]:
            self.money(summary, "ShippingAmount", by_kind[ChargeKind.SHIPPING])
        gross = (
            inv.subtotal + inv.tax_total + by_kind[ChargeKind.SPECIAL_HANDLING] + by_kind[ChargeKind.SHIPPING]
        )
        self.money(summary, "GrossAmount", gross)
        if by_kind[ChargeKind.DISCOUNT]:
            # cXML carries the discount as a positive amount that is subtracted.
            self.money(summary, "InvoiceDetailDiscount", -by_kind[ChargeKind.DISCOUNT])
        self.money(summary, "NetAmount", inv.total)
        self.money(summary, "DueAmount", inv.total)


def render_tree(invoice: Invoice, envelope: CxmlEnvelope) -> etree._Element:
    """The document as a tree: pre-flight runs XPath rules and the DTD on it without reparsing."""
    return _Builder(invoice, envelope).build()


def serialize(root: etree._Element) -> bytes:
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + DOCTYPE.encode() + b"\n" + body


def render(invoice: Invoice, envelope: CxmlEnvelope) -> bytes:
    """The complete cXML document, ready to POST."""
    return serialize(render_tree(invoice, envelope))
