"""AR rows -> canonical invoice: the column vocabulary shared by the SQL adapter and CSV exports.

A header row and its line rows (plain dicts of column -> value) become one `Invoice`; a value that
cannot be read raises `BadRecord` naming the column and the value, worded for the person who fixes it
in the AR system. The column names are the demo AR schema's (fixtures/demo/ar_schema.sql), listed in
`HEADER_COLUMNS` and `LINE_COLUMNS` and documented in docs/ar-adapters.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from hub.ar import ArRecord, describe_validation_error
from hub.model import (
    Address,
    Attachment,
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

PURPOSES = {
    "INV": InvoicePurpose.INVOICE,
    "CM": InvoicePurpose.CREDIT_MEMO,
    "DM": InvoicePurpose.DEBIT_MEMO,
    "CANCEL": InvoicePurpose.CANCEL,
}

#: Invoice-level columns (the customer's come from a join in SQL, from the export itself in CSV).
HEADER_COLUMNS = (
    "invoice_number",
    "customer_id",
    "customer_name",
    "customer_duns",
    "customer_tax_id",
    "customer_email",
    "customer_street",
    "customer_city",
    "customer_state",
    "customer_postal_code",
    "customer_country",
    "doc_type",
    "invoice_date",
    "due_date",
    "currency",
    "po_number",
    "po_date",
    "contract_number",
    "original_invoice_number",
    "payment_terms_days",
    "discount_percent",
    "discount_days",
    "subtotal",
    "tax_total",
    "shipping",
    "discount",
    "total",
    "cost_center",
    "comments",
)
LINE_COLUMNS = (
    "line_no",
    "po_line",
    "part_number",
    "buyer_part",
    "description",
    "quantity",
    "uom",
    "unit_price",
    "amount",
    "tax_rate",
    "tax_amount",
    "tax_jurisdiction",
    "service_start",
    "service_end",
    "afe_number",
    "well_id",
    "cost_center",
    "field_ticket",
)
DECIMAL_COLUMNS = frozenset(
    {
        "discount_percent",
        "subtotal",
        "tax_total",
        "shipping",
        "discount",
        "total",
        "quantity",
        "unit_price",
        "amount",
        "tax_rate",
        "tax_amount",
    }
)
INTEGER_COLUMNS = frozenset({"payment_terms_days", "discount_days", "line_no", "po_line"})
DATE_COLUMNS = frozenset({"invoice_date", "due_date", "po_date", "service_start", "service_end"})


class BadRecord(ValueError):
    """A value of the record cannot be read; the message names the column and the value."""


def optional_decimal(row: Mapping[str, Any], column: str) -> Decimal | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadRecord(f"{column} {value!r} is not a number") from None
    if not number.is_finite():  # NaN or Infinity would poison every sum they enter
        raise BadRecord(f"{column} {value!r} is not a number")
    return number


def decimal(row: Mapping[str, Any], column: str) -> Decimal:
    value = optional_decimal(row, column)
    if value is None:
        raise BadRecord(f"{column} is empty")
    return value


def optional_date(row: Mapping[str, Any], column: str) -> date | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise BadRecord(f"{column} {value!r} is not a date (YYYY-MM-DD)") from None


def required_date(row: Mapping[str, Any], column: str) -> date:
    value = optional_date(row, column)
    if value is None:
        raise BadRecord(f"{column} is empty")
    return value


def optional_int(row: Mapping[str, Any], column: str) -> int | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadRecord(f"{column} {value!r} is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise BadRecord(f"{column} {value!r} is not a whole number")
    return int(number)


def integer(row: Mapping[str, Any], column: str) -> int:
    value = optional_int(row, column)
    if value is None:
        raise BadRecord(f"{column} is empty")
    return value


def text(row: Mapping[str, Any], column: str) -> str | None:
    value = row.get(column)
    return None if value is None or str(value).strip() == "" else str(value).strip()


def invoice_from_rows(
    header: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    supplier: Supplier,
    attachments: Sequence[Attachment] = (),
) -> Invoice:
    """The invoice a header row and its line rows describe. Raises `BadRecord` for an unreadable value
    and pydantic's `ValidationError` when the values do not make a consistent invoice."""
    doc_type = (text(header, "doc_type") or "INV").upper()
    if doc_type not in PURPOSES:
        raise BadRecord(f"doc_type {doc_type!r} is not one of {', '.join(PURPOSES)}")
    charges = []
    for column, kind in (("shipping", ChargeKind.SHIPPING), ("discount", ChargeKind.DISCOUNT)):
        amount = optional_decimal(header, column)
        if amount:
            charges.append(Charge(kind=kind, amount=amount))
    terms = None
    if header.get("payment_terms_days") not in (None, ""):
        terms = PaymentTerms(
            net_days=integer(header, "payment_terms_days"),
            discount_percent=optional_decimal(header, "discount_percent"),
            discount_days=optional_int(header, "discount_days"),
        )
    extrinsics = {"CostCenter": cost} if (cost := text(header, "cost_center")) else {}
    buyer_address = None
    if text(header, "customer_street") and text(header, "customer_city") and text(header, "customer_country"):
        buyer_address = Address(
            street=[text(header, "customer_street") or ""],
            city=text(header, "customer_city") or "",
            state=text(header, "customer_state"),
            postal_code=text(header, "customer_postal_code"),
            country=text(header, "customer_country") or "",
        )
    return Invoice(
        invoice_number=text(header, "invoice_number") or "",
        invoice_date=required_date(header, "invoice_date"),
        due_date=optional_date(header, "due_date"),
        purpose=PURPOSES[doc_type],
        currency=text(header, "currency") or "",
        customer_id=str(header.get("customer_id") or ""),
        po_number=text(header, "po_number"),
        po_date=optional_date(header, "po_date"),
        contract_number=text(header, "contract_number"),
        original_invoice_number=text(header, "original_invoice_number"),
        payment_terms=terms,
        supplier=supplier,
        buyer=Party(
            name=text(header, "customer_name") or "",
            party_id=text(header, "customer_duns"),
            tax_id=text(header, "customer_tax_id"),
            email=text(header, "customer_email"),
            address=buyer_address,
        ),
        lines=[line_from_row(line) for line in lines],
        charges=charges,
        subtotal=decimal(header, "subtotal"),
        tax_total=decimal(header, "tax_total"),
        total=decimal(header, "total"),
        comments=text(header, "comments"),
        extrinsics=extrinsics,
        attachments=list(attachments),
    )


