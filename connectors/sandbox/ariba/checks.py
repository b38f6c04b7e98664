"""What the Ariba sandbox checks in an incoming invoice, and the coded texts it refuses with.

The invoice is read by the network's own code (connectors/sandbox/cxml). The order is the network's:
the document (parse, version, DTD, values), the sender (credentials, trading
relationship, account mode), the invoice number, then the buyer's invoice rules (non-PO, orders sent
outside the network, obsolete orders, tax ID, back-dating). Texts follow PORTALS.md's examples
(`INV-143: Cannot create a non-PO invoice with pricing details.`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from connectors.sandbox.ariba.config import AribaBuyer, AribaOrder
from connectors.sandbox.cxml import Envelope, OrderReference, ReceivedInvoice
from connectors.sandbox.multipart import document_and_files
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


def authenticate(envelope: Envelope, suppliers: dict[str, str]) -> str:
    """The supplier's ANID when the Sender's NetworkID and shared secret are right; Refusal(401) if not."""
    sender = envelope.sender.identity
    expected = suppliers.get(sender)
    if (
        envelope.sender.domain.lower() != "networkid"
        or expected is None
        or envelope.shared_secret != expected
    ):
        raise Refusal(401, "Unauthorized", "Authentication failed: the sender's credentials are not valid.")
    if envelope.from_.identity != sender:
        raise Refusal(401, "Unauthorized", "The From credential is not the sender's Ariba Network ID.")
    return sender


def check_mode(envelope: Envelope, supplier: str) -> None:
    mode = envelope.deployment_mode
    if mode != account_mode(supplier):
        raise bad(f"deploymentMode {mode!r} does not match the {account_mode(supplier)} account {supplier}.")


def find_order(buyer: AribaBuyer, reference: OrderReference) -> AribaOrder | None:
    """The order a reference names: by its number, or by the payloadID of the OrderRequest routed
    through the network (OrderReference with only a DocumentReference)."""
    if reference.order_id is not None:
        return next((o for o in buyer.orders if o.number == reference.order_id), None)
    return next(
        (o for o in buyer.orders if o.payload_id and o.payload_id == reference.order_payload_id), None
    )


def buyer_rules(buyer: AribaBuyer, invoice: ReceivedInvoice, now: datetime) -> None:
    """The buyer's invoice rules, in the order the network applies them."""
    po_references = [r for r in invoice.orders if r.names_a_po]
    if not po_references and not buyer.accept_non_po:
        raise bad("INV-143: Cannot create a non-PO invoice with pricing details.")
    for reference in po_references:
        named = reference.order_id or f"with payloadID {reference.order_payload_id}"
        order = find_order(buyer, reference)
        if order is None:
            raise bad(
                f"INV-15: {buyer.name} does not accept invoices for orders sent outside the "
                f"Ariba Network (order {named})."
            )
        if order.obsolete:
            raise bad(f"INV-13: Order {named} is obsolete or a duplicate; invoice the current order.")
    if buyer.require_tax_id and not invoice.supplier_tax_id:
        raise bad("INV-98: Tax ID is required. Provide your tax ID on the invoice.")
    days = buyer.max_backdate_days
    if days is not None and invoice.invoice_date < now.date() - timedelta(days=days):
        raise bad(
            f"{buyer.backdate_code}: The invoice can only be back-dated by "
            f"{days} calendar days (invoice date {invoice.invoice_date})."
        )


def price_complaint(buyer: AribaBuyer, invoice: ReceivedInvoice) -> str | None:
    """What the buyer's approver writes when rejecting a line priced above its order (after receipt)."""
    for line in invoice.lines:
        order = find_order(buyer, invoice.orders[line.order])
        agreed = order.prices.get(line.part or "") if order is not None else None
        price = line.unit_price or Decimal(0)
        if agreed is not None and price > agreed:
            return (
                f"Line {line.number}: unit price {price} is above the order price "
                f"{agreed}; send a corrected invoice."
            )
    return None


def split_multipart(request: Request) -> tuple[bytes, int]:
    """The cXML part of a multipart/related request and how many attachments came with it."""
    split = document_and_files(request.headers.get("content-type", ""), request.body)
    if split is None:
        raise Refusal(406, "Not Acceptable", "Unable to parse the cXML document.")
    return split[0], len(split[1])
