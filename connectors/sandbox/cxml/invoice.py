"""Reading a cXML InvoiceDetailRequest the way a portal does, in every form InvoiceDetail.dtd allows
for what the sandboxes' buyers check: the header, the parties, the order references (OrderReference
with an orderID or only the order's payloadID, OrderIDInfo, MasterAgreementReference /
MasterAgreementIDInfo, SupplierOrderInfo), item and service lines, taxes, totals and extrinsics.

A value that cannot be read (a number that is not one, a date without a date) is an
UnreadableInvoice naming the element and its line, never a silent default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")


class UnreadableInvoice(Exception):
    """A value of the invoice the portal cannot read; the message names the element and line."""

    def __init__(self, node: etree._Element | None, why: str):
        where = f"line {node.sourceline}: <{node.tag}>" if node is not None else "the invoice"
        super().__init__(f"{where} {why}")


@dataclass(frozen=True)
class Credential:
    domain: str
    identity: str


@dataclass(frozen=True)
class Envelope:
    """The cXML header: who sends, for whom, with which secret."""

    payload_id: str
    version: str
    from_: Credential
    to: Credential
    sender: Credential
    shared_secret: str = field(repr=False)
    deployment_mode: str


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Partner:
    role: str  # Contact@role: from, remitTo, soldTo, billTo, ...
    name: str
    ids: dict[str, str]  # IdReference domain -> identifier (supplierTaxID, ...)


@dataclass(frozen=True)
class OrderReference:
    """What one InvoiceDetailOrder / InvoiceDetailHeaderOrder is invoiced against."""

    order_id: str | None  # the buyer's PO number (OrderReference@orderID or OrderIDInfo@orderID)
    order_payload_id: str | None  # the PO named only by its OrderRequest's payloadID
    agreement_id: str | None  # the contract (MasterAgreementReference / MasterAgreementIDInfo)
    agreement_payload_id: str | None
    supplier_order_id: str | None  # SupplierOrderInfo: the supplier's own order number

    @property
    def names_a_po(self) -> bool:
        return bool(self.order_id or self.order_payload_id)

    @property
    def names_a_contract(self) -> bool:
        return bool(self.agreement_id or self.agreement_payload_id)


@dataclass(frozen=True)
class Tax:
    amount: Money
    details: tuple[tuple[str, Decimal | None, Decimal], ...]  # (category, percentageRate, TaxAmount)


@dataclass(frozen=True)
class Line:
    number: int
    order: int  # index into ReceivedInvoice.orders
    service: bool
    po_line: str | None
    part: str | None  # SupplierPartID
    description: str
    uom: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    subtotal: Money | None
    tax: Tax | None
    extrinsics: dict[str, str]


@dataclass(frozen=True)
class ReceivedInvoice:
    envelope: Envelope
    number: str
    purpose: str
    operation: str
    invoice_date: date
    invoice_date_text: str  # as written (a date-time with its zone, usually)
    cancels: str | None  # the header DocumentReference: the invoice a cancel (or credit) refers to
    partners: tuple[Partner, ...]
    header_ids: dict[str, str]  # InvoiceDetailRequestHeader/IdReference
    orders: tuple[OrderReference, ...]
    lines: tuple[Line, ...]
    tax: Tax
    subtotal: Money
    net: Money
    due: Money | None
    pay_in_days: tuple[int, ...]
    extrinsics: dict[str, str]

    @property
    def supplier_tax_id(self) -> str | None:
        """The supplier's tax ID, on any partner (usually `from` or `remitTo`) or the header."""
        for ids in (*(p.ids for p in self.partners), self.header_ids):
            if ids.get("supplierTaxID"):
                return ids["supplierTaxID"]
        return None

    @property
    def amount_due(self) -> Money:
        return self.due or self.net


def _text(node: etree._Element | None) -> str:
    return "".join(node.itertext()).strip() if node is not None else ""


def _decimal(node: etree._Element, raw: str | None, what: str) -> Decimal:
    try:
        value = Decimal((raw or "").strip())
    except InvalidOperation:
        raise UnreadableInvoice(node, f"{what} {raw!r} is not a number") from None
    if not value.is_finite():
        raise UnreadableInvoice(node, f"{what} {raw!r} is not a number")
    return value


def _money(node: etree._Element | None) -> Money | None:
    """The Money inside an amount element (SubtotalAmount, Tax, NetAmount, ...)."""
    if node is None:
        return None
    money = node if node.tag == "Money" else node.find("Money")
    if money is None:
        raise UnreadableInvoice(node, "has no Money")
    return Money(_decimal(money, money.text, "amount"), money.get("currency", ""))


def _required_money(holder: etree._Element, path: str) -> Money:
    found = _money(holder.find(path))
    if found is None:
        raise UnreadableInvoice(holder, f"has no {path}")
    return found


def _tax(node: etree._Element | None) -> Tax | None:
    if node is None:
        return None
    amount = _money(node)
    assert amount is not None
    details = []
    for detail in node.findall("TaxDetail"):
        rate = detail.get("percentageRate")
        details.append(
            (
                detail.get("category", ""),
                _decimal(detail, rate, "percentageRate") if rate is not None else None,
                _required_money(detail, "TaxAmount").amount,
            )
        )
    return Tax(amount, tuple(details))


def _extrinsics(node: etree._Element) -> dict[str, str]:
    return {e.get("name", ""): _text(e) for e in node.findall("Extrinsic")}


def _ids(node: etree._Element) -> dict[str, str]:
    return {i.get("domain", ""): i.get("identifier", "") for i in node.findall("IdReference")}


