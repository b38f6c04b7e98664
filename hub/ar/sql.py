"""The SQL AR adapter: invoices from tables (or views) of the AR database, statuses back into a table.

Works on any SQLAlchemy URL. The expected shape is the demo AR schema (fixtures/demo/ar_schema.sql):
`ar_customers`, `ar_invoices` (header, `status` = 'posted' when ready), `ar_invoice_lines`, and
`ar_portal_status` where the hub writes each event once (primary key `event_id`), also mirrored on
`ar_invoices.portal_state / portal_reason / portal_updated_at` for the collectors' screens.
Table names are configurable; a view with these columns works as well as a table.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from hub.ar import ArRecord, describe_validation_error
from hub.config import ArConfig
from hub.errors import ConfigError
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
from hub.store.database import normalise_url

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_PURPOSES = {
    "INV": InvoicePurpose.INVOICE,
    "CM": InvoicePurpose.CREDIT_MEMO,
    "DM": InvoicePurpose.DEBIT_MEMO,
    "CANCEL": InvoicePurpose.CANCEL,
}
BATCH = 500
WRITE_BACK_COLUMNS = frozenset({"portal_state", "portal_reason", "portal_updated_at"})
#: Optional column with the invoice's PDF copy (web portals upload it with the form).
PDF_COLUMN = "invoice_pdf"


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"AR table name {name!r} is not a plain SQL identifier")
    return name


class _BadRecord(ValueError):
    pass


def _optional_decimal(row: dict[str, Any], column: str) -> Decimal | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise _BadRecord(f"{column} {value!r} is not a number") from None


def _decimal(row: dict[str, Any], column: str) -> Decimal:
    value = _optional_decimal(row, column)
    if value is None:
        raise _BadRecord(f"{column} is empty")
    return value


def _optional_date(row: dict[str, Any], column: str) -> date | None:
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
        raise _BadRecord(f"{column} {value!r} is not a date (YYYY-MM-DD)") from None


def _date(row: dict[str, Any], column: str) -> date:
    value = _optional_date(row, column)
    if value is None:
        raise _BadRecord(f"{column} is empty")
    return value


def _pdf(header: dict[str, Any]) -> list[Attachment]:
    content = header.get(PDF_COLUMN)
    if content is None or len(content) == 0:
        return []
    content = bytes(content)  # memoryview on some drivers
    if not content.startswith(b"%PDF-"):
        raise _BadRecord(f"{PDF_COLUMN} does not hold a PDF (it does not start with %PDF-)")
    return [Attachment(filename=f"{_text(header, 'invoice_number') or 'invoice'}.pdf", content=content)]


def _optional_int(row: dict[str, Any], column: str) -> int | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _BadRecord(f"{column} {value!r} is not a whole number") from None
    if number != number.to_integral_value():
        raise _BadRecord(f"{column} {value!r} is not a whole number")
    return int(number)


def _int(row: dict[str, Any], column: str) -> int:
    value = _optional_int(row, column)
    if value is None:
        raise _BadRecord(f"{column} is empty")
    return value


def _text(row: dict[str, Any], column: str) -> str | None:
    value = row.get(column)
    return None if value is None or str(value).strip() == "" else str(value).strip()


class SqlArAdapter:
    """Source and sink over one AR database."""

    def __init__(
        self, config: ArConfig, supplier: Supplier, name: str = "ar-sql", engine: Engine | None = None
    ):
        self.name = name
        self.config = config
        self.supplier = supplier
        self.engine = engine or create_engine(normalise_url(config.url))
        tables = config.tables
        self.invoices = _identifier(tables.invoices_table)
        self.lines = _identifier(tables.lines_table)
        self.customers = _identifier(tables.customers_table)
        self.status = _identifier(tables.status_table)

    # --- source --------------------------------------------------------------------------------------
    def pull(self, keys: Collection[str] | None = None) -> Iterator[ArRecord]:
        conditions = ["i.status = :ready"] if self.config.tables.ready_status is not None else []
        parameters: dict[str, Any] = {"ready": self.config.tables.ready_status}
        if keys is not None:
            names = [f":key{n}" for n in range(len(keys))]
            conditions.append(f"CAST(i.invoice_id AS TEXT) IN ({', '.join(names) or 'NULL'})")
            parameters.update({f"key{n}": str(k) for n, k in enumerate(keys)})
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        query = text(
            f"SELECT i.*, c.name AS customer_name, c.duns AS customer_duns, c.tax_id AS customer_tax_id, "
            f"c.street AS customer_street, c.city AS customer_city, c.state AS customer_state, "
            f"c.postal_code AS customer_postal_code, c.country AS customer_country, c.email AS customer_email "
            f"FROM {self.invoices} i LEFT JOIN {self.customers} c ON c.customer_id = i.customer_id "
            f"{where} ORDER BY i.invoice_id"
        )
        with self.engine.connect() as connection:
            headers = [dict(r._mapping) for r in connection.execute(query, parameters)]
        for start in range(0, len(headers), BATCH):
            batch = headers[start : start + BATCH]
            lines = self._lines([h["invoice_id"] for h in batch])
            for header in batch:
                yield self._record(header, lines.get(header["invoice_id"], []))

    def _lines(self, invoice_ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
        grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        if not invoice_ids:
            return grouped
        names = ", ".join(f":id{n}" for n in range(len(invoice_ids)))
        query = text(f"SELECT * FROM {self.lines} WHERE invoice_id IN ({names}) ORDER BY invoice_id, line_no")
        with self.engine.connect() as connection:
            for row in connection.execute(query, {f"id{n}": v for n, v in enumerate(invoice_ids)}):
                grouped[row._mapping["invoice_id"]].append(dict(row._mapping))
        return grouped

    def _record(self, header: dict[str, Any], lines: list[dict[str, Any]]) -> ArRecord:
        # The portal_* columns are the hub's own write-back, not part of the AR record; the PDF is kept
        # with the invoice, not copied into the raw record.
        own = {k: v for k, v in header.items() if k not in WRITE_BACK_COLUMNS}
        if own.get(PDF_COLUMN) is not None:
            own[PDF_COLUMN] = f"<{len(bytes(own[PDF_COLUMN]))} bytes>"
        raw = {"header": _jsonable(own), "lines": [_jsonable(line) for line in lines]}
        key = str(header.get("invoice_id"))
        number = _text(header, "invoice_number")
        try:
            invoice = self._invoice(header, lines)
        except _BadRecord as exc:
            return ArRecord(key=key, raw=raw, error=str(exc), invoice_number=number)
        except ValidationError as exc:
            return ArRecord(key=key, raw=raw, error=describe_validation_error(exc), invoice_number=number)
        except (ValueError, TypeError, ArithmeticError) as exc:
            # A value no check above foresaw: this record is quarantined, the others still flow.
            return ArRecord(
                key=key,
                raw=raw,
                error=f"the record cannot be read: {type(exc).__name__}: {exc}",
                invoice_number=number,
            )
        return ArRecord(key=key, raw=raw, invoice=invoice, invoice_number=invoice.invoice_number)

    def _invoice(self, header: dict[str, Any], lines: list[dict[str, Any]]) -> Invoice:
        if header.get("customer_name") is None:
            raise _BadRecord(f"customer {header.get('customer_id')!r} is not in {self.customers}")
        if not lines:
            raise _BadRecord(f"invoice has no lines in {self.lines}")
        doc_type = (_text(header, "doc_type") or "INV").upper()
        if doc_type not in _PURPOSES:
            raise _BadRecord(f"doc_type {doc_type!r} is not one of {', '.join(_PURPOSES)}")
        charges = []
        for column, kind in (("shipping", ChargeKind.SHIPPING), ("discount", ChargeKind.DISCOUNT)):
            amount = _optional_decimal(header, column)
            if amount:
                charges.append(Charge(kind=kind, amount=amount))
        terms = None
        if header.get("payment_terms_days") is not None:
            terms = PaymentTerms(
                net_days=_int(header, "payment_terms_days"),
                discount_percent=_optional_decimal(header, "discount_percent"),
                discount_days=_int(header, "discount_days")
                if header.get("discount_days") is not None
                else None,
            )
        extrinsics = {"CostCenter": cost} if (cost := _text(header, "cost_center")) else {}
        buyer_address = None
        if (
            _text(header, "customer_street")
            and _text(header, "customer_city")
            and _text(header, "customer_country")
        ):
            buyer_address = Address(
                street=[_text(header, "customer_street") or ""],
                city=_text(header, "customer_city") or "",
                state=_text(header, "customer_state"),
                postal_code=_text(header, "customer_postal_code"),
                country=_text(header, "customer_country") or "",
            )
        return Invoice(
            invoice_number=_text(header, "invoice_number") or "",
            invoice_date=_date(header, "invoice_date"),
            due_date=_optional_date(header, "due_date"),
            purpose=_PURPOSES[doc_type],
            currency=_text(header, "currency") or "",
            customer_id=str(header.get("customer_id") or ""),
            po_number=_text(header, "po_number"),
            po_date=_optional_date(header, "po_date"),
            contract_number=_text(header, "contract_number"),
            original_invoice_number=_text(header, "original_invoice_number"),
            payment_terms=terms,
            supplier=self.supplier,
            buyer=Party(
                name=header["customer_name"],
                party_id=_text(header, "customer_duns"),
                tax_id=_text(header, "customer_tax_id"),
                email=_text(header, "customer_email"),
                address=buyer_address,
            ),
            lines=[self._line(line) for line in lines],
            charges=charges,
            subtotal=_decimal(header, "subtotal"),
            tax_total=_decimal(header, "tax_total"),
            total=_decimal(header, "total"),
            comments=_text(header, "comments"),
            extrinsics=extrinsics,
            attachments=_pdf(header),
        )

    def _line(self, row: dict[str, Any]) -> InvoiceLine:
        taxes = []
        tax_amount = _optional_decimal(row, "tax_amount")
        if tax_amount is not None:
            taxes.append(
                TaxLine(
                    category="sales",
                    rate_percent=_optional_decimal(row, "tax_rate"),
                    taxable_amount=_decimal(row, "amount"),
                    amount=tax_amount,
                    jurisdiction=_text(row, "tax_jurisdiction"),
                )
            )
        start, end = _optional_date(row, "service_start"), _optional_date(row, "service_end")
        return InvoiceLine(
            line_number=_int(row, "line_no"),
            po_line_number=_optional_int(row, "po_line"),
            supplier_part_id=_text(row, "part_number"),
            buyer_part_id=_text(row, "buyer_part"),
            description=_text(row, "description") or "",
            quantity=_decimal(row, "quantity"),
            unit_of_measure=_text(row, "uom") or "",
            unit_price=_decimal(row, "unit_price"),
            amount=_decimal(row, "amount"),
            taxes=taxes,
            service_period=ServicePeriod(start=start, end=end) if start and end else None,
            afe_number=_text(row, "afe_number"),
            well_id=_text(row, "well_id"),
            cost_center=_text(row, "cost_center"),
            field_ticket_number=_text(row, "field_ticket"),
        )

    # --- sink ----------------------------------------------------------------------------------------
    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Each event once (the status table's key is event_id); the invoice row shows the newest state."""
        if not events:
            return
        written_at = datetime.now(UTC).isoformat()
        insert = text(
            f"INSERT INTO {self.status} (event_id, invoice_number, state, previous_state, reason, category, "
            f"raw_status, portal_invoice_id, at, written_at) VALUES (:event_id, :invoice_number, :state, "
            f":previous_state, :reason, :category, :raw_status, :portal_invoice_id, :at, :written_at) "
            f"ON CONFLICT (event_id) DO NOTHING"
        )
        mirror = text(
            f"UPDATE {self.invoices} SET portal_state = :state, portal_reason = :reason, portal_updated_at = :at "
            f"WHERE invoice_number = :invoice_number AND (portal_updated_at IS NULL OR portal_updated_at <= :at)"
        )
        with self.engine.begin() as connection:
            for event in events:
                values = {
                    key: event.get(key)
                    for key in (
                        "event_id",
                        "invoice_number",
                        "state",
                        "previous_state",
                        "reason",
                        "category",
                        "raw_status",
                        "portal_invoice_id",
                        "at",
                    )
                }
                inserted = connection.execute(insert, {**values, "written_at": written_at}).rowcount
                if inserted:
                    connection.execute(mirror, values)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(row, default=str))
