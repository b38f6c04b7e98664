"""Reading values out of a cXML InvoiceDetailRequest: money in one currency, taxes, payment terms, and
lines (InvoiceDetailItem, InvoiceDetailServiceItem, or the InvoiceDetailOrderSummary of a header-level
invoice). A value that is there but cannot be read is a `BadValue` naming the element and the line of
the document it is on; an element the DTD lets a document leave out is None, never a guess."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from hub.ar.files.common import BadValue, strict_date, strict_decimal
from hub.model import InvoiceLine, PaymentTerms, ServicePeriod, TaxLine

#: Line Extrinsics that are canonical line fields (the inverse of mappings.cxml_invoice.LINE_EXTRINSICS).
LINE_FIELDS = {
    "AFENumber": "afe_number",
    "WellID": "well_id",
    "CostCenter": "cost_center",
    "FieldTicketNumber": "field_ticket_number",
}
#: The unit of a line that names none: a header-level order summary, a service billed as one amount.
ONE_UNIT = "EA"


def text(node: etree._Element | None) -> str | None:
    """An element's own text, trimmed; None when absent or blank."""
    if node is None or node.text is None:
        return None
    value: str = node.text.strip()
    return value or None


def at(node: etree._Element) -> str:
    """Where an element is, for an error message."""
    return f"(document line {node.sourceline})" if node.sourceline else ""


