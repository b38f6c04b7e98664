"""Canonical invoice -> PIDX 1.61 `Invoice` (namespace http://www.pidx.org/schemas/v1.61).

The official schema (SCHEMA_PIDX_1.61_Invoice.xsd) decides what is valid: each element is built with
its children in the schema's order (`node` keeps the order given), dates the schema types `xs:date`
are written as dates, and every code comes from the schema's own code lists. docs/pidx.md says how
the canonical model's values map onto those lists and where each field travels.

Oil and gas references (refs/PORTALS.md: "Oil and gas references travel as ReferenceInformation /
JobLocationInformation"): every line carries its own AFE number and cost center (ReferenceInformation),
field ticket (FieldTicketInformation; the schema has no field-ticket reference code) and well
(JobLocationInformation). A value every line shares is also stated once in the header, where
OpenInvoice applies it to any line without its own. The header cost center of the AR system
(extrinsic `CostCenter`) is a header reference.

Routing identities (the seller's and the buyer's identifiers at the portal) come from the profile,
like the From/To credentials of cXML, in `PidxEnvelope`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, tzinfo
from decimal import Decimal

from lxml import etree

from hub.errors import MappingError
from hub.model import (
    Address,
    Attachment,
    Invoice,
    InvoiceLine,
    InvoicePurpose,
    Party,
    PaymentTerms,
    ServicePeriod,
    TaxLine,
)
from mappings.pidx_codes import (
    AP_CONTACT,
    AR_CONTACT,
    CHARGE_CODES,
    COST_CENTER_EXTRINSIC,
    INVOICE_TYPE_CODES,
    LINE_REFERENCES,
    tax_type_code,
)
from mappings.pidx_elements import (
    PIDX_VERSION,
    TRANSACTION_PURPOSE,
    VERSION,
    Markup,
    document,
    leaf,
    money,
    node,
)
from mappings.portal_values import day_as_instant, plain_decimal


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
    timezone: tzinfo = UTC  # service dates (xs:dateTime) are rendered at midnight in the supplier's zone
    attachment_ids: Mapping[str, str] = field(default_factory=dict)  # filename -> MIME Content-ID


def _day(value: date) -> str:
    """An `xs:date`: the calendar day, without a time or zone (InvoiceDate, PurchaseOrderIssuedDate)."""
    return value.isoformat()


def _common(values: Iterable[str | None]) -> str | None:
    """The one value every line has, or None (some line lacks it, or lines differ)."""
    distinct = set(values)
    if len(distinct) == 1:
        (only,) = distinct
        return only or None
    return None


def _references(entries: Iterable[tuple[str, str | None, str | None]]) -> list[Markup]:
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


def _well(well_id: str | None) -> Markup | None:
    if not well_id:
        return None
    return node("JobLocationInformation", WellInformation=node("WellInformation", WellIdentifier=well_id))


def _field_ticket(number: str | None) -> Markup | None:
    return node("FieldTicketInformation", FieldTicketNumber=number) if number else None


class _Builder:
    def __init__(self, invoice: Invoice, envelope: PidxEnvelope):
        self.invoice = invoice
        self.env = envelope

    def build(self) -> Markup:
        inv = self.invoice
        if inv.purpose is InvoicePurpose.CANCEL:
            raise MappingError(
                f"OpenInvoice takes no cancellation documents from portalhub: cancel "
                f"{inv.original_invoice_number} in the portal, or send a credit memo"
            )
        return node(
            "Invoice",
            {TRANSACTION_PURPOSE: "Original", VERSION: PIDX_VERSION},
            root=True,
            InvoiceProperties=self.properties(),
            InvoiceDetails=node("InvoiceDetails", InvoiceLineItem=[self.line(line) for line in inv.lines]),
            InvoiceSummary=self.summary(),
        )

    # --- InvoiceProperties -----------------------------------------------------------------------------
    def properties(self) -> Markup:
        inv, env = self.invoice, self.env
        lines = inv.lines
        return node(
            "InvoiceProperties",
            InvoiceNumber=env.invoice_number,
            InvoiceDate=_day(inv.invoice_date),
            PartnerInformation=self.partners(),
            InvoiceTypeCode=INVOICE_TYPE_CODES.get(inv.purpose),
            PurchaseOrderInformation=node(
                "PurchaseOrderInformation",
                PurchaseOrderNumber=inv.po_number,
                PurchaseOrderIssuedDate=_day(inv.po_date) if inv.po_date else None,
            )
            if inv.po_number
            else None,
            FieldTicketInformation=_field_ticket(_common(line.field_ticket_number for line in lines)),
            PrimaryCurrency=node("PrimaryCurrency", CurrencyCode=inv.currency),
            JobLocationInformation=_well(_common(line.well_id for line in lines)),
            PaymentTerms=self.terms(inv.payment_terms),
            ReferenceInformation=self.header_references(),
            Attachment=[self.attachment(a) for a in inv.attachments],
            Comment=inv.comments,
        )

    def partners(self) -> list[Markup]:
        inv, env = self.invoice, self.env
        supplier = inv.supplier
        # The schema wants at least one PartnerIdentifier per partner: a remit-to, bill-to or ship-to
        # without its own id is identified by the company it belongs to (the profile's routing id).
        partners = [
            self.partner("Seller", supplier, env.seller, AR_CONTACT),
            self.partner("SoldTo", inv.buyer, env.buyer, AP_CONTACT),
            self.partner("RemitTo", supplier.remit_to or supplier, env.seller, AR_CONTACT, own_id=True),
        ]
        if inv.bill_to is not None:
            partners.append(self.partner("BillTo", inv.bill_to, env.buyer, AP_CONTACT, own_id=True))
        if inv.ship_to is not None:
            partners.append(self.partner("ShipToParty", inv.ship_to, env.buyer, None, own_id=True))
        return partners

    def partner(
        self,
        role: str,
        party: Party,
        routing: PartyIdentifier,
        contact_role: str | None,
        *,
        own_id: bool = False,
    ) -> Markup:
        if own_id and party.party_id:
            identifier = leaf(
                "PartnerIdentifier", party.party_id, {"partnerIdentifierIndicator": "AssignedBySeller"}
            )
        else:
            identifier = leaf(
                "PartnerIdentifier", routing.identifier, {"partnerIdentifierIndicator": routing.indicator}
            )
        contact = (
            node("ContactInformation", ContactDescription=contact_role, EmailAddress=party.email)
            if party.email
            else None
        )
        return node(
            "PartnerInformation",
            {"partnerRoleIndicator": role},
            PartnerIdentifier=identifier,
            PartnerName=party.name,
            AddressInformation=self.address(party.address) if party.address else None,
            ContactInformation=contact,
            TaxInformation=node("TaxInformation", TaxIdentifierNumber=party.tax_id) if party.tax_id else None,
        )

    @staticmethod
    def address(address: Address) -> Markup:
        # One StreetName in the schema; further street lines are AddressLines.
        first, *more = address.street
        return node(
            "AddressInformation",
            StreetName=first,
            AddressLine=[leaf("AddressLine", street) for street in more],
            CityName=address.city,
            StateProvince=address.state,
            PostalCode=address.postal_code,
            PostalCountry=node("PostalCountry", CountryCode=address.country),
        )

    @staticmethod
    def terms(terms: PaymentTerms | None) -> Markup | None:
        if terms is None:
            return None
        discount = bool(terms.discount_percent) and terms.discount_days is not None
        return node(
            "PaymentTerms",
            Description=terms.description,
            PaymentTermsBasisDateCode="InvoiceDate",
            TermsNetDays=str(terms.net_days),
            Discounts=node(
                "Discounts",
                DaysDue=str(terms.discount_days),
                PercentDiscount=plain_decimal(terms.discount_percent) if terms.discount_percent else None,
            )
            if discount
            else None,
        )

    def header_references(self) -> list[Markup]:
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

    def attachment(self, attachment: Attachment) -> Markup:
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
    def line(self, line: InvoiceLine) -> Markup:
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
                "InvoiceQuantity",
                Quantity=plain_decimal(line.quantity),
                UnitOfMeasureCode=line.unit_of_measure,
            ),
            LineItemInformation=node(
                "LineItemInformation", LineItemIdentifier=identifiers, LineItemDescription=line.description
            ),
            PurchaseOrderLineItemNumber=str(line.po_line_number) if line.po_line_number is not None else None,
            FieldTicketInformation=_field_ticket(line.field_ticket_number),
            JobLocationInformation=_well(line.well_id),
            Pricing=node(
                "Pricing",
                UnitPrice=node(
                    "UnitPrice",
                    MonetaryAmount=plain_decimal(line.unit_price),
                    UnitOfMeasureCode=line.unit_of_measure,
                ),
            ),
            Tax=[self.tax(tax) for tax in line.taxes],
            LineItemTotal=money("LineItemTotal", line.amount),
            ServiceDateTime=self.service(line.service_period),
            ReferenceInformation=_references(references),
        )

    def service(self, period: ServicePeriod | None) -> list[Markup]:
        if period is None:
            return []
        zone = self.env.timezone
        return [
            leaf(
                "ServiceDateTime",
                day_as_instant(period.start, zone),
                {"dateTypeIndicator": "ServicePeriodStart"},
            ),
            leaf(
                "ServiceDateTime", day_as_instant(period.end, zone), {"dateTypeIndicator": "ServicePeriodEnd"}
            ),
        ]

    @staticmethod
    def tax(tax: TaxLine) -> Markup:
        # The schema's Tax has no Description: the jurisdiction is the TaxLocation's name, the
        # supplier's words about the tax are its TaxReference.
        return node(
            "Tax",
            TaxTypeCode=tax_type_code(tax.category),
            TaxLocation=node("TaxLocation", LocationName=tax.jurisdiction) if tax.jurisdiction else None,
            TaxRate=plain_decimal(tax.rate_percent) if tax.rate_percent is not None else None,
            TaxBasisAmount=money("TaxBasisAmount", tax.taxable_amount)
            if tax.taxable_amount is not None
            else None,
            TaxAmount=money("TaxAmount", tax.amount),
            TaxReference=tax.description,
        )

    # --- InvoiceSummary --------------------------------------------------------------------------------
    def summary(self) -> Markup:
        inv = self.invoice
        # Line taxes are summed per tax type; header-level taxes appear nowhere else, so in full.
        by_code: dict[str, Decimal] = {}
        for line in inv.lines:
            for tax in line.taxes:
                code = tax_type_code(tax.category)
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
                    # An allowance is written as a positive amount that is subtracted.
                    AllowanceOrChargeTotalAmount=money("AllowanceOrChargeTotalAmount", abs(charge.amount)),
                    AllowanceOrChargeTypeCode=code,
                    AllowanceOrChargeDescription=charge.description,
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
    """The document as a tree, for tests and tools that read it: `render`'s bytes parsed, without the
    indentation (pre-flight parses the bytes themselves, `OutboundDocument.tree`)."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.fromstring(render(invoice, envelope), parser)


def serialize(root: etree._Element) -> bytes:
    """A tree written the way `render` writes a document."""
    # Indented: the stored copy is read by people (`portalhub show`); PIDX has no mixed content, so
    # the whitespace means nothing to a portal.
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def render(invoice: Invoice, envelope: PidxEnvelope) -> bytes:
    """The complete PIDX invoice, ready to send."""
    return document(_Builder(invoice, envelope).build())
