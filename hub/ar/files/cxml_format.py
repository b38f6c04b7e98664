"""cXML InvoiceDetailRequest exports -> the canonical invoice, re-targeted to the buyer's own portal.

Some AR systems already speak cXML (they invoiced one network directly, or kept what Coupa sent). The
document is read into the canonical invoice, and from there the hub renders what the customer's portal
wants, with the hub's own credentials: the export's Header (From/To/Sender and its SharedSecret) is
never reused or kept. The supplier is the hub's own (portalhub.yaml).

Every form InvoiceDetail.dtd allows for what the canonical invoice holds is read (docs/ar-adapters.md):

- the customer: the first of the To credential (`DOMAIN:identity`, then identity), the soldTo addressID
  or the soldTo name that the `customers:` settings map; otherwise the soldTo addressID or To identity as
  written. The buyer is the soldTo contact, else the billTo contact, else the mapped customer's `name`
  (or its id) with the To identity: a document whose To credential names the customer needs no soldTo;
- the PO: `OrderReference@orderID`, else `OrderReference/DocumentReference@payloadID` (Coupa-origin
  documents), else `OrderIDInfo@orderID`; the contract: `MasterAgreementReference@agreementID` (or its
  DocumentReference payloadID) or `MasterAgreementIDInfo@agreementID`; the supplier's own order number
  (`SupplierOrderInfo`) is kept as the `SupplierOrderID` extrinsic when it is not the invoice number;
- lines: InvoiceDetailItem and InvoiceDetailServiceItem (quantity and price optional there: one unit of
  the SubtotalAmount; UnitRate as the price), or each InvoiceDetailOrderSummary of a header-level
  invoice (InvoiceDetailHeaderOrder) as one line of one unit;
- payment terms: InvoiceDetailPaymentTerm (percentageRate 0 = net days) or PaymentTerm
  payInNumberOfDays with an optional Discount/DiscountPercent;
- taxes on lines and in the summary (details in the summary beyond the lines' are header-level taxes),
  ShippingAmount, SpecialHandlingAmount (or their line-level forms when the summary has none) and the
  invoice-level discount.

A value that is present but cannot be read is an error naming the element and the document line.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from hub.ar.files.common import BadValue, strict_date
from hub.ar.files.cxml_values import Values, at, text
from hub.ar.files.settings import FilesSettings
from hub.model import (
    Address,
    Charge,
    ChargeKind,
    Invoice,
    InvoiceLine,
    InvoicePurpose,
    Party,
    Supplier,
    TaxLine,
)

_PURPOSES = {
    "standard": InvoicePurpose.INVOICE,
    "creditMemo": InvoicePurpose.CREDIT_MEMO,
    "lineLevelCreditMemo": InvoicePurpose.CREDIT_MEMO,
    "debitMemo": InvoicePurpose.DEBIT_MEMO,
    "lineLevelDebitMemo": InvoicePurpose.DEBIT_MEMO,
}
_LINES = ("InvoiceDetailItem", "InvoiceDetailServiceItem")


class _Reader:
    def __init__(self, root: etree._Element, settings: FilesSettings, supplier: Supplier):
        self.root = root
        self.settings = settings
        self.supplier = supplier
        self.values = Values()

    def invoice(self) -> Invoice:
        request = self.root.find("Request/InvoiceDetailRequest")
        if request is None:
            found = self.root.find("Request/*")
            what = f"a {found.tag}" if found is not None else "no request"
            raise BadValue(f"the cXML document holds {what}, not an InvoiceDetailRequest")
        head = request.find("InvoiceDetailRequestHeader")
        if head is None:
            raise BadValue("InvoiceDetailRequestHeader is missing")
        summary = request.find("InvoiceDetailSummary")
        if summary is None:
            raise BadValue("InvoiceDetailSummary is missing")
        money = self.values.money
        # Summary first: its Money fixes the invoice's currency for every amount read after it.
        subtotal = self.values.required(summary.find("SubtotalAmount"), "InvoiceDetailSummary/SubtotalAmount")
        tax = summary.find("Tax")
        tax_total = self.values.required(tax, "InvoiceDetailSummary/Tax") if tax is not None else Decimal(0)
        total = self.values.required(summary.find("NetAmount"), "InvoiceDetailSummary/NetAmount")
        handling = money(
            summary.find("SpecialHandlingAmount"), "InvoiceDetailSummary/SpecialHandlingAmount", False
        )
        shipping = money(summary.find("ShippingAmount"), "InvoiceDetailSummary/ShippingAmount", False)
        discount = money(summary.find("InvoiceDetailDiscount"), "InvoiceDetailDiscount", required=False)

        purpose_text = head.get("purpose", "standard")
        if head.get("operation") == "delete":
            purpose = InvoicePurpose.CANCEL
        elif purpose_text in _PURPOSES:
            purpose = _PURPOSES[purpose_text]
        else:
            raise BadValue(f"InvoiceDetailRequestHeader purpose {purpose_text!r} is not one portalhub sends")
        number = head.get("invoiceID", "").strip()
        if not number:
            raise BadValue("InvoiceDetailRequestHeader has no invoiceID")
        invoice_date = strict_date(head.get("invoiceDate"), "invoiceDate")
        if invoice_date is None:
            raise BadValue("InvoiceDetailRequestHeader has no invoiceDate")

        contacts = {c.get("role"): c for c in head.findall("InvoicePartner/Contact")}
        tax_ids = {
            ref.get("domain"): ref.get("identifier")
            for ref in head.findall("InvoicePartner/IdReference")
            if ref.get("identifier")
        }
        customer = self.customer(contacts.get("soldTo"))
        buyer = self.buyer(contacts, customer).model_copy(update={"tax_id": tax_ids.get("buyerTaxID")})
        bill_to = self.party(contacts["billTo"], "billTo") if "billTo" in contacts else None
        ship_contact = head.find("InvoiceDetailShipping/Contact[@role='shipTo']")
        ship_to = self.party(ship_contact, "shipTo") if ship_contact is not None else None
        original = head.find("InvoiceIDInfo")

        orders = request.findall("InvoiceDetailOrder")
        header_orders = request.findall("InvoiceDetailHeaderOrder")
        if not orders and not header_orders:
            raise BadValue(
                "the invoice has neither InvoiceDetailOrder nor InvoiceDetailHeaderOrder (no lines)"
            )
        po_number, po_date, contract, supplier_order = self.order_references(
            [o.find("InvoiceDetailOrderInfo") for o in [*orders, *header_orders]]
        )
        lines: list[InvoiceLine] = []
        line_handling = line_shipping = Decimal(0)
        for order in orders:
            for item in order:
                if item.tag in _LINES:
                    lines.append(self.values.line(item))
                    extra = self.values.line_charges(item, f"line {item.get('invoiceLineNumber')}")
                    line_handling, line_shipping = line_handling + extra[0], line_shipping + extra[1]
        for order in header_orders:
            order_summary = order.find("InvoiceDetailOrderSummary")
            if order_summary is None:
                raise BadValue(f"InvoiceDetailHeaderOrder has no InvoiceDetailOrderSummary {at(order)}")
            named = po_number or contract or supplier_order
            lines.append(self.values.order_summary(order_summary, f"Order {named}" if named else "Order"))
            extra = self.values.line_charges(order_summary, f"line {order_summary.get('invoiceLineNumber')}")
            line_handling, line_shipping = line_handling + extra[0], line_shipping + extra[1]

        charges = []
        # The summary's amounts are the invoice's; line-level ones stand in only when it has none.
        for kind, amount in (
            (ChargeKind.SHIPPING, shipping if shipping is not None else line_shipping),
            (ChargeKind.SPECIAL_HANDLING, handling if handling is not None else line_handling),
        ):
            if amount:
                charges.append(Charge(kind=kind, amount=amount))
        if discount:
            # cXML carries a discount as a positive amount subtracted; the canonical charge is negative.
            charges.append(Charge(kind=ChargeKind.DISCOUNT, amount=-abs(discount)))

        comments = head.find("Comments")
        extrinsics = {e.get("name", ""): e.text or "" for e in head.findall("Extrinsic") if e.get("name")}
        if supplier_order and supplier_order != number:
            extrinsics.setdefault("SupplierOrderID", supplier_order)
        return Invoice(
            invoice_number=number,
            invoice_date=invoice_date,
            purpose=purpose,
            currency=self.values.currency or "",
            customer_id=customer,
            po_number=po_number,
            po_date=po_date,
            contract_number=contract,
            original_invoice_number=original.get("invoiceID") if original is not None else None,
            original_invoice_date=strict_date(original.get("invoiceDate"), "InvoiceIDInfo invoiceDate")
            if original is not None
            else None,
            payment_terms=self.values.terms(head),
            supplier=self.supplier,
            buyer=buyer,
            bill_to=bill_to,
            ship_to=ship_to,
            lines=lines,
            taxes=self.header_taxes(tax, tax_total, lines),
            charges=charges,
            subtotal=subtotal,
            tax_total=tax_total,
            total=total,
            comments=(comments.text or None) if comments is not None else None,
            extrinsics=extrinsics,
        )

    def header_taxes(
        self, tax: etree._Element | None, tax_total: Decimal, lines: list[InvoiceLine]
    ) -> list[TaxLine]:
        """The summary's taxes that are not the lines': its TaxDetails, unless they only recap the lines'
        taxes; a summary total above the lines' taxes without details is one header tax of the rest."""
        if tax is None:
            return []
        details = self.values.taxes(tax, "InvoiceDetailSummary/Tax", summary=True)
        on_lines = sum((line.tax_total for line in lines), Decimal(0))
        detailed = sum((t.amount for t in details), Decimal(0))
        if details and on_lines and on_lines + detailed != tax_total and detailed == tax_total:
            return []  # the summary repeats the lines' taxes
        if details:
            return details
        rest = tax_total - on_lines
        if rest:
            return [TaxLine(amount=rest, description=text(tax.find("Description")) if not on_lines else None)]
        return []

    def customer(self, sold_to: etree._Element | None) -> str:
        identities = []
        for credential in self.root.findall("Header/To/Credential"):
            identity = text(credential.find("Identity"))
            if identity:
                identities += [f"{credential.get('domain', '')}:{identity}", identity]
        address_id = sold_to.get("addressID") if sold_to is not None else None
        name = text(sold_to.find("Name")) if sold_to is not None else None
        mapped = self.settings.customer_for([*identities, address_id or "", name or ""])
        if mapped:
            return mapped
        fallback = address_id or (identities[1] if len(identities) > 1 else None)
        if not fallback:
            raise BadValue(
                "the buyer cannot be told: no To credential, no soldTo addressID; map it under `customers:`"
            )
        return fallback

    def buyer(self, contacts: dict[str | None, etree._Element], customer: str) -> Party:
        """The soldTo contact; without one the billTo contact; without either the customer as mapped."""
        for role in ("soldTo", "billTo"):
            if role in contacts:
                return self.party(contacts[role], role)
        entry = self.settings.customers.get(customer)
        to_identity = text(self.root.find("Header/To/Credential/Identity"))
        return Party(
            name=(entry.name if entry is not None and entry.name else customer),
            party_id=(entry.party_id if entry is not None and entry.party_id else to_identity),
        )

    def party(self, contact: etree._Element, role: str) -> Party:
        name = text(contact.find("Name"))
        if not name:
            raise BadValue(f"the {role} contact has no Name {at(contact)}".rstrip())
        postal = contact.find("PostalAddress")
        address = None
        if postal is not None:
            country = postal.find("Country")
            address = Address(
                street=[s.text.strip() for s in postal.findall("Street") if s.text and s.text.strip()],
                city=text(postal.find("City")) or "",
                state=text(postal.find("State")),
                postal_code=text(postal.find("PostalCode")),
                country=(country.get("isoCountryCode") or text(country) or "") if country is not None else "",
            )
        return Party(
            name=name, party_id=contact.get("addressID"), email=text(contact.find("Email")), address=address
        )

    def order_references(
        self, infos: list[etree._Element | None]
    ) -> tuple[str | None, date | None, str | None, str | None]:
        """(PO number, PO date, contract, supplier order) named by the orders' InvoiceDetailOrderInfo."""
        pos: dict[str, str | None] = {}
        contracts: set[str] = set()
        supplier_orders: set[str] = set()
        for info in infos:
            if info is None:
                raise BadValue("an order of the invoice has no InvoiceDetailOrderInfo")
            for ref in info.findall("OrderReference"):
                inner = ref.find("DocumentReference")
                payload = (inner.get("payloadID") or "").strip() if inner is not None else ""
                po = (ref.get("orderID") or "").strip() or payload
                if not po:
                    raise BadValue(
                        f"OrderReference names no order: neither orderID nor a DocumentReference payloadID {at(ref)}"
                    )
                pos[po] = pos.get(po) or ref.get("orderDate")
            for ref in info.findall("OrderIDInfo"):
                po = (ref.get("orderID") or "").strip()
                if not po:
                    raise BadValue(f"OrderIDInfo has an empty orderID {at(ref)}")
                pos[po] = pos.get(po) or ref.get("orderDate")
            for ref in info.findall("MasterAgreementReference"):
                inner = ref.find("DocumentReference")
                agreement = (ref.get("agreementID") or "").strip() or (
                    (inner.get("payloadID") or "").strip() if inner is not None else ""
                )
                if not agreement:
                    raise BadValue(
                        f"MasterAgreementReference names no contract: neither agreementID nor a "
                        f"DocumentReference payloadID {at(ref)}"
                    )
                contracts.add(agreement)
            for ref in info.findall("MasterAgreementIDInfo"):
                if not (ref.get("agreementID") or "").strip():
                    raise BadValue(f"MasterAgreementIDInfo has an empty agreementID {at(ref)}")
                contracts.add((ref.get("agreementID") or "").strip())
            for ref in info.findall("SupplierOrderInfo"):
                if (ref.get("orderID") or "").strip():
                    supplier_orders.add((ref.get("orderID") or "").strip())
        if len(pos) > 1 or len(contracts) > 1:
            raise BadValue("the invoice bills several purchase orders or contracts; send one invoice per PO")
        po_number, po_date = next(iter(pos.items()), (None, None))
        return (
            po_number,
            strict_date(po_date, "OrderReference orderDate"),
            next(iter(contracts), None),
            min(supplier_orders) if supplier_orders else None,
        )


def invoice_from_cxml(root: etree._Element, settings: FilesSettings, supplier: Supplier) -> Invoice:
    """The canonical invoice of a parsed cXML InvoiceDetailRequest (raises BadValue / ValidationError)."""
    return _Reader(root, settings, supplier).invoice()


def cxml_number(root: etree._Element) -> str | None:
    head = root.find("Request/InvoiceDetailRequest/InvoiceDetailRequestHeader")
    return (head.get("invoiceID") or None) if head is not None else None
