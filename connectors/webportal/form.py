"""The web-form document: what the connector keys into a portal's invoice form, as canonical fields.

`render` produces it and the hub stores it (the attempt's request) before the browser opens the form;
`submit` reads it back, so what was typed is exactly what was stored. Values are text as typed (money
as exact decimals, dates ISO 8601; the recipe reformats dates for its portal). The PDF travels in the
same body as a MIME part, so the stored copy keeps the fields and leaves the file out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.multipart import Part, boundary_for, join_parts, unpack
from hub.errors import MappingError
from hub.model import Invoice
from mappings.portal_values import plain_decimal

FORMAT = "webform"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class FormFile:
    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class WebForm:
    invoice_number: str
    header: dict[str, str]  # canonical header field -> text (fields without a value are absent)
    lines: list[dict[str, str]]  # canonical line fields, in line order
    files: list[FormFile] = field(default_factory=list)


def _put(target: dict[str, str], key: str, value: Any) -> None:
    if value is None or value == "":
        return
    if isinstance(value, Decimal):
        value = plain_decimal(value)
    target[key] = str(value)


def build_form(invoice: Invoice, invoice_number: str, with_pdf: bool) -> WebForm:
    """The canonical form fields of an invoice (under the number the portal gets), and its PDF."""
    header: dict[str, str] = {}
    _put(header, "invoice_number", invoice_number)
    _put(header, "invoice_date", invoice.invoice_date.isoformat())
    _put(header, "due_date", invoice.due_date.isoformat() if invoice.due_date else None)
    _put(header, "currency", invoice.currency)
    _put(header, "po_number", invoice.po_number)
    _put(header, "contract_number", invoice.contract_number)
    terms = invoice.payment_terms
    if terms is not None:
        _put(header, "payment_terms", terms.description or f"Net {terms.net_days}")
    _put(header, "subtotal", invoice.subtotal)
    _put(header, "tax_total", invoice.tax_total)
    _put(header, "charges_total", invoice.charges_total)
    _put(header, "total", invoice.total)
    _put(header, "comments", invoice.comments)
    lines = []
    for line in invoice.lines:
        values: dict[str, str] = {}
        _put(values, "po_line", line.po_line_number)
        _put(values, "part_number", line.supplier_part_id)
        _put(values, "buyer_part", line.buyer_part_id)
        _put(values, "description", line.description)
        _put(values, "quantity", line.quantity)
        _put(values, "unit", line.unit_of_measure)
        _put(values, "unit_price", line.unit_price)
        _put(values, "amount", line.amount)
        _put(values, "tax_amount", line.tax_total if line.taxes else None)
        _put(values, "afe_number", line.afe_number)
        _put(values, "well_id", line.well_id)
        _put(values, "cost_center", line.cost_center)
        _put(values, "field_ticket", line.field_ticket_number)
        if line.service_period is not None:
            _put(values, "service_start", line.service_period.start.isoformat())
            _put(values, "service_end", line.service_period.end.isoformat())
        lines.append(values)
    files = []
    if with_pdf:
        pdf = next((a for a in invoice.attachments if a.content_type == "application/pdf"), None)
        if pdf is not None:
            files.append(FormFile(pdf.filename, pdf.content_type, pdf.content))
    return WebForm(invoice_number, header, lines, files)


def encode(form: WebForm, payload_id: str) -> tuple[str, bytes]:
    """(content type, body): JSON alone, or multipart/mixed with the JSON first and each file after it."""
    fields = json.dumps(
        {"invoice_number": form.invoice_number, "header": form.header, "lines": form.lines},
        indent=1,
        ensure_ascii=False,
    ).encode()
    if not form.files:
        return f"{JSON_TYPE}; charset=utf-8", fields
    # The stored copy of a multipart request keeps what precedes the second `--portalhub-` boundary.
    boundary = boundary_for(payload_id)
    head = f'Content-Type: {JSON_TYPE}; charset=utf-8\r\nContent-Disposition: form-data; name="form"'
    files = [Part("", upload.filename, upload.content_type, upload.content) for upload in form.files]
    return f'multipart/mixed; boundary="{boundary}"', join_parts(boundary, head, fields, files)


def decode(content_type: str, body: bytes) -> WebForm:
    """The form back from a rendered body (MappingError if it is not one of ours)."""
    raw, parts = unpack(content_type, body)
    files = [FormFile(part.filename, part.content_type, part.content) for part in parts]
    try:
        data = json.loads(raw)
        return WebForm(str(data["invoice_number"]), dict(data["header"]), list(data["lines"]), files)
    except (ValueError, KeyError, TypeError) as exc:
        raise MappingError(f"the web-form document cannot be read back: {exc}") from exc