class Values:
    """Reads amounts in the invoice's one currency (fixed by the first Money read)."""

    def __init__(self) -> None:
        self.currency: str | None = None

    def money(self, node: etree._Element | None, where: str, required: bool = True) -> Decimal | None:
        """The Money inside `node`. Absent `node`: None, or BadValue when required. A Money that is
        there but empty or not a number is always a BadValue (a present value is never dropped)."""
        if node is None:
            if required:
                raise BadValue(f"{where} is missing")
            return None
        money = node.find("Money")
        if money is None:
            raise BadValue(f"{where}/Money is missing {at(node)}".rstrip())
        currency = money.get("currency")
        if self.currency is None:
            self.currency = currency
        elif currency != self.currency:
            raise BadValue(
                f"{where}/Money is in {currency}, the invoice in {self.currency}; one currency per invoice "
                f"{at(money)}".rstrip()
            )
        value = strict_decimal(money.text or "", f"{where}/Money {at(money)}".rstrip())
        if value is None:
            raise BadValue(f"{where}/Money is empty {at(money)}".rstrip())
        return value

    def required(self, node: etree._Element | None, where: str) -> Decimal:
        value = self.money(node, where)
        assert value is not None  # money() raises for a required amount it cannot read
        return value

    # --- taxes ------------------------------------------------------------------------------------------
    def taxes(self, tax: etree._Element, where: str, *, summary: bool = False) -> list[TaxLine]:
        """The tax lines of one Tax element. A Tax without TaxDetail is one tax line of its amount
        (a line's); the summary's bare total is left to the caller (it may only add up the lines)."""
        details = tax.findall("TaxDetail")
        if not details:
            amount = self.required(tax, where)
            if not amount or summary:
                return []
            return [TaxLine(amount=amount, description=text(tax.find("Description")))]
        lines = []
        for detail in details:
            here = f"{where}/TaxDetail"
            lines.append(
                TaxLine(
                    category=detail.get("category") or "sales",
                    rate_percent=strict_decimal(
                        detail.get("percentageRate"), f"{here} percentageRate {at(detail)}".rstrip()
                    ),
                    taxable_amount=self.money(
                        detail.find("TaxableAmount"), f"{here}/TaxableAmount", required=False
                    ),
                    amount=self.required(detail.find("TaxAmount"), f"{here}/TaxAmount"),
                    jurisdiction=text(detail.find("TaxLocation")),
                    description=text(detail.find("Description")),
                )
            )
        return lines

    # --- lines ------------------------------------------------------------------------------------------
    def line(self, item: etree._Element) -> InvoiceLine:
        """An InvoiceDetailItem or InvoiceDetailServiceItem."""
        number_text = item.get("invoiceLineNumber", "")
        if not number_text.isdigit():
            raise BadValue(f"{item.tag} invoiceLineNumber {number_text!r} is not a line number {at(item)}")
        where = f"line {number_text}"
        service = item.tag == "InvoiceDetailServiceItem"
        reference = item.find(
            "InvoiceDetailServiceItemReference" if service else "InvoiceDetailItemReference"
        )
        po_line = reference.get("lineNumber") if reference is not None else None
        if po_line and not po_line.isdigit():
            raise BadValue(f"{where}: the PO lineNumber {po_line!r} is not a number {at(reference)}")
        amount = self.money(item.find("SubtotalAmount"), f"{where} SubtotalAmount", required=service)
        rate = item.find("UnitRate") if service else None
        unit = text(item.find("UnitOfMeasure")) or (
            text(rate.find("UnitOfMeasure")) if rate is not None else None
        )
        price = self.money(item.find("UnitPrice"), f"{where} UnitPrice", required=not service)
        if price is None and rate is not None:
            price = self.required(rate, f"{where} UnitRate")
        quantity = strict_decimal(item.get("quantity"), f"{where} quantity {at(item)}")
        if quantity is None:
            if not service:
                raise BadValue(f"{where} has no quantity {at(item)}")
            # A service billed as one amount (the DTD makes quantity and price optional there).
            quantity = Decimal(1)
            price = amount if price is None else price
        if price is None:
            raise BadValue(
                f"{where} ({item.tag}) has a quantity but neither UnitPrice nor UnitRate {at(item)}"
            )
        if amount is None:
            amount = quantity * price  # InvoiceDetailItem may leave SubtotalAmount out
        if not unit and not service:
            raise BadValue(f"{where} UnitOfMeasure is missing or empty {at(item)}")
        self._no_line_discount(item, where)
        period = item.find("Period")
        description = reference.find("Description") if reference is not None else None
        if description is None or not (description.text or "").strip():
            raise BadValue(f"{where} ({item.tag}) has no Description {at(item)}")
        return InvoiceLine(
            line_number=int(number_text),
            po_line_number=int(po_line) if po_line else None,
            supplier_part_id=text(reference.find("ItemID/SupplierPartID")) if reference is not None else None,
            buyer_part_id=text(reference.find("ItemID/BuyerPartID")) if reference is not None else None,
            description=(description.text or "") if description is not None else "",
            quantity=quantity,
            unit_of_measure=unit or ("" if not service else ONE_UNIT),
            unit_price=price,
            amount=amount,
            taxes=self.taxes(item.find("Tax"), f"{where} Tax") if item.find("Tax") is not None else [],
            service_period=self.period(period, where),
            **self.line_extrinsics(item),
        )

    def order_summary(self, summary: etree._Element, description: str) -> InvoiceLine:
        """The InvoiceDetailOrderSummary of a header-level invoice as one line of one unit."""
        number_text = summary.get("invoiceLineNumber", "")
        if not number_text.isdigit():
            raise BadValue(
                f"InvoiceDetailOrderSummary invoiceLineNumber {number_text!r} is not a line number {at(summary)}"
            )
        where = f"line {number_text}"
        amount = self.required(summary.find("SubtotalAmount"), f"{where} SubtotalAmount")
        self._no_line_discount(summary, where)
        tax = summary.find("Tax")
        return InvoiceLine(
            line_number=int(number_text),
            description=text(summary.find("Comments")) or description,
            quantity=Decimal(1),
            unit_of_measure=ONE_UNIT,
            unit_price=amount,
            amount=amount,
            taxes=self.taxes(tax, f"{where} Tax") if tax is not None else [],
            service_period=self.period(summary.find("Period"), where),
            **self.line_extrinsics(summary),
        )

    def line_charges(self, item: etree._Element, where: str) -> tuple[Decimal, Decimal]:
        """(special handling, shipping) billed on one line or order summary."""
        handling = self.money(
            item.find("InvoiceDetailLineSpecialHandling"), f"{where} InvoiceDetailLineSpecialHandling", False
        )
        shipping = self.money(
            item.find("InvoiceDetailLineShipping"), f"{where} InvoiceDetailLineShipping", False
        )
        return handling or Decimal(0), shipping or Decimal(0)

    def _no_line_discount(self, item: etree._Element, where: str) -> None:
        discount = self.money(item.find("InvoiceDetailDiscount"), f"{where} InvoiceDetailDiscount", False)
        if discount:
            raise BadValue(
                f"{where} carries a line discount (InvoiceDetailDiscount {discount}) "
                f"{at(item.find('InvoiceDetailDiscount'))}: portalhub keeps discounts at invoice level; "
                "export the discounted price, or the discount in InvoiceDetailSummary"
            )

    @staticmethod
    def period(period: etree._Element | None, where: str) -> ServicePeriod | None:
        if period is None:
            return None
        start = strict_date(period.get("startDate"), f"{where} Period startDate {at(period)}")
        end = strict_date(period.get("endDate"), f"{where} Period endDate {at(period)}")
        if start is None or end is None:
            raise BadValue(f"{where} Period needs startDate and endDate {at(period)}")
        return ServicePeriod(start=start, end=end)

    @staticmethod
    def line_extrinsics(item: etree._Element) -> dict[str, object]:
        fields: dict[str, object] = {}
        extrinsics: dict[str, str] = {}
        for extrinsic in item.findall("Extrinsic"):
            name, value = extrinsic.get("name", ""), extrinsic.text or ""
            if name in LINE_FIELDS:
                fields[LINE_FIELDS[name]] = value
            elif name:
                extrinsics[name] = value
        return {**fields, "extrinsics": extrinsics}

    # --- payment terms ----------------------------------------------------------------------------------
    def terms(self, head: etree._Element) -> PaymentTerms | None:
        """InvoiceDetailPaymentTerm (days + percentageRate; 0 is the net term) or PaymentTerm (days +
        an optional Discount percent): the net days and at most one early-payment discount."""
        net_days: int | None = None
        discount: tuple[int, Decimal] | None = None
        for term in [*head.findall("InvoiceDetailPaymentTerm"), *head.findall("PaymentTerm")]:
            days_text = term.get("payInNumberOfDays", "")
            if not days_text.isdigit():
                raise BadValue(
                    f"{term.tag} payInNumberOfDays {days_text!r} is not a number of days {at(term)}"
                )
            if term.tag == "InvoiceDetailPaymentTerm":
                rate = strict_decimal(term.get("percentageRate"), f"{term.tag} percentageRate {at(term)}")
            else:
                rate = self._payment_term_discount(term)
            if not rate:
                net_days = int(days_text)
            elif discount is not None and discount != (int(days_text), rate):
                raise BadValue(
                    f"{term.tag} {at(term)}: a second early-payment discount ({rate}% in {days_text} days); "
                    "portalhub keeps one"
                )
            else:
                discount = (int(days_text), rate)
        if net_days is None and discount is None:
            return None
        return PaymentTerms(
            net_days=net_days if net_days is not None else discount[0] if discount else 0,
            discount_percent=discount[1] if discount else None,
            discount_days=discount[0] if discount else None,
        )

    @staticmethod
    def _payment_term_discount(term: etree._Element) -> Decimal | None:
        found = term.find("Discount")
        if found is None:
            return None
        percent = found.find("DiscountPercent")
        if percent is None:
            raise BadValue(
                f"PaymentTerm {at(term)} gives its discount as an amount (DiscountAmount): portalhub's "
                "payment terms hold a percentage; export the discount as DiscountPercent"
            )
        value = strict_decimal(percent.get("percent"), f"PaymentTerm DiscountPercent percent {at(percent)}")
        if value is None:
            raise BadValue(f"PaymentTerm DiscountPercent has no percent {at(percent)}")
        return value
