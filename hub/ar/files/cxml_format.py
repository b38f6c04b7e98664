"""cXML InvoiceDetailRequest exports -> the canonical invoice, re-targeted to the buyer's own portal.

Some AR systems already speak cXML (they invoiced one network directly). The document is read into the
canonical invoice, and from there the hub renders what the customer's portal wants, with the hub's own
credentials: the export's Header (From/To/Sender and its SharedSecret) is never reused or kept. The
customer is the first of the To credential (`DOMAIN:identity`, then identity), the soldTo addressID or
the soldTo name that the `customers:` settings map; otherwise the soldTo addressID or To identity as
written (a rules file can match on it directly). The supplier is the hub's own (portalhub.yaml).

Line-level invoices only (InvoiceDetailOrder); header-level summary invoices are refused with a reason.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from hub.ar.files.common import BadValue, strict_date, strict_decimal
from hub.ar.files.settings import FilesSettings
from hub.model import (
    Address,
    Charge,
    ChargeKind,
    Invoice,
    InvoiceLine,
    InvoicePurpose,
    Party,
    PaymentTerms,
    ServicePeriod,
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
#: Line Extrinsics that are canonical line fields (the inverse of mappings.cxml_invoice.LINE_EXTRINSICS).
_LINE_FIELDS = {
    "AFENumber": "afe_number",
    "WellID": "well_id",
    "CostCenter": "cost_center",
    "FieldTicketNumber": "field_ticket_number",
}


def _text(node: etree._Element | None) -> str | None:
    if node is None or node.text is None:
        return None
    value: str = node.text.strip()
    return value or None


class _Reader:
    def __init__(self, root: etree._Element, settings: FilesSettings, supplier: Supplier):
        self.root = root
        self.settings = settings
        self.supplier = supplier
        self.currency: str | None = None

    def money(self, node: etree._Element | None, where: str, required: bool = True) -> Decimal | None:
        money = node.find("Money") if node is not None else None
        if money is None:
            if required:
                raise BadValue(f"{where}/Money is missing")
            return None
        currency = money.get("currency")
        if self.currency is None:
            self.currency = currency
        elif currency != self.currency:
            raise BadValue(
                f"{where}/Money is in {currency}, the invoice in {self.currency}; one currency per invoice"
            )
        return strict_decimal(money.text or "", f"{where}/Money")

    def invoice(self) -> Invoice:
        request = self.root.find("Request/InvoiceDetailRequest")
        if request is None:
            found = self.root.find("Request/*")
            what = f"a {found.tag}" if found is not None else "no request"
            raise BadValue(f"the cXML document holds {what}, not an InvoiceDetailRequest")
        head = request.find("InvoiceDetailRequestHeader")
        if head is None:
            raise BadValue("InvoiceDetailRequestHeader is missing")
        if request.find("InvoiceDetailHeaderOrder") is not None:
            raise BadValue(
                "header-level invoices (InvoiceDetailHeaderOrder) are not supported: export line-level "
                "invoices (InvoiceDetailOrder with InvoiceDetailItem)"
            )
        summary = request.find("InvoiceDetailSummary")
        if summary is None:
            raise BadValue("InvoiceDetailSummary is missing")
        # Summary first: its Money fixes the invoice's currency for every amount read after it.
        subtotal = self.money(summary.find("SubtotalAmount"), "InvoiceDetailSummary/SubtotalAmount")
        tax = summary.find("Tax")
        tax_total = self.money(tax, "InvoiceDetailSummary/Tax") if tax is not None else Decimal(0)
        total = self.money(summary.find("NetAmount"), "InvoiceDetailSummary/NetAmount")
        charges = []
        for tag, kind in (
            ("ShippingAmount", ChargeKind.SHIPPING),
            ("SpecialHandlingAmount", ChargeKind.SPECIAL_HANDLING),
        ):
            amount = self.money(summary.find(tag), f"InvoiceDetailSummary/{tag}", required=False)
            if amount:
                charges.append(Charge(kind=kind, amount=amount))
        discount = self.money(summary.find("InvoiceDetailDiscount"), "InvoiceDetailDiscount", required=False)
        if discount:
            # cXML carries a discount as a positive amount subtracted; the canonical charge is negative.
            charges.append(Charge(kind=ChargeKind.DISCOUNT, amount=-abs(discount)))

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
        sold_to = contacts.get("soldTo")
        if sold_to is None:
            raise BadValue("no InvoicePartner with Contact role='soldTo' (the buyer)")
        buyer = self.party(sold_to, "soldTo").model_copy(update={"tax_id": tax_ids.get("buyerTaxID")})
        bill_to = self.party(contacts["billTo"], "billTo") if "billTo" in contacts else None
        ship_contact = head.find("InvoiceDetailShipping/Contact[@role='shipTo']")
        ship_to = self.party(ship_contact, "shipTo") if ship_contact is not None else None
        original = head.find("InvoiceIDInfo")

        orders = request.findall("InvoiceDetailOrder")
        if not orders:
            raise BadValue("the invoice has no InvoiceDetailOrder (no lines)")
        po_number, po_date, contract = self.order_references(orders)
        lines = [
            self.line(item)
            for order in orders
            for item in order
            if item.tag in ("InvoiceDetailItem", "InvoiceDetailServiceItem")
        ]
        comments = head.find("Comments")
        header_taxes = self.taxes(tax, "InvoiceDetailSummary/Tax") if tax is not None else []
        if not header_taxes and tax_total and not any(line.taxes for line in lines):
            header_taxes = [TaxLine(amount=tax_total)]  # a summary Tax with neither details nor line taxes
        return Invoice(
            invoice_number=number,
            invoice_date=invoice_date,
            purpose=purpose,
            currency=self.currency or "",
            customer_id=self.customer(sold_to),
            po_number=po_number,
            po_date=po_date,
            contract_number=contract,
            original_invoice_number=original.get("invoiceID") if original is not None else None,
            original_invoice_date=strict_date(original.get("invoiceDate"), "InvoiceIDInfo invoiceDate")
            if original is not None
            else None,
            payment_terms=self.terms(head),
            supplier=self.supplier,
            buyer=buyer,
            bill_to=bill_to,
            ship_to=ship_to,
            lines=lines,
            taxes=header_taxes,
            charges=charges,
            subtotal=subtotal,
            tax_total=tax_total,
            total=total,
            comments=(comments.text or None) if comments is not None else None,
            extrinsics={e.get("name", ""): e.text or "" for e in head.findall("Extrinsic") if e.get("name")},
        )

    def customer(self, sold_to: etree._Element) -> str:
        identities = []
        for credential in self.root.findall("Header/To/Credential"):
            identity = _text(credential.find("Identity"))
            if identity:
                identities += [f"{credential.get('domain', '')}:{identity}", identity]
        address_id = sold_to.get("addressID")
        name = _text(sold_to.find("Name"))
        mapped = self.settings.customer_for([*identities, address_id or "", name or ""])
        if mapped:
            return mapped
        fallback = address_id or (identities[1] if len(identities) > 1 else None)
        if not fallback:
            raise BadValue(
                "the buyer cannot be told: no To credential, no soldTo addressID; map it under `customers:`"
            )
        return fallback

    def party(self, contact: etree._Element, role: str) -> Party:
        name = _text(contact.find("Name"))
        if not name:
            raise BadValue(f"the {role} contact has no Name")
        postal = contact.find("PostalAddress")
        address = None
        if postal is not None:
            country = postal.find("Country")
            address = Address(
                street=[s.text.strip() for s in postal.findall("Street") if s.text and s.text.strip()],
                city=_text(postal.find("City")) or "",
                state=_text(postal.find("State")),
                postal_code=_text(postal.find("PostalCode")),
                country=(country.get("isoCountryCode") or _text(country) or "")
                if country is not None
                else "",
            )
        return Party(
            name=name, party_id=contact.get("addressID"), email=_text(contact.find("Email")), address=address
        )

    def order_references(self, orders: list[etree._Element]) -> tuple[str | None, date | None, str | None]:
        pos = {
            (ref.get("orderID"), ref.get("orderDate"))
            for order in orders
            for ref in order.findall("InvoiceDetailOrderInfo/OrderReference")
            if ref.get("orderID")
        }
        contracts = {
            ref.get("agreementID")
            for order in orders
            for ref in order.findall("InvoiceDetailOrderInfo/MasterAgreementReference")
            if ref.get("agreementID")
        }
        if len(pos) > 1 or len(contracts) > 1:
            raise BadValue("the invoice bills several purchase orders or contracts; send one invoice per PO")
        po_number, po_date = next(iter(pos), (None, None))
        return po_number, strict_date(po_date, "OrderReference orderDate"), next(iter(contracts), None)

    def line(self, item: etree._Element) -> InvoiceLine:
        number_text = item.get("invoiceLineNumber", "")
        where = f"line {number_text or '?'}"
        if not number_text.isdigit():
            raise BadValue(f"{item.tag} invoiceLineNumber {number_text!r} is not a line number")
        service = item.tag == "InvoiceDetailServiceItem"
        reference = item.find(
            "InvoiceDetailServiceItemReference" if service else "InvoiceDetailItemReference"
        )
        po_line = reference.get("lineNumber") if reference is not None else None
        if po_line and not po_line.isdigit():
            raise BadValue(f"{where}: the PO lineNumber {po_line!r} is not a number")
        quantity = strict_decimal(item.get("quantity"), f"{where} quantity")
        if quantity is None:
            raise BadValue(f"{where} has no quantity")
        fields: dict[str, str] = {}
        extrinsics: dict[str, str] = {}
        for extrinsic in item.findall("Extrinsic"):
            name, value = extrinsic.get("name", ""), extrinsic.text or ""
            if name in _LINE_FIELDS:
                fields[_LINE_FIELDS[name]] = value
            elif name:
                extrinsics[name] = value
        period = item.find("Period") if service else None
        start = (
            strict_date(period.get("startDate"), f"{where} Period startDate") if period is not None else None
        )
        end = strict_date(period.get("endDate"), f"{where} Period endDate") if period is not None else None
        tax = item.find("Tax")
        description = reference.find("Description") if reference is not None else None
        return InvoiceLine(
            line_number=int(number_text),
            po_line_number=int(po_line) if po_line else None,
            supplier_part_id=_text(reference.find("ItemID/SupplierPartID"))
            if reference is not None
            else None,
            buyer_part_id=_text(reference.find("ItemID/BuyerPartID")) if reference is not None else None,
            description=(description.text or "") if description is not None else "",
            quantity=quantity,
            unit_of_measure=_text(item.find("UnitOfMeasure")) or "",
            unit_price=self.required_money(item.find("UnitPrice"), f"{where} UnitPrice"),
            amount=self.required_money(item.find("SubtotalAmount"), f"{where} SubtotalAmount"),
            taxes=self.taxes(tax, f"{where} Tax") if tax is not None else [],
            service_period=ServicePeriod(start=start, end=end) if start and end else None,
            afe_number=fields.get("afe_number"),
            well_id=fields.get("well_id"),
            cost_center=fields.get("cost_center"),
            field_ticket_number=fields.get("field_ticket_number"),
            extrinsics=extrinsics,
        )

    def required_money(self, node: etree._Element | None, where: str) -> Decimal:
        value = self.money(node, where)
        if value is None:
            raise BadValue(f"{where} is empty")
        return value

    def taxes(self, tax: etree._Element, where: str) -> list[TaxLine]:
        details = tax.findall("TaxDetail")
        if not details:
            # Tax without detail: one tax line of the total (0 when the summary only adds up line taxes).
            amount = self.money(tax, where)
            if not amount or where.startswith("InvoiceDetailSummary"):
                return []
            description = tax.find("Description")
            return [
                TaxLine(
                    amount=amount, description=(description.text or None) if description is not None else None
                )
            ]
        lines = []
        for detail in details:
            amount = self.required_money(detail.find("TaxAmount"), f"{where}/TaxDetail/TaxAmount")
            location = detail.find("TaxLocation")
            description = detail.find("Description")
            lines.append(
                TaxLine(
                    category=detail.get("category") or "sales",
                    rate_percent=strict_decimal(detail.get("percentageRate"), f"{where} percentageRate"),
                    taxable_amount=self.money(
                        detail.find("TaxableAmount"), f"{where}/TaxableAmount", required=False
                    ),
                    amount=amount,
                    jurisdiction=(location.text or None) if location is not None else None,
                    description=(description.text or None) if description is not None else None,
                )
            )
        return lines

    def terms(self, head: etree._Element) -> PaymentTerms | None:
        net_days: int | None = None
        discount: tuple[int, Decimal] | None = None
        for term in head.findall("InvoiceDetailPaymentTerm"):
            days_text = term.get("payInNumberOfDays", "")
            if not days_text.isdigit():
                raise BadValue(
                    f"InvoiceDetailPaymentTerm payInNumberOfDays {days_text!r} is not a number of days"
                )
            rate = strict_decimal(
                term.get("percentageRate"), "InvoiceDetailPaymentTerm percentageRate"
            ) or Decimal(0)
            if rate == 0:
                net_days = int(days_text)
            else:
                discount = (int(days_text), rate)
        if net_days is None and discount is None:
            return None
        return PaymentTerms(
            net_days=net_days if net_days is not None else discount[0] if discount else 0,
            discount_percent=discount[1] if discount else None,
            discount_days=discount[0] if discount else None,
        )


def invoice_from_cxml(root: etree._Element, settings: FilesSettings, supplier: Supplier) -> Invoice:
    """The canonical invoice of a parsed cXML InvoiceDetailRequest (raises BadValue / ValidationError)."""
    return _Reader(root, settings, supplier).invoice()


def cxml_number(root: etree._Element) -> str | None:
    head = root.find("Request/InvoiceDetailRequest/InvoiceDetailRequestHeader")
    return (head.get("invoiceID") or None) if head is not None else None
