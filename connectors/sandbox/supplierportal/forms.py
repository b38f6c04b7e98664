"""The portal's own checks of a wizard step: every message tied to the field or line it is about, as the
pages show them inline (what a browser posts is read by connectors/sandbox/web.py)."""

from __future__ import annotations

import re
from datetime import datetime

from connectors.sandbox.supplierportal.config import SupplierPortalConfig
from connectors.sandbox.supplierportal.state import Draft, Line
from connectors.sandbox.web import amount

_LINE_INPUT = re.compile(r"^lines-(\d+)-(\w+)$")


def check_details(
    config: SupplierPortalConfig, draft: Draft, fields: dict[str, str], taken: set[str]
) -> dict[str, str]:
    """Step 1 (PO, number, date, currency); keeps what was typed in the draft; field -> its message."""
    draft.po = fields.get("po") or None
    draft.number = fields.get("invoice_number", "").strip()
    draft.invoice_date = fields.get("invoice_date", "").strip()
    draft.currency = fields.get("currency", "")
    errors: dict[str, str] = {}
    po = config.purchase_order(draft.po or "")
    if po is None:
        errors["po"] = "Select the purchase order this invoice bills."
    if not draft.number:
        errors["invoice_number"] = "Enter your invoice number."
    elif draft.number in taken:
        errors["invoice_number"] = f"Invoice number {draft.number} has already been used on this portal."
    try:
        datetime.strptime(draft.invoice_date, "%m/%d/%Y")
    except ValueError:
        errors["invoice_date"] = "Enter the invoice date as MM/DD/YYYY."
    if draft.currency not in config.currencies:
        errors["currency"] = "Select a currency."
    elif po is not None and draft.currency != po.currency:
        errors["currency"] = f"This purchase order is in {po.currency}."
    return errors


def posted_rows(fields: dict[str, str]) -> dict[int, dict[str, str]]:
    rows: dict[int, dict[str, str]] = {}
    for name, value in fields.items():
        if found := _LINE_INPUT.match(name):
            rows.setdefault(int(found[1]), {})[found[2]] = value.strip()
    return dict(sorted(rows.items()))


def check_lines(
    config: SupplierPortalConfig, draft: Draft, rows: dict[int, dict[str, str]]
) -> tuple[list[Line], dict[int, list[str]]]:
    """Step 2's lines; row number -> its messages."""
    po = config.purchase_order(draft.po or "")
    lines: list[Line] = []
    problems: dict[int, list[str]] = {}
    for n, row in rows.items():
        mine: list[str] = []
        quantity = amount(row.get("quantity", ""))
        price = amount(row.get("unit_price", ""))
        po_line_text = row.get("po_line", "")
        po_line = int(po_line_text) if po_line_text.isdigit() else None
        if not row.get("description"):
            mine.append("Description is required.")
        if quantity is None or quantity <= 0:
            mine.append("Quantity must be more than zero.")
        if row.get("uom") not in config.uoms:
            mine.append("Choose a unit of measure.")
        if price is None:
            mine.append("Unit price must be a number.")
        if po_line_text and (po_line is None or po is None or po.line(po_line) is None):
            mine.append(f"PO line {po_line_text} is not on this purchase order.")
        if mine:
            problems[n] = mine
            continue
        assert quantity is not None and price is not None
        lines.append(Line(po_line, row["description"], quantity, row["uom"], price))
    return lines, problems
