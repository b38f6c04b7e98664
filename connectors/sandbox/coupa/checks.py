"""How the Coupa sandbox judges an invoice document: reading it (parse, version, DTD, values), PO and
contract backing, PO-line matching, and the buyer's own requirements. A refusal carries Coupa's code
and published text (refs/PORTALS.md); a price or quantity over the PO becomes a dispute, not a refusal."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from connectors.sandbox.coupa.config import CoupaBuyer, PurchaseOrder
from connectors.sandbox.cxml import (
    DtdLibrary,
    OrderReference,
    ReceivedInvoice,
    UnreadableDocument,
    UnreadableInvoice,
    read_document,
    read_invoice,
)
from connectors.sandbox.multipart import document_and_files
from connectors.sandbox.server import Request


class Refusal(Exception):
    def __init__(
        self,
        code: int,
        text: str,
        detail: str = "",
        duplicate: bool = False,
        dtd_problems: list[str] | None = None,
    ):
        super().__init__(text)
        self.code, self.text, self.detail = code, text, detail
        self.duplicate = duplicate  # the number is already used: the receipt log says refused-duplicate
        self.dtd_problems = dtd_problems or []  # why the DTD refused it (Coupa's answer does not say)

    @property
    def outcome(self) -> str:
        if self.duplicate:
            return "refused-duplicate"
        return "refused-access" if self.code in (401, 403) else "refused-content"


def split_multipart(request: Request) -> tuple[bytes, int]:
    """The cXML document of an invoice POST, and how many attachments came with it."""
    split = document_and_files(request.headers.get("content-type", ""), request.body)
    if split is None:
        raise Refusal(406, "Could not parse cXML document.")
    return split[0], len(split[1])


def read(xml: bytes, dtds: DtdLibrary | None) -> ReceivedInvoice:
    """The document as Coupa reads it: parse (406), version (450), DTD (406), values (406).

    Parse and DTD refusals carry Coupa's published texts only; why the DTD refused is kept in
    the refusal's `dtd_problems` for tests and the demo."""
    try:
        document = read_document(xml)
    except UnreadableDocument:
        raise Refusal(406, "Could not parse cXML document.") from None
    if document.root.tag != "cXML" or document.root.find("Request/InvoiceDetailRequest") is None:
        raise Refusal(406, "Could not parse cXML document.")
    if document.version and not document.version.startswith("1.2"):
        raise Refusal(450, "cXML Version of document is not supported.")
    if dtds is not None:
        choice = dtds.choose(document)
        problems = [choice] if isinstance(choice, str) else dtds.problems(document, choice)
        if problems:
            raise Refusal(
                406, "Request did not validate successfully with DTD.", dtd_problems=[str(choice), *problems]
            )
    try:
        return read_invoice(document.root)
    except UnreadableInvoice as exc:
        # No published text for a value Coupa cannot read: its parse refusal, saying which value.
        raise Refusal(406, "Could not parse cXML document.", str(exc)) from None


def find_po(buyer: CoupaBuyer, order: OrderReference) -> PurchaseOrder:
    """The PO an order reference names: by number, or by the payloadID of the order Coupa sent."""
    if order.order_id is not None:
        found = next((p for p in buyer.purchase_orders if p.number == order.order_id), None)
        named = order.order_id
    else:
        found = next(
            (p for p in buyer.purchase_orders if p.payload_id and p.payload_id == order.order_payload_id),
            None,
        )
        named = f"with payloadID {order.order_payload_id}"
    if found is None:
        raise Refusal(
            500, "Server could not create invoice.", f"PO number {named} was not found for this supplier."
        )
    return found


def check_lines(buyer: CoupaBuyer, invoice: ReceivedInvoice) -> tuple[str, str] | None:
    """Coupa's PO matching (500 when it fails); returns a dispute the buyer's AP team will raise."""
    pos: dict[int, PurchaseOrder] = {}
    for index, order in enumerate(invoice.orders):
        if order.names_a_po:
            pos[index] = find_po(buyer, order)
        elif order.agreement_id not in buyer.contracts:
            raise Refusal(
                500,
                "Server could not create invoice.",
                f"Contract {order.agreement_id or order.agreement_payload_id} was not found.",
            )
    dispute = None
    for line in invoice.lines:
        po = pos.get(line.order)
        if po is None:
            continue  # a contract-backed line: no PO line to match
        if not line.part or not line.uom:
            raise Refusal(
                500,
                "Server could not create invoice.",
                f"Line {line.number}: supplier part number and UOM are required on PO-backed lines.",
            )
        if line.po_line:
            po_line = next((pl for pl in po.lines if str(pl.line) == line.po_line), None)
            if po_line is None:
                raise Refusal(
                    500,
                    "Server could not create invoice.",
                    f"Line {line.number}: PO line number {line.po_line} is not on PO {po.number}.",
                )
        else:  # Coupa matches on part number and UOM when the PO line number is blank
            po_line = next((pl for pl in po.lines if pl.part == line.part and pl.uom == line.uom), None)
            if po_line is None:
                raise Refusal(
                    500,
                    "Server could not create invoice.",
                    f"Line {line.number}: no line of PO {po.number} has part {line.part} in {line.uom}.",
                )
        if po_line.part != line.part:
            raise Refusal(
                500,
                "Server could not create invoice.",
                f"Line {line.number}: part {line.part} does not match PO line {po_line.line} ({po_line.part}).",
            )
        if po_line.uom != line.uom:
            raise Refusal(
                500,
                "Server could not create invoice.",
                f"Line {line.number}: UOM {line.uom} does not match PO line {po_line.line} ({po_line.uom}).",
            )
        price = line.unit_price or Decimal(0)
        quantity = line.quantity or Decimal(0)
        if dispute is None and price > po_line.unit_price:
            dispute = (
                "INCORRECT-PRICE",
                f"Line {line.number}: unit price {price} is above the PO price {po_line.unit_price}.",
            )
        if dispute is None and quantity > po_line.quantity:
            dispute = (
                "INCORRECT-QUANTITY",
                f"Line {line.number}: quantity {quantity} is more than the {po_line.quantity} ordered.",
            )
    return dispute


def check_buyer_requirements(buyer: CoupaBuyer, invoice: ReceivedInvoice, now: datetime) -> None:
    if buyer.max_backdate_days is not None:
        limit = now.date() - timedelta(days=buyer.max_backdate_days)
        if invoice.invoice_date < limit:
            raise Refusal(
                500,
                "Server could not create invoice.",
                f"Invoice date {invoice.invoice_date} is back-dated more than {buyer.max_backdate_days} days.",
            )
    if buyer.require_supplier_tax_id and not invoice.supplier_tax_id:
        raise Refusal(
            500, "Server could not create invoice.", "Supplier tax ID is required by this customer."
        )
    for required in buyer.required_extrinsics:
        if not invoice.extrinsics.get(required):
            raise Refusal(
                500,
                "Server could not create invoice.",
                f"Missing tags: Extrinsic {required} is required by this customer.",
            )