def line_from_row(row: Mapping[str, Any]) -> InvoiceLine:
    taxes = []
    tax_amount = optional_decimal(row, "tax_amount")
    if tax_amount is not None:
        taxes.append(
            TaxLine(
                category="sales",
                rate_percent=optional_decimal(row, "tax_rate"),
                taxable_amount=decimal(row, "amount"),
                amount=tax_amount,
                jurisdiction=text(row, "tax_jurisdiction"),
            )
        )
    start, end = optional_date(row, "service_start"), optional_date(row, "service_end")
    return InvoiceLine(
        line_number=integer(row, "line_no"),
        po_line_number=optional_int(row, "po_line"),
        supplier_part_id=text(row, "part_number"),
        buyer_part_id=text(row, "buyer_part"),
        description=text(row, "description") or "",
        quantity=decimal(row, "quantity"),
        unit_of_measure=text(row, "uom") or "",
        unit_price=decimal(row, "unit_price"),
        amount=decimal(row, "amount"),
        taxes=taxes,
        service_period=ServicePeriod(start=start, end=end) if start and end else None,
        afe_number=text(row, "afe_number"),
        well_id=text(row, "well_id"),
        cost_center=text(row, "cost_center"),
        field_ticket_number=text(row, "field_ticket"),
    )


def record_from(
    key: str, raw: dict[str, Any], invoice_number: str | None, build: Callable[[], Invoice]
) -> ArRecord:
    """An `ArRecord` from `build()`: the invoice, or the reason it could not be built."""
    try:
        invoice = build()
    except BadRecord as exc:
        return ArRecord(key=key, raw=raw, error=str(exc), invoice_number=invoice_number)
    except ValidationError as exc:
        return ArRecord(key=key, raw=raw, error=describe_validation_error(exc), invoice_number=invoice_number)
    except (ValueError, TypeError, ArithmeticError) as exc:
        # A value no check foresaw: this record is quarantined, the others still flow.
        return ArRecord(
            key=key,
            raw=raw,
            error=f"the record cannot be read: {type(exc).__name__}: {exc}",
            invoice_number=invoice_number,
        )
    return ArRecord(key=key, raw=raw, invoice=invoice, invoice_number=invoice.invoice_number)
