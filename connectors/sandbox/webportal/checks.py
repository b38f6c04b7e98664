"""The sandbox web portal's own checks of a line and of a whole invoice (the messages a real portal shows
above its form)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from connectors.sandbox.web import Upload, amount
from connectors.sandbox.webportal.config import Buyer
from connectors.sandbox.webportal.state import Draft, DraftLine

HEADER = ("invoice_number", "invoice_date", "currency", "po_number", "tax", "charges", "total", "comments")


def keep_header(draft: Draft, fields: dict[str, str]) -> None:
    """Every post of the form carries the header: the portal keeps what was typed."""
    for name in HEADER:
        if name in fields:
            draft.header[name] = fields[name].strip()


def check_line(buyer: Buyer, draft: Draft, fields: dict[str, str]) -> tuple[DraftLine | None, list[str]]:
    """The line being added, or the portal's reasons for refusing it."""
    errors = []
    description = fields.get("line_description", "").strip()
    quantity = amount(fields.get("line_quantity", ""))
    price = amount(fields.get("line_unit_price", ""))
    uom = fields.get("line_uom", "").strip()
    afe = fields.get("line_afe", "").strip()
    po_line_text = fields.get("line_po_line", "").strip()
    po_line = int(po_line_text) if po_line_text.isdigit() else None
    if not description:
        errors.append("Description is required for every line.")
    if quantity is None or quantity == 0:
        errors.append("Quantity must be a number other than zero.")
    if price is None:
        errors.append("Unit price must be a number.")
    if not uom:
        errors.append("Unit is required for every line.")
    if po_line_text and po_line is None:
        errors.append(f"PO line {po_line_text!r} is not a line number.")
    po = buyer.purchase_order(draft.header.get("po_number", ""))
    if po is not None and po_line is not None and po.line(po_line) is None:
        errors.append(f"PO line {po_line} is not on purchase order {po.number}.")
    if buyer.require_afe and not afe:
        errors.append(f"AFE number is required on every line by {buyer.name}.")
    if errors:
        return None, errors
    assert quantity is not None and price is not None
    part = fields.get("line_part", "").strip()
    return DraftLine(po_line, part, description, quantity, uom, price, afe), []


@dataclass(frozen=True)
class Checked:
    errors: list[str]
    tax: Decimal = Decimal(0)
    charges: Decimal = Decimal(0)
    total: Decimal = Decimal(0)


def check_invoice(
    buyer: Buyer,
    draft: Draft,
    numbers_taken: set[str],
    pdf: Upload | None,
    date_format: str = "%Y-%m-%d",
    date_hint: str = "YYYY-MM-DD",
) -> Checked:
    """Everything the portal checks when the invoice is submitted, all messages at once: the invoice
    date as the layout writes it."""
    h = draft.header
    errors: list[str] = []
    number = h.get("invoice_number", "")
    if not number:
        errors.append("Invoice number is required.")
    elif number in numbers_taken:
        errors.append(f"Invoice number {number} has already been submitted.")
    try:
        datetime.strptime(h.get("invoice_date", ""), date_format)
    except ValueError:
        errors.append(f"Invoice date must be a date ({date_hint}).")
    if h.get("currency") not in buyer.currencies:
        errors.append(f"Currency {h.get('currency')!r} is not accepted by {buyer.name}.")
    po_number = h.get("po_number", "")
    if buyer.require_po and not po_number:
        errors.append("A purchase order number is required.")
    elif po_number and buyer.purchase_order(po_number) is None:
        errors.append(f"Purchase order {po_number} does not exist.")
    if not draft.lines:
        errors.append("Add at least one line before submitting.")
    amounts = {name: amount(h.get(name) or "0") for name in ("tax", "charges", "total")}
    for name, label in (("tax", "Tax amount"), ("charges", "Other charges"), ("total", "Invoice total")):
        if amounts[name] is None:
            errors.append(f"{label} must be a number.")
    tax, charges, total = amounts["tax"], amounts["charges"], amounts["total"]
    if tax is not None and charges is not None and total is not None and draft.lines:
        expected = draft.lines_total + tax + charges
        if abs(expected - total) > Decimal("0.01"):
            errors.append(
                f"Invoice total {total} does not equal the lines plus tax and charges ({expected})."
            )
    if pdf is None and buyer.require_pdf:
        errors.append("Attach the invoice as a PDF file.")
    elif pdf is not None and not pdf.content.startswith(b"%PDF-"):
        errors.append("The attached file is not a PDF document.")
    elif pdf is not None and len(pdf.content) > buyer.max_pdf_bytes:
        errors.append(f"The PDF is larger than {buyer.max_pdf_bytes // 1024} KB.")
    if errors:
        return Checked(errors)
    assert tax is not None and charges is not None and total is not None
    return Checked([], tax, charges, total)
