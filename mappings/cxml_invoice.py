"""Canonical invoice -> cXML `InvoiceDetailRequest` (InvoiceDetail.dtd 1.2.037).

Element order follows the DTD content models exactly; the golden tests validate every rendered
document against the official DTD. Portal differences (Coupa, Ariba) are data in `CxmlEnvelope`,
not branches here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

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
from mappings.portal_values import day_as_instant, plain_decimal
from mappings.xml_writer import XmlWriter, attribute, text

CXML_VERSION = "1.2.037"
DOCTYPE = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{CXML_VERSION}/InvoiceDetail.dtd">'
XML_LANG = "xml:lang"

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


class _Builder:
    def __init__(self, invoice: Invoice, envelope: CxmlEnvelope):
        self.invoice = invoice
        self.env = envelope
        self.currency = invoice.currency
        self.w = XmlWriter()
        # Attributes every amount and description repeats, escaped once per document.
        self.currency_attribute = f' currency="{attribute("Money", invoice.currency)}"'
        self.lang_attribute = f' {XML_LANG}="{attribute("Description", envelope.lang)}"'

    def money(self, tag: str, amount: Decimal) -> None:
        self.w.markup(self.money_markup(tag, amount))

    def money_markup(self, tag: str, amount: Decimal) -> str:
        # A formatted Decimal is digits, sign and point: nothing to escape.
        return f"<{tag}><Money{self.currency_attribute}>{plain_decimal(amount)}</Money></{tag}>"

    def described(self, tag: str, value: str) -> None:
        self.w.markup(self.described_markup(tag, value))

    def described_markup(self, tag: str, value: str) -> str:
        return f"<{tag}{self.lang_attribute}>{text(tag, value)}</{tag}>"

    def credential_markup(self, cred: Credential, secret: str | None = None) -> str:
        shared = f"<SharedSecret>{text('SharedSecret', secret)}</SharedSecret>" if secret is not None else ""
        return (
            f'<Credential domain="{attribute("Credential", cred.domain)}">'
            f"<Identity>{text('Identity', cred.identity)}</Identity>{shared}</Credential>"
        )

    def header_markup(self) -> str:
        env = self.env
        return (
            f"<Header><From>{self.credential_markup(env.from_)}</From>"
            f"<To>{self.credential_markup(env.to)}</To>"
            f"<Sender>{self.credential_markup(env.sender, env.shared_secret)}"
            f"<UserAgent>{text('UserAgent', env.user_agent)}</UserAgent></Sender></Header>"
        )

    # --- document ---------------------------------------------------------------------------------------
    def build(self) -> str:
        w, env = self.w, self.env
        root = {"version": CXML_VERSION, "payloadID": env.payload_id, "timestamp": env.timestamp.isoformat()}
        with w.element("cXML", **root, **{XML_LANG: env.lang}):
            w.markup(self.header_markup())  # one string, like the lines: the same bytes
            with w.element("Request", deploymentMode=env.deployment_mode), w.element("InvoiceDetailRequest"):
                self.request_header()
                self.order()
                self.summary()
        return w.getvalue()

    def request_header(self) -> None:
        w, inv = self.w, self.invoice
        cancel = inv.purpose is InvoicePurpose.CANCEL
        with w.element(
            "InvoiceDetailRequestHeader",
            invoiceID=self.env.invoice_number or inv.invoice_number,
            purpose="standard" if cancel else _PURPOSE[inv.purpose],
            operation="delete" if cancel else "new",
            invoiceDate=day_as_instant(inv.invoice_date, self.env.timezone),
        ):
            w.leaf("InvoiceDetailHeaderIndicator")
            w.leaf("InvoiceDetailLineIndicator", isTaxInLine="yes" if inv.has_line_taxes else None)
            self.partner("remitTo", inv.supplier.remit_to or inv.supplier)
            self.partner("from", inv.supplier, tax_id=inv.supplier.tax_id)
            self.partner("soldTo", inv.buyer, tax_id=inv.buyer.tax_id)
            if inv.bill_to is not None:
                self.partner("billTo", inv.bill_to)
            if cancel or (inv.purpose is InvoicePurpose.CREDIT_MEMO and self.env.original_payload_id):
                if not self.env.original_payload_id:
                    raise MappingError(
                        f"cannot cancel {inv.original_invoice_number}: the hub has no record of sending it "
                        "(its payloadID is needed in DocumentReference)"
                    )
                w.leaf("DocumentReference", payloadID=self.env.original_payload_id)
            if inv.original_invoice_number:
                original_date = (
                    day_as_instant(inv.original_invoice_date, self.env.timezone)
                    if inv.original_invoice_date
                    else None
                )
                w.leaf("InvoiceIDInfo", invoiceID=inv.original_invoice_number, invoiceDate=original_date)
            if inv.ship_to is not None:
                with w.element("InvoiceDetailShipping"):
                    self.contact("shipFrom", inv.supplier)
                    self.contact("shipTo", inv.ship_to)
            if inv.payment_terms is not None:
                terms = inv.payment_terms
                if terms.discount_percent and terms.discount_days is not None:
                    w.leaf(
                        "InvoiceDetailPaymentTerm",
                        payInNumberOfDays=str(terms.discount_days),
                        percentageRate=plain_decimal(terms.discount_percent),
                    )
                w.leaf("InvoiceDetailPaymentTerm", payInNumberOfDays=str(terms.net_days), percentageRate="0")
            self.comments(inv.comments, (a.filename for a in inv.attachments))
            for name, value in inv.extrinsics.items():
                if value:  # a blank Extrinsic would satisfy a buyer's `required` document rule
                    w.leaf("Extrinsic", value, name=name)

    def comments(self, text: str | None, filenames: Iterable[str]) -> None:
        content_ids = [self.env.attachment_ids[f] for f in filenames if f in self.env.attachment_ids]
        if not text and not content_ids:
            return
        with self.w.element("Comments", text or "", **{XML_LANG: self.env.lang}):
            for content_id in content_ids:
                with self.w.element("Attachment"):
                    self.w.leaf("URL", f"cid:{content_id}")

    def partner(self, role: str, party: Party, tax_id: str | None = None) -> None:
        identity = (
            f'<IdReference identifier="{attribute("IdReference", tax_id)}" '
            f'domain="{"supplierTaxID" if role == "from" else "buyerTaxID"}"/>'
            if tax_id
            else ""
        )
        self.w.markup(f"<InvoicePartner>{self.contact_markup(role, party)}{identity}</InvoicePartner>")

    def contact(self, role: str, party: Party) -> None:
        self.w.markup(self.contact_markup(role, party))

    def contact_markup(self, role: str, party: Party) -> str:
        address = f' addressID="{attribute("Contact", party.party_id)}"' if party.party_id is not None else ""
        email = f"<Email>{text('Email', party.email)}</Email>" if party.email else ""
        postal = self.postal_markup(party.address) if party.address is not None else ""
        return f'<Contact role="{role}"{address}>{self.described_markup("Name", party.name)}{postal}{email}</Contact>'

    def postal_markup(self, address: Address) -> str:
        parts = ["<PostalAddress>"]
        parts.extend(f"<Street>{text('Street', street)}</Street>" for street in address.street)
        parts.append(f"<City>{text('City', address.city)}</City>")
        if address.state:
            parts.append(f"<State>{text('State', address.state)}</State>")
        if address.postal_code:
            parts.append(f"<PostalCode>{text('PostalCode', address.postal_code)}</PostalCode>")
        country = address.country
        parts.append(
            f'<Country isoCountryCode="{attribute("Country", country)}">{text("Country", country)}</Country>'
        )
        parts.append("</PostalAddress>")
        return "".join(parts)

    def order(self) -> None:
        w, inv = self.w, self.invoice
        with w.element("InvoiceDetailOrder"):
            po_date = day_as_instant(inv.po_date, self.env.timezone) if inv.po_date else None
            with w.element("InvoiceDetailOrderInfo"):
                # The PO's or contract's own payloadID is rarely known to a supplier's AR system: the DTD
                # requires the DocumentReference, portals match on orderID / agreementID.
                if inv.po_number:
                    with w.element("OrderReference", orderID=inv.po_number, orderDate=po_date):
                        w.leaf("DocumentReference", payloadID="")
                if inv.contract_number:  # Coupa takes the contract number in MasterAgreementReference
                    with w.element("MasterAgreementReference", agreementID=inv.contract_number):
                        w.leaf("DocumentReference", payloadID="")
                if not inv.po_number and not inv.contract_number:
                    w.leaf("SupplierOrderInfo", orderID=inv.invoice_number)
            for line in inv.lines:
                if line.service_period is not None:
                    self.service_item(line)
                else:
                    self.item(line)

    def item(self, line: InvoiceLine) -> None:
        # One string per line (the bulk of a document): the same bytes as element by element.
        reference = str(line.po_line_number) if line.po_line_number is not None else ""
        self.w.markup(
            f'<InvoiceDetailItem invoiceLineNumber="{line.line_number}" quantity="{plain_decimal(line.quantity)}">'
            f"<UnitOfMeasure>{text('UnitOfMeasure', line.unit_of_measure)}</UnitOfMeasure>"
            + self.money_markup("UnitPrice", line.unit_price)
            + f'<InvoiceDetailItemReference lineNumber="{reference}">'
            + self.item_id_markup(line)
            + self.described_markup("Description", line.description)
            + "</InvoiceDetailItemReference>"
            + self.money_markup("SubtotalAmount", line.amount)
            + (self.tax_markup(line.taxes, line.tax_total) if line.taxes else "")
            + self.line_extrinsics_markup(line)
            + "</InvoiceDetailItem>"
        )

    def service_item(self, line: InvoiceLine) -> None:
        assert line.service_period is not None
        w = self.w
        with w.element(
            "InvoiceDetailServiceItem",
            invoiceLineNumber=str(line.line_number),
            quantity=plain_decimal(line.quantity),
        ):
            with w.element(
                "InvoiceDetailServiceItemReference",
                lineNumber=str(line.po_line_number) if line.po_line_number is not None else None,
            ):
                self.item_id(line)
                self.described("Description", line.description)
            self.money("SubtotalAmount", line.amount)
            w.leaf(
                "Period",
                startDate=day_as_instant(line.service_period.start, self.env.timezone),
                endDate=day_as_instant(line.service_period.end, self.env.timezone),
            )
            w.leaf("UnitOfMeasure", line.unit_of_measure)
            self.money("UnitPrice", line.unit_price)
            if line.taxes:
                self.tax(line.taxes, line.tax_total)
            self.line_extrinsics(line)

    def item_id(self, line: InvoiceLine) -> None:
        self.w.markup(self.item_id_markup(line))

    def item_id_markup(self, line: InvoiceLine) -> str:
        if not line.supplier_part_id:
            return ""
        buyer = (
            f"<BuyerPartID>{text('BuyerPartID', line.buyer_part_id)}</BuyerPartID>"
            if line.buyer_part_id
            else ""
        )
        return (
            f"<ItemID><SupplierPartID>{text('SupplierPartID', line.supplier_part_id)}</SupplierPartID>"
            f"{buyer}</ItemID>"
        )

    def line_extrinsics(self, line: InvoiceLine) -> None:
        self.w.markup(self.line_extrinsics_markup(line))

    def line_extrinsics_markup(self, line: InvoiceLine) -> str:
        found = [(name, getattr(line, attribute_name)) for attribute_name, name in LINE_EXTRINSICS]
        found.extend(line.extrinsics.items())
        return "".join(
            f'<Extrinsic name="{attribute("Extrinsic", name)}">{text("Extrinsic", value)}</Extrinsic>'
            for name, value in found
            if value
        )

    def tax(self, taxes: list[TaxLine], total: Decimal) -> None:
        self.w.markup(self.tax_markup(taxes, total))

    def tax_markup(self, taxes: list[TaxLine], total: Decimal) -> str:
        parts = [
            f"<Tax><Money{self.currency_attribute}>{plain_decimal(total)}</Money>",
            self.described_markup(
                "Description", ", ".join(t.description or t.category for t in taxes) or "tax"
            ),
        ]
        for line in taxes:
            rate = (
                f' percentageRate="{plain_decimal(line.rate_percent)}"'
                if line.rate_percent is not None
                else ""
            )
            parts.append(f'<TaxDetail category="{attribute("TaxDetail", line.category)}"{rate}>')
            if line.taxable_amount is not None:
                parts.append(self.money_markup("TaxableAmount", line.taxable_amount))
            parts.append(self.money_markup("TaxAmount", line.amount))
            if line.jurisdiction:
                parts.append(self.described_markup("TaxLocation", line.jurisdiction))
            if line.description:
                parts.append(self.described_markup("Description", line.description))
            parts.append("</TaxDetail>")
        parts.append("</Tax>")
        return "".join(parts)

    def summary(self) -> None:
        inv = self.invoice
        with self.w.element("InvoiceDetailSummary"):
            self.money("SubtotalAmount", inv.subtotal)
            # Summary Tax is mandatory in the DTD; it carries the header-level tax lines and the grand total.
            self.tax(inv.taxes, inv.tax_total)
            by_kind = {
                kind: sum((c.amount for c in inv.charges if c.kind is kind), Decimal(0))
                for kind in ChargeKind
            }
            if by_kind[ChargeKind.SPECIAL_HANDLING]:
                self.money("SpecialHandlingAmount", by_kind[ChargeKind.SPECIAL_HANDLING])
            if by_kind[ChargeKind.SHIPPING]:
                self.money("ShippingAmount", by_kind[ChargeKind.SHIPPING])
            gross = (
                inv.subtotal
                + inv.tax_total
                + by_kind[ChargeKind.SPECIAL_HANDLING]
                + by_kind[ChargeKind.SHIPPING]
            )
            self.money("GrossAmount", gross)
            if by_kind[ChargeKind.DISCOUNT]:
                # cXML carries the discount as a positive amount that is subtracted.
                self.money("InvoiceDetailDiscount", -by_kind[ChargeKind.DISCOUNT])
            self.money("NetAmount", inv.total)
            self.money("DueAmount", inv.total)


def render(invoice: Invoice, envelope: CxmlEnvelope) -> bytes:
    """The complete cXML document, ready to POST."""
    body = _Builder(invoice, envelope).build()
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{DOCTYPE}\n' + body).encode("utf-8")
