"""What every reader of an export shares: the unit of import, what a reader yields, strict values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from hub.ar import ArRecord
from hub.ar.rows import BadRecord


class FileProblem(Exception):
    """The export as a whole cannot be read (not the format it claims, columns missing, ...); the
    message says what is wrong and how to fix it."""


class BadValue(BadRecord):
    """One value of a document cannot be read; the message names where and what."""


@dataclass(frozen=True)
class Export:
    """One unit of import: a file, or a header file and its lines file."""

    paths: tuple[Path, ...]
    format: str  # csv | csv-pair | json | jsonl | xml
    sha256: str

    @property
    def name(self) -> str:
        return " + ".join(path.name for path in self.paths)


@dataclass(frozen=True)
class Found:
    """A record read from an export and where it was (for the `.error.txt` report)."""

    record: ArRecord
    where: str  # "rows 3-5", "line 7", "document"
    file: str = ""

    @property
    def message(self) -> str:
        """The record's error without the `<file> <where>: ` it starts with."""
        error = self.record.error or ""
        for prefix in (f"{self.file} {self.where}: ", f"{self.file}: ", f"{self.where}: "):
            error = error.removeprefix(prefix)
        return error


def located(record: ArRecord, file: str, where: str) -> ArRecord:
    """The record with `<file> <where>: ` before its error (what collectors read in the quarantine)."""
    if record.error is None or record.error.startswith(f"{file} "):
        return record
    return ArRecord(
        key=record.key,
        raw=record.raw,
        error=f"{file} {where}: {record.error}",
        invoice_number=record.invoice_number,
    )


def describe_rows(rows: list[int]) -> str:
    if not rows:
        return "no rows"
    if len(rows) == 1:
        return f"row {rows[0]}"
    if rows == list(range(rows[0], rows[-1] + 1)):
        return f"rows {rows[0]}-{rows[-1]}"
    shown = ", ".join(str(r) for r in rows[:8])
    return f"rows {shown}{', ...' if len(rows) > 8 else ''}"


def plain_decimal(text: str, shown: str) -> Decimal:
    """`text` as an exact decimal written out plainly. NaN and Infinity would poison every sum they
    enter, and no AR system exports money as 1.25E+2: a value like that is a mangled cell. Raises
    ValueError saying what is wrong with `shown` (the value as the export wrote it)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{shown!r} is not a number") from None
    if not number.is_finite() or "e" in text.lower():
        raise ValueError(f"{shown!r} is not a plain number")
    return number


def strict_decimal(value: str | None, where: str) -> Decimal | None:
    """A decimal from document text (None for empty); see `plain_decimal`."""
    if value is None or value.strip() == "":
        return None
    try:
        return plain_decimal(value.strip(), value)
    except ValueError as exc:
        raise BadValue(f"{where} {exc}") from None


def strict_date(value: str | None, where: str) -> date | None:
    """A calendar date from `YYYY-MM-DD` or an ISO date-time (its date in its own offset)."""
    if value is None or value.strip() == "":
        return None
    cleaned = value.strip()
    try:
        if len(cleaned) > 10:
            return datetime.fromisoformat(cleaned).date()
        return date.fromisoformat(cleaned)
    except ValueError:
        raise BadValue(f"{where} {value!r} is not a date (YYYY-MM-DD or an ISO date-time)") from None