def _credential(header: etree._Element | None, role: str) -> Credential:
    node = header.find(f"{role}/Credential") if header is not None else None
    if node is None:
        return Credential("", "")
    return Credential(node.get("domain", ""), _text(node.find("Identity")))


def _envelope(root: etree._Element) -> Envelope:
    header = root.find("Header")
    request = root.find("Request")
    return Envelope(
        payload_id=root.get("payloadID", ""),
        version=root.get("version", ""),
        from_=_credential(header, "From"),
        to=_credential(header, "To"),
        sender=_credential(header, "Sender"),
        shared_secret=_text(header.find("Sender/Credential/SharedSecret")) if header is not None else "",
        deployment_mode=(request.get("deploymentMode") if request is not None else None) or "production",
    )


def _day(node: etree._Element, attribute: str) -> date:
    raw = node.get(attribute)
    found = _DATE.match(raw or "")
    if found is None:
        raise UnreadableInvoice(node, f"{attribute} {raw!r} is not a date")
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        raise UnreadableInvoice(node, f"{attribute} {raw!r} is not a date") from None


def _payload(node: etree._Element | None) -> str | None:
    """The payloadID of the DocumentReference inside `node` (blank counts as none)."""
    reference = node.find("DocumentReference") if node is not None else None
    return (reference.get("payloadID") or "").strip() or None if reference is not None else None


def _partner(node: etree._Element) -> Partner:
    contact = node.find("Contact")
    role = contact.get("role", "") if contact is not None else ""
    return Partner(role=role, name=_text(node.find("Contact/Name")), ids=_ids(node))


def _order(info: etree._Element | None) -> OrderReference:
    if info is None:
        return OrderReference(None, None, None, None, None)
    order = info.find("OrderReference")
    order_info = info.find("OrderIDInfo")
    agreement = info.find("MasterAgreementReference")
    agreement_info = info.find("MasterAgreementIDInfo")
    supplier = info.find("SupplierOrderInfo")
    order_id = (order.get("orderID") if order is not None else None) or (
        order_info.get("orderID") if order_info is not None else None
    )
    agreement_id = (agreement.get("agreementID") if agreement is not None else None) or (
        agreement_info.get("agreementID") if agreement_info is not None else None
    )
    return OrderReference(
        order_id=(order_id or "").strip() or None,
        order_payload_id=_payload(order),
        agreement_id=(agreement_id or "").strip() or None,
        agreement_payload_id=_payload(agreement),
        supplier_order_id=(supplier.get("orderID") if supplier is not None else None) or None,
    )


def _line(item: etree._Element, order: int) -> Line:
    service = item.tag == "InvoiceDetailServiceItem"
    reference = item.find("InvoiceDetailServiceItemReference" if service else "InvoiceDetailItemReference")
    number = item.get("invoiceLineNumber")
    quantity = item.get("quantity")
    price = item.find("UnitPrice/Money")
    return Line(
        number=int(_decimal(item, number, "invoiceLineNumber")),
        order=order,
        service=service,
        po_line=(reference.get("lineNumber") or "").strip() or None if reference is not None else None,
        part=_text(reference.find("ItemID/SupplierPartID")) or None if reference is not None else None,
        description=_text(reference.find("Description")) if reference is not None else "",
        uom=_text(item.find("UnitOfMeasure")) or None,
        quantity=_decimal(item, quantity, "quantity") if quantity is not None else None,
        unit_price=_decimal(price, price.text, "unit price") if price is not None else None,
        subtotal=_money(item.find("SubtotalAmount")),
        tax=_tax(item.find("Tax")),
        extrinsics=_extrinsics(item),
    )


def read_invoice(root: etree._Element) -> ReceivedInvoice:
    """The invoice in a cXML InvoiceDetailRequest document; UnreadableInvoice when a value is not usable."""
    request = root.find("Request/InvoiceDetailRequest")
    if request is None:
        raise UnreadableInvoice(root, "holds no Request/InvoiceDetailRequest")
    head = request.find("InvoiceDetailRequestHeader")
    summary = request.find("InvoiceDetailSummary")
    if head is None or summary is None:
        raise UnreadableInvoice(request, "needs an InvoiceDetailRequestHeader and an InvoiceDetailSummary")
    orders: list[OrderReference] = []
    lines: list[Line] = []
    for holder in request:
        if holder.tag not in ("InvoiceDetailOrder", "InvoiceDetailHeaderOrder"):
            continue
        orders.append(_order(holder.find("InvoiceDetailOrderInfo")))
        for item in holder:
            if item.tag in ("InvoiceDetailItem", "InvoiceDetailServiceItem"):
                lines.append(_line(item, len(orders) - 1))
    terms = []
    for term in head.findall("PaymentTerm"):
        terms.append(int(_decimal(term, term.get("payInNumberOfDays"), "payInNumberOfDays")))
    tax = _tax(summary.find("Tax"))
    if tax is None:
        raise UnreadableInvoice(summary, "has no Tax")
    return ReceivedInvoice(
        envelope=_envelope(root),
        number=(head.get("invoiceID") or "").strip(),
        purpose=head.get("purpose") or "standard",
        operation=head.get("operation") or "new",
        invoice_date=_day(head, "invoiceDate"),
        invoice_date_text=head.get("invoiceDate", ""),
        cancels=_payload(head),
        partners=tuple(_partner(partner) for partner in head.findall("InvoicePartner")),
        header_ids=_ids(head),
        orders=tuple(orders),
        lines=tuple(lines),
        tax=tax,
        subtotal=_required_money(summary, "SubtotalAmount"),
        net=_required_money(summary, "NetAmount"),
        due=_money(summary.find("DueAmount")),
        pay_in_days=tuple(terms),
        extrinsics=_extrinsics(head),
    )
