"""What the Ariba sandbox checks in an incoming invoice, and the coded texts it refuses with.

The order is the network's: the document (parse, version, DTD), the sender (credentials, trading
relationship, account mode), the invoice number, then the buyer's invoice rules (non-PO, orders sent
outside the network, obsolete orders, tax ID, back-dating). Texts follow PORTALS.md's examples
(`INV-143: Cannot create a non-PO invoice with pricing details.`).
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
from datetime import datetime, timedelta
from decimal import Decimal

from lxml import etree

from connectors.sandbox.ariba.config import AribaBuyer
from connectors.sandbox.server import Request


class Refusal(Exception):
    """The network's answer to an invoice it will not take: a cXML status code, text and detail."""

    def __init__(self, code: int, text: str, detail: str = ""):
        super().__init__(text)
        self.code, self.text, self.detail = code, text, detail


def bad(detail: str) -> Refusal:
    return Refusal(400, "Bad Request", detail)


def duplicate(number: str) -> Refusal:
    return bad(f"INVOICE_DUPLICATE: An invoice with the same ID ({number}) has already been received.")


def account_mode(supplier: str) -> str:
    """Ariba test accounts have IDs ending in -T and take only deploymentMode="test"."""
    return "test" if supplier.upper().endswith("-T") else "production"


def credential(root: etree._Element, role: str) -> tuple[str, str]:
    """(domain in lower case, identity) of a header credential."""
    node = root.find(f"Header/{role}/Credential")
    if node is None:
        return ("", "")
    return (node.get("domain", "").lower(), (node.findtext("Identity") or "").strip())


def authenticate(root: etree._Element, suppliers: dict[str, str]) -> str:
    """The supplier's ANID when the Sender's NetworkID and shared secret are right; Refusal(401) if not."""
    sender_domain, sender = credential(root, "Sender")
    secret = root.findtext("Header/Sender/Credential/SharedSecret") or ""
    expected = suppliers.get(sender)
    if sender_domain != "networkid" or expected is None or secret != expected:
        raise Refusal(401, "Unauthorized", "Authentication failed: the sender's credentials are not valid.")
    if credential(root, "From")[1] != sender:
        raise Refusal(401, "Unauthorized", "The From credential is not the sender's Ariba Network ID.")
    return sender


def check_mode(root: etree._Element, supplier: str) -> None:
    request = root.find("Request")
    mode = request.get("deploymentMode", "production") if request is not None else "production"
    if mode != account_mode(supplier):
        raise bad(f"deploymentMode {mode!r} does not match the {account_mode(supplier)} account {supplier}.")


def buyer_rules(buyer: AribaBuyer, request: etree._Element, head: etree._Element, now: datetime) -> None:
    """The buyer's invoice rules, in the order the network applies them."""
    reference = request.find("InvoiceDetailOrder/InvoiceDetailOrderInfo/OrderReference")
    number = reference.get("orderID") if reference is not None else None
    if number is None and not buyer.accept_non_po:
        raise bad("INV-143: Cannot create a non-PO invoice with pricing details.")
    if number is not None:
        order = next((o for o in buyer.orders if o.number == number), None)
        if order is None:
            raise bad(
                f"INV-15: {buyer.name} does not accept invoices for orders sent outside the "
                f"Ariba Network (order {number})."
            )
        if order.obsolete:
            raise bad(f"INV-13: Order {number} is obsolete or a duplicate; invoice the current order.")
    if buyer.require_tax_id and head.find("InvoicePartner/IdReference[@domain='supplierTaxID']") is None:
        raise bad("INV-98: Tax ID is required. Provide your tax ID on the invoice.")
    if buyer.max_backdate_days is not None:
        invoice_date = datetime.fromisoformat(head.get("invoiceDate", "")).date()
        if invoice_date < now.date() - timedelta(days=buyer.max_backdate_days):
            raise bad(
                f"{buyer.backdate_code}: The invoice can only be back-dated by "
                f"{buyer.max_backdate_days} calendar days (invoice date {invoice_date})."
            )


def price_complaint(buyer: AribaBuyer, request: etree._Element) -> str | None:
    """What the buyer's approver writes when rejecting a line priced above its order (after receipt)."""
    reference = request.find("InvoiceDetailOrder/InvoiceDetailOrderInfo/OrderReference")
    number = reference.get("orderID") if reference is not None else None
    order = next((o for o in buyer.orders if o.number == number), None)
    if order is None:
        return None
    for item in request.iter("InvoiceDetailItem", "InvoiceDetailServiceItem"):
        part = item.findtext(".//ItemID/SupplierPartID") or ""
        price = Decimal(item.findtext("UnitPrice/Money") or "0")
        agreed = order.prices.get(part)
        if agreed is not None and price > agreed:
            return (
                f"Line {item.get('invoiceLineNumber')}: unit price {price} is above the order price "
                f"{agreed}; send a corrected invoice."
            )
    return None


def split_multipart(request: Request) -> tuple[bytes, int]:
    """The cXML part of a multipart/related request and how many attachments came with it."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/"):
        return request.body, 0
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    parts = list(message.iter_parts()) if isinstance(message, email.message.EmailMessage) else []
    if not parts:
        raise Refusal(406, "Not Acceptable", "Unable to parse the cXML document.")
    xml = parts[0].get_payload(decode=True)
    return (xml if isinstance(xml, bytes) else b""), len(parts) - 1
