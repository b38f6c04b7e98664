"""Canonical invoice -> PIDX 1.61 `Invoice` (namespace http://www.pidx.org/schemas/v1.61).

Element order is not written here: `node` (mappings/pidx_elements.py) takes a container's parts by
name and appends them in the order `mappings.pidx_structure.CONTENT` gives, so the schema order lives
in one place and a part the model does not know is a bug that fails at once.

Oil and gas references (refs/PORTALS.md: "Oil and gas references travel as ReferenceInformation /
JobLocationInformation"): every line carries its own AFE number, cost center and field ticket number
(ReferenceInformation) and well (JobLocationInformation). A value every line shares is also stated
once in the header, where OpenInvoice applies it to any line without its own; a single field ticket
goes in FieldTicketInformation. The header cost center of the AR system (extrinsic `CostCenter`) is a
header reference.

Routing identities (the seller's and the buyer's identifiers at the portal) come from the profile,
like the From/To credentials of cXML, in `PidxEnvelope`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal

from lxml import etree

from hub.errors import MappingError
from hub.model import (
    Address,
    Attachment,
    ChargeKind,
    Invoice,
    InvoiceLine,
    InvoicePurpose,
    Party,
    PaymentTerms,
    ServicePeriod,
    TaxLine,
)
from mappings.pidx_elements import leaf, money, node
from mappings.pidx_structure import PIDX_VERSION, TRANSACTION_PURPOSE, VERSION

#: PIDX TaxTypeCode by canonical tax category (lower case). OpenInvoice refuses "Other".
TAX_TYPE_CODES = {
    "sales": "SalesTax",
    "use": "UseTax",
    "vat": "ValueAddedTax",
    "gst": "GoodsAndServicesTax",
    "hst": "HarmonizedSalesTax",
    "pst": "ProvincialSalesTax",
}
#: A standard invoice carries no InvoiceTypeCode, as in OpenInvoice's own examples.
INVOICE_TYPE_CODES = {
    InvoicePurpose.CREDIT_MEMO: "CreditMemo",
    InvoicePurpose.DEBIT_MEMO: "DebitMemo",
}
#: (allowanceOrChargeIndicator, AllowanceOrChargeTypeCode) by charge kind.
CHARGE_CODES = {
    ChargeKind.SHIPPING: ("Charge", "Freight"),
    ChargeKind.SPECIAL_HANDLING: ("Charge", "SpecialHandling"),
    ChargeKind.DISCOUNT: ("Allowance", "Discount"),
}
#: referenceInformationIndicator by canonical line field.
LINE_REFERENCES = (
    ("afe_number", "AFENumber"),
    ("cost_center", "CostCenter"),
    ("field_ticket_number", "FieldTicketNumber"),
)
#: The AR header's cost center arrives as this extrinsic (hub/ar/sql.py).
COST_CENTER_EXTRINSIC = "CostCenter"


@dataclass(frozen=True)
class PartyIdentifier:
    """How the portal knows a party: `<PartnerIdentifier partnerIdentifierIndicator=...>`."""

    identifier: str
    indicator: str = "DUNSNumber"


@dataclass(frozen=True)
class PidxEnvelope:
    """Everything the document needs besides the invoice."""

    invoice_number: str  # the number the portal sees (the AR number unless renumbered)
    seller: PartyIdentifier
    buyer: PartyIdentifier
    timezone: tzinfo = UTC  # calendar dates are rendered at midnight in the supplier's zone
    attachment_ids: Mapping[str, str] = field(default_factory=dict)  # filename -> MIME Content-ID


def _fmt(amount: Decimal) -> str:
    return format(amount, "f")


def _dt(value: date | datetime, zone: tzinfo) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return datetime.combine(value, time(0, 0), tzinfo=zone).isoformat()


def _common(values: Iterable[str | None]) -> str | None:
    """The one value every line has, or None (some line lacks it, or lines differ)."""
    distinct = set(values)
    if len(distinct) == 1:
        (only,) = distinct
        return only or None
    return None


def _references(entries: Iterable[tuple[str, str | None, str | None]]) -> list[etree._Element]:
    """ReferenceInformation for each (indicator, number, description) with a number."""
    return [
        node(
            "ReferenceInformation",
            {"referenceInformationIndicator": indicator},
            ReferenceNumber=number,
            Description=description,
        )
        for indicator, number, description in entries
        if number
    ]


def _well(well_id: str | None) -> etree._Element | None:
    if not well_id:
        return None
    return node("JobLocationInformation", WellInformation=node("WellInformation", WellIdentifier=well_id))


class _Builder:
    def __init__(self, invoice: Invoice, envelope: PidxEnvelope):
        self.invoice = invoice
        self.env = envelope

    def build(self) -> etree._Element:
        inv = self.invoice
        if inv.purpose is InvoicePurpose.CANCEL:
            raise MappingError(
                f"OpenInvoice takes no cancellation documents from portalhub: cancel "
                f"{inv.original_invoice_number} in the portal, or send a credit memo"
            )
        return node(
            "Invoice",
            {TRANSACTION_PURPOSE: "Original", VERSION: PIDX_VERSION},
            InvoiceProperties=self.properties(),
            InvoiceDetails=node("InvoiceDetails", InvoiceLineItem=[self.line(line) for line in inv.lines]),
            InvoiceSummary=self.summary(),
        )

    # --- InvoiceProperties -----------------------------------------------------------------------------
    def properties(self) -> etree._Element:
        inv, env = self.invoice, self.env
        lines = inv.lines
        ticket = _common(line.field_ticket_number for line in lines)
        return node(
            "InvoiceProperties",
            InvoiceNumber=env.invoice_number,
            InvoiceDate=_dt(inv.invoice_date, env.timezone),
            PartnerInformation=self.partners(),
            InvoiceTypeCode=INVOICE_TYPE_CODES.get(inv.purpose),
            PurchaseOrderInformation=node(
                "PurchaseOrderInformation",
                PurchaseOrderNumber=inv.po_number,
                PurchaseOrderIssuedDate=_dt(inv.po_date, env.timezone) if inv.po_date else None,
            )
            if inv.po_number
            else None,
            FieldTicketInformation=node("FieldTicketInformation", FieldTicketNumber=ticket)
            if ticket
            else None,
            PrimaryCurrency=node("PrimaryCurrency", CurrencyCode=inv.currency),
            JobLocationInformation=_well(_common(line.well_id for line in lines)),
            PaymentTerms=self.terms(inv.payment_terms),
            ReferenceInformation=self.header_references(),
            Attachment=[self.attachment(a) for a in inv.attachments],
            Comment=inv.comments,
        )

    def partners(self) -> list[etree._Element]:
        inv, env = self.invoice, self.env
        supplier = inv.supplier
        partners = [
            self.partner("Seller", supplier, env.seller, supplier.tax_id, "AccountsReceivable"),
            self.partner("SoldTo", inv.buyer, env.buyer, inv.buyer.tax_id, "AccountsPayable"),
            self.partner("RemitTo", supplier.remit_to or supplier, None, None, "AccountsReceivable"),
        ]
        if inv.bill_to is not None:
            partners.append(self.partner("BillTo", inv.bill_to, None, None, "AccountsPayable"))
        if inv.ship_to is not None:
            partners.append(self.partner("ShipToParty", inv.ship_to, None, None, None))
        return partners

    def partner(
        self,
        role: str,
        party: Party,
        routing: PartyIdentifier | None,
        tax_id: str | None,
        contact_role: str | None,
    ) -> etree._Element:
        identifiers = []
        if routing is not None:
            identifiers.append(
                leaf(
                    "PartnerIdentifier", routing.identifier, {"partnerIdentifierIndicator": routing.indicator}
                )
            )
        elif party.party_id:
            identifiers.append(
                leaf("PartnerIdentifier", party.party_id, {"partnerIdentifierIndicator": "AssignedBySeller"})
            )
        if tax_id:
            identifiers.append(
                leaf(
                    "PartnerIdentifier",
                    tax_id,
                    {"partnerIdentifierIndicator": "Other", "definitionOfOther": "TaxIdentificationNumber"},
                )
            )
        contact = (
            node(
                "ContactInformation", {"contactInformationIndicator": contact_role}, EmailAddress=party.email
            )
            if party.email
            else None
        )
        return node(
            "PartnerInformation",
            {"partnerRoleIndicator": role},
            PartnerIdentifier=identifiers,
            PartnerName=party.name,
            AddressInformation=self.address(party.address) if party.address else None,
            ContactInformation=[contact] if contact is not None else None,
        )

    @staticmethod
    def address(address: Address) -> etree._Element:
        return node(
            "AddressInformation",
            StreetName=[leaf("StreetName", street) for street in address.street],
            CityName=address.city,
            StateProvince=address.state,
            PostalCode=address.postal_code,
            PostalCountry=node("PostalCountry", CountryCode=address.country),
        )

    @staticmethod
    def terms(terms: PaymentTerms | None) -> etree._Element | None:
        if terms is None:
            return None
        discount = bool(terms.discount_percent) and terms.discount_days is not None
        return node(
            "PaymentTerms",
            PaymentTermsBasisDateCode="InvoiceDate",
            TermsNetDays=str(terms.net_days),
            DaysDue=str(terms.discount_days) if discount else None,
            PercentDiscount=_fmt(terms.discount_percent) if discount and terms.discount_percent else None,
        )

    def header_references(self) -> list[etree._Element]:
        inv = self.invoice
        lines = inv.lines
        cost_center = inv.extrinsics.get(COST_CENTER_EXTRINSIC) or _common(line.cost_center for line in lines)
        others = [
            ("Other", value, name) for name, value in inv.extrinsics.items() if name != COST_CENTER_EXTRINSIC
        ]
        return _references(
            [
                ("AFENumber", _common(line.afe_number for line in lines), None),
                ("CostCenter", cost_center, None),
                ("ContractNumber", inv.contract_number, None),
                ("OriginalInvoiceNumber", inv.original_invoice_number, None),
                *others,
            ]
        )

    def attachment(self, attachment: Attachment) -> etree._Element:
        content_id = self.env.attachment_ids.get(attachment.filename)
        if not content_id:
            raise MappingError(f"attachment {attachment.filename} has no content id to refer to it by")
        return node(
            "Attachment",
            AttachmentPurposeCode="Other",
            FileName=attachment.filename,
            FileType=attachment.content_type,
            AttachmentLocation=f"cid:{content_id}",
        )

    # --- InvoiceDetails --------------------------------------------------------------------------------
    def line(self, line: InvoiceLine) -> etree._Element:
        identifiers = []
        if line.supplier_part_id:
            identifiers.append(
                leaf("LineItemIdentifier", line.supplier_part_id, {"identifierIndicator": "AssignedBySeller"})
            )
        if line.buyer_part_id:
            identifiers.append(
                leaf("LineItemIdentifier", line.buyer_part_id, {"identifierIndicator": "AssignedByBuyer"})
            )
        references: list[tuple[str, str | None, str | None]] = [
            (indicator, getattr(line, attribute), None) for attribute, indicator in LINE_REFERENCES
        ]
        references += [("Other", value, name) for name, value in line.extrinsics.items()]
        return node(
            "InvoiceLineItem",
            LineItemNumber=str(line.line_number),
            InvoiceQuantity=node(
                "InvoiceQuantity", Quantity=_fmt(line.quantity), UnitOfMeasureCode=line.unit_of_measure
            ),
            LineItemInformation=node(
                "LineItemInformation", LineItemIdentifier=identifiers, LineItemDescription=line.description
            ),
            PurchaseOrderLineItemNumber=str(line.po_line_number) if line.po_line_number is not None else None,
            Pricing=node(
                "Pricing",
                UnitPrice=node(
                    "UnitPrice", MonetaryAmount=_fmt(line.unit_price), UnitOfMeasureCode=line.unit_of_measure
                ),
            ),
            Tax=[self.tax(tax) for tax in line.taxes],
            LineItemTotal=money("LineItemTotal", line.amount),
            ServiceDateTime=self.service(line.service_period),
            ReferenceInformation=_references(references),
            JobLocationInformation=_well(line.well_id),
        )

    def service(self, period: ServicePeriod | None) -> list[etree._Element]:
        if period is None:
            return []
        zone = self.env.timezone
        return [
            leaf("ServiceDateTime", _dt(period.start, zone), {"dateTypeIndicator": "ServicePeriodStart"}),
            leaf("ServiceDateTime", _dt(period.end, zone), {"dateTypeIndicator": "ServicePeriodEnd"}),
        ]

    @staticmethod
    def tax_code(category: str) -> str:
        code = TAX_TYPE_CODES.get(category.lower())
        if code is None:
            raise MappingError(
                f"tax category {category!r} has no PIDX TaxTypeCode OpenInvoice accepts "
                f"(known: {', '.join(sorted(TAX_TYPE_CODES))})"
            )
        return code

    def tax(self, tax: TaxLine) -> etree._Element:
        description = ", ".join(part for part in (tax.description, tax.jurisdiction) if part) or None
        return node(
            "Tax",
            TaxTypeCode=self.tax_code(tax.category),
            TaxRate=_fmt(tax.rate_percent) if tax.rate_percent is not None else None,
            TaxBasisAmount=money("TaxBasisAmount", tax.taxable_amount)
            if tax.taxable_amount is not None
            else None,
            TaxAmount=money("TaxAmount", tax.amount),
            Description=description,
        )

    # --- InvoiceSummary --------------------------------------------------------------------------------
    def summary(self) -> etree._Element:
        inv = self.invoice
        # Line taxes are summed per tax type; header-level taxes appear nowhere else, so in full.
        by_code: dict[str, Decimal] = {}
        for line in inv.lines:
            for tax in line.taxes:
                code = self.tax_code(tax.category)
                by_code[code] = by_code.get(code, Decimal(0)) + tax.amount
        taxes = [
            node("Tax", TaxTypeCode=code, TaxAmount=money("TaxAmount", amount))
            for code, amount in by_code.items()
        ]
        taxes += [self.tax(tax) for tax in inv.taxes]
        charges = []
        for charge in inv.charges:
            indicator, code = CHARGE_CODES[charge.kind]
            charges.append(
                node(
                    "AllowanceOrCharge",
                    {"allowanceOrChargeIndicator": indicator},
                    AllowanceOrChargeTypeCode=code,
                    # An allowance is written as a positive amount that is subtracted.
                    AllowanceOrChargeTotalAmount=money("AllowanceOrChargeTotalAmount", abs(charge.amount)),
                    Description=charge.description,
                )
            )
        return node(
            "InvoiceSummary",
            TotalLineItems=str(len(inv.lines)),
            InvoiceTotal=money("InvoiceTotal", inv.total),
            AllowanceOrCharge=charges,
            Tax=taxes,
            SubTotalAmount=money("SubTotalAmount", inv.subtotal, {"subTotalIndicator": "Other"}),
        )


def render_tree(invoice: Invoice, envelope: PidxEnvelope) -> etree._Element:
    """The document as a tree: pre-flight runs XPath rules (`pidx:` prefix) and the structure check on it."""
    return _Builder(invoice, envelope).build()


def serialize(root: etree._Element) -> bytes:
    # Indented: the stored copy is read by people (`portalhub show`); PIDX has no mixed content, so
    # the whitespace means nothing to a portal.
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def render(invoice: Invoice, envelope: PidxEnvelope) -> bytes:
    """The complete PIDX invoice, ready to send."""
    return serialize(render_tree(invoice, envelope))
