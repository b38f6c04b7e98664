"""CSV exports: one file (a row per invoice line, the invoice's columns repeated) or two (a header file,
a row per invoice, and a lines file), columns named as in the SQL adapter or mapped in the settings.

Memory stays bounded whatever the size of the export: rows stream through the csv module into a
scratch SQLite file beside the folder, and invoices are assembled from it one at a time. That also
frees exports from any row order (an invoice's rows need not be adjacent; lines may come before their
header). Every problem names its row numbers (the header is row 1, as in a spreadsheet).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.ar import ArRecord
from hub.ar.files.common import Export, FileProblem, Found, describe_rows
from hub.ar.files.csv_values import CsvValues
from hub.ar.files.settings import CSV_HEADER_COLUMNS, CSV_LINE_COLUMNS, CsvSettings, FilesSettings
from hub.ar.files.spill import Spill, safe_text
from hub.ar.files.textio import describe_undecodable, open_text, undecodable
from hub.ar.rows import BadRecord, invoice_from_rows, record_from
from hub.model import Supplier

REQUIRED_HEADER = (
    "invoice_number",
    "customer_id",
    "invoice_date",
    "currency",
    "subtotal",
    "tax_total",
    "total",
)
REQUIRED_LINE = ("description", "quantity", "uom", "unit_price", "amount")
_OTHER_DELIMITERS = (";", ",", "\t", "|")
_INSERT_BATCH = 2000


def _load(
    spill: Spill,
    part: str,
    path: Path,
    settings: CsvSettings,
    columns: tuple[str, ...],
    required: tuple[str, ...],
) -> dict[str, int]:
    """Stream one CSV file into the spill; returns logical column -> position. Raises FileProblem when
    the file as a whole is unusable (empty, wrong delimiter, columns missing, a broken quote)."""
    text, encoding = open_text(path, settings.encoding)
    with text:
        reader = csv.reader(text, delimiter=settings.delimiter, quotechar=settings.quotechar)
        try:
            header = next(reader)
        except StopIteration:
            raise FileProblem(f"{path.name} is empty (no header row)") from None
        except csv.Error as exc:
            raise FileProblem(f"{path.name} row 1 (the header) cannot be read: {exc}") from None
        positions = _header_positions(path.name, header, settings, encoding, columns, required)
        number_at = positions.get("invoice_number")
        width = len(header)
        batch: list[tuple[str, str, int, str, str | None]] = []
        row_no = 1
        try:
            for fields in reader:
                row_no += 1
                if not any(field.strip() for field in fields):
                    continue  # blank lines between blocks are common in hand-edited exports
                problem = None
                if len(fields) != width:
                    problem = (
                        f"has {len(fields)} fields, the header has {width} (a stray delimiter or quote?)"
                    )
                elif undecodable("".join(fields)):  # one look per row; the field only when there is one
                    bad = next(f for f in fields if undecodable(f))
                    problem = describe_undecodable(bad, encoding)
                number = (
                    fields[number_at].strip() if number_at is not None and number_at < len(fields) else ""
                )
                data = json.dumps(fields)  # ASCII-escaped: undecodable bytes survive the round trip
                batch.append((part, safe_text(number), row_no, data, problem))
                if len(batch) >= _INSERT_BATCH:
                    spill.add(batch)
                    batch.clear()
        except csv.Error as exc:
            raise FileProblem(f"{path.name} row {row_no + 1} cannot be read: {exc}") from None
        spill.add(batch)
    return positions


def _header_positions(
    name: str,
    header: list[str],
    settings: CsvSettings,
    encoding: str,
    columns: tuple[str, ...],
    required: tuple[str, ...],
) -> dict[str, int]:
    names = [h.strip().lstrip("\ufeff") for h in header]
    if any("\x00" in n for n in names):
        raise FileProblem(
            f"{name} has NUL bytes in its header: it looks like UTF-16 without a byte-order mark; "
            "export it as UTF-8, or set `csv.encoding: utf-16-le`"
        )
    bad = next((n for n in names if undecodable(n)), None)
    if bad is not None:
        raise FileProblem(f"{name} header: {describe_undecodable(bad, encoding)}")
    index: dict[str, int] = {}
    for position, column in enumerate(names):
        key = column.casefold()
        if key in index and key:
            raise FileProblem(f"{name}: the column {column!r} appears twice in the header (row 1)")
        index[key] = position
    positions = {
        c: index[settings.column(c).casefold()] for c in columns if settings.column(c).casefold() in index
    }
    missing = [settings.column(c) for c in required if c not in positions]
    if not missing:
        return positions
    found = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
    message = f"{name}: missing column(s) {', '.join(missing)} (the header has {found})"
    guessed = [d for d in _OTHER_DELIMITERS if d != settings.delimiter and any(d in n for n in names)]
    if guessed:
        shown = {"\t": "\\t"}.get(guessed[0], guessed[0])
        message += (
            f"; the file seems to use {shown!r} between columns, the folder is set to "
            f"{settings.delimiter!r}: set `csv.delimiter: {shown!r}` or export with {settings.delimiter!r}"
        )
    else:
        message += "; name the export's columns in `csv.columns` (logical name: column name)"
    raise FileProblem(message)


def read_csv(export: Export, settings: FilesSettings, supplier: Supplier, scratch: Path) -> Iterator[Found]:
    """The records of a CSV export (one file or a header/lines pair), one invoice at a time."""
    spill = Spill(scratch)
    try:
        if export.format == "csv":
            both = CSV_HEADER_COLUMNS + CSV_LINE_COLUMNS
            positions = _load(
                spill, "c", export.paths[0], settings.csv, both, REQUIRED_HEADER + REQUIRED_LINE
            )
            header_positions = {k: v for k, v in positions.items() if k in CSV_HEADER_COLUMNS}
            line_positions = {k: v for k, v in positions.items() if k in CSV_LINE_COLUMNS}
        else:
            header_positions = _load(
                spill, "h", export.paths[0], settings.csv, CSV_HEADER_COLUMNS, REQUIRED_HEADER
            )
            line_positions = _load(
                spill,
                "l",
                export.paths[1],
                settings.csv,
                ("invoice_number", *CSV_LINE_COLUMNS),
                ("invoice_number", *REQUIRED_LINE),
            )
            line_positions.pop("invoice_number")
        spill.index()
        assembler = _Assembler(export, settings, supplier, header_positions, line_positions)
        for number in spill.numbers():
            if export.format == "csv":
                rows = spill.rows(number, "c")
                yield from assembler.combined(number, rows)
            else:
                yield from assembler.pair(number, spill.rows(number, "h"), spill.rows(number, "l"))
    finally:
        spill.close()


class _Assembler:
    def __init__(
        self,
        export: Export,
        settings: FilesSettings,
        supplier: Supplier,
        header_positions: dict[str, int],
        line_positions: dict[str, int],
    ):
        self.export = export
        self.settings = settings
        self.supplier = supplier
        self.header_positions = header_positions
        self.line_positions = line_positions
        self.values = CsvValues(settings.csv)
        self.file = export.paths[0].name
        self.lines_file = export.paths[-1].name

    def combined(self, number: str, rows: list[tuple[int, list[str], str | None]]) -> Iterator[Found]:
        if number == "":
            for row_no, fields, problem in rows:
                yield self._unnumbered(self.file, row_no, fields, problem)
            return
        many = len(rows) > 1
        problems: list[str] = [f"row {r}: {p}" if many else p for r, _, p in rows if p]
        good = [(f"row {r}, " if many else "", r, f) for r, f, p in rows if not p]
        # The invoice's own columns are read from its first row; the others must repeat them as written.
        header = self.values.read(good[0][0], good[0][2], self.header_positions, problems) if good else {}
        if len(good) > 1:
            problems.extend(self._disagreements([(r, f) for _, r, f in good]))
        lines = [(r, self.values.read(label, f, self.line_positions, problems)) for label, r, f in good]
        rows_read = [r for r, _, _ in rows]
        where = describe_rows(rows_read)
        raw = {"file": self.file, "rows": rows_read}
        yield self._found(number, f"{self.file} {where}", where, raw, header, lines, problems)

    def pair(
        self,
        number: str,
        header_rows: list[tuple[int, list[str], str | None]],
        line_rows: list[tuple[int, list[str], str | None]],
    ) -> Iterator[Found]:
        if number == "":
            for row_no, fields, problem in header_rows:
                yield self._unnumbered(self.file, row_no, fields, problem)
            for row_no, fields, problem in line_rows:
                yield self._unnumbered(self.lines_file, row_no, fields, problem)
            return
        header_at = [r for r, _, _ in header_rows]
        lines_at = [r for r, _, _ in line_rows]
        problems = [f"{self.file} row {r}: {p}" for r, _, p in header_rows if p]
        problems += [f"{self.lines_file} row {r}: {p}" for r, _, p in line_rows if p]
        if not header_rows:
            problems.append(f"invoice {number!r} is not in {self.file}")
        elif len(header_rows) > 1:
            problems.append(f"{self.file} {describe_rows(header_at)} all describe invoice {number!r}")
        elif not line_rows:
            problems.append(f"invoice {number!r} has no lines in {self.lines_file}")
        header: dict[str, Any] = {}
        if header_rows and not header_rows[0][2]:
            header = self.values.read(
                f"{self.file} row {header_at[0]}, ", header_rows[0][1], self.header_positions, problems
            )
        lines = [
            (r, self.values.read(f"{self.lines_file} row {r}, ", f, self.line_positions, problems))
            for r, f, p in line_rows
            if not p
        ]
        parts = [f"{self.file} {describe_rows(header_at)}"] if header_rows else []
        parts += [f"{self.lines_file} {describe_rows(lines_at)}"] if line_rows else []
        where = ", ".join(parts)
        raw = {"files": [self.file, self.lines_file], "rows": header_at, "line_rows": lines_at}
        yield self._found(number, where, where, raw, header, lines, problems)

    def _disagreements(self, rows: list[tuple[int, list[str]]]) -> list[str]:
        first_row, first = rows[0]
        problems = []
        for column, position in self.header_positions.items():
            for row_no, fields in rows[1:]:
                if fields[position].strip() != first[position].strip():
                    problems.append(
                        f"rows {first_row} and {row_no} disagree on {self.settings.csv.column(column)} "
                        f"({first[position].strip()!r} / {fields[position].strip()!r})"
                    )
                    break
        return problems

    def _unnumbered(self, file: str, row_no: int, fields: list[str], problem: str | None) -> Found:
        column = self.settings.csv.column("invoice_number")
        error = f"{file} row {row_no}: {problem or f'{column} is empty'}"
        raw = {"file": file, "rows": [row_no], "fields": [safe_text(f) for f in fields]}
        where = f"row {row_no}" if self.export.format == "csv" else f"{file} row {row_no}"
        return Found(ArRecord(key=f"{file}:row {row_no}", raw=raw, error=error), where, file)

    def _found(
        self,
        number: str,
        prefix: str,
        where: str,
        raw: dict[str, Any],
        header: dict[str, Any],
        lines: list[tuple[int, dict[str, Any]]],
        problems: list[str],
    ) -> Found:
        """The record of one invoice; every error starts with `prefix` (the file(s) and rows)."""
        raw = {**raw, "header": header, "lines": [values for _, values in lines]}
        if problems:
            record = ArRecord(
                key=number, raw=raw, error=f"{prefix}: {'; '.join(problems)}", invoice_number=number
            )
        else:
            record = record_from(number, raw, number, lambda: self._invoice(header, lines))
            if record.error:
                record = ArRecord(
                    key=number, raw=raw, error=f"{prefix}: {record.error}", invoice_number=number
                )
        return Found(record, where, self.file)

    def _invoice(self, header: dict[str, Any], lines: list[tuple[int, dict[str, Any]]]) -> Any:
        header = dict(header)
        customer = self.settings.customers.get(str(header.get("customer_id") or ""))
        if not header.get("customer_name"):
            if customer is None or not customer.name:
                raise BadRecord(
                    f"{self.settings.csv.column('customer_name')} is empty and customer "
                    f"{header.get('customer_id')!r} has no name under `customers:` in the config"
                )
            header["customer_name"] = customer.name
        if not header.get("customer_duns") and customer is not None and customer.party_id:
            header["customer_duns"] = customer.party_id
        rows = []
        for position, (_, values) in enumerate(lines, 1):
            row = {("cost_center" if k == "line_cost_center" else k): v for k, v in values.items()}
            if "line_no" not in self.line_positions:
                row["line_no"] = str(position)  # no line-number column: lines are numbered in file order
            rows.append(row)
        return invoice_from_rows(header, rows, self.supplier)
