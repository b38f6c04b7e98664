"""CSV field text -> the values `hub.ar.rows` reads: numbers and dates as the export writes them."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from hub.ar.files.common import plain_decimal
from hub.ar.files.settings import CsvSettings
from hub.ar.rows import DATE_COLUMNS, DECIMAL_COLUMNS, INTEGER_COLUMNS


class CsvValues:
    """Turns a row's fields into the logical values `hub.ar.rows` reads, collecting row-numbered problems."""

    def __init__(self, settings: CsvSettings):
        self.settings = settings
        self.example_date = date(2026, 11, 20).strftime(settings.date_format)

    def read(
        self, label: str, fields: list[str], positions: dict[str, int], problems: list[str]
    ) -> dict[str, Any]:
        """The row's logical values; a value that cannot be read is None, its problem appended as
        `<label><column>: <what is wrong>` (label: "" or "row 12, ")."""
        values: dict[str, Any] = {}
        for logical, position in positions.items():
            raw = fields[position].strip() if position < len(fields) else ""
            if raw == "":
                values[logical] = None
                continue
            try:
                values[logical] = self.convert(logical, raw)
            except ValueError as exc:
                problems.append(f"{label}{self.settings.column(logical)}: {exc}")
                values[logical] = None
        return values

    def convert(self, logical: str, raw: str) -> str:
        column = "cost_center" if logical == "line_cost_center" else logical
        if column in DECIMAL_COLUMNS or column in INTEGER_COLUMNS:
            number = raw.replace(" ", "") if self.settings.thousands_separator == " " else raw
            if self.settings.thousands_separator:
                number = number.replace(self.settings.thousands_separator, "")
            if self.settings.decimal_separator == ",":
                number = number.replace(",", ".")
            try:
                value = plain_decimal(number, raw)
            except ValueError as exc:
                raise ValueError(f"{exc}{self._number_hint(raw)}") from None
            if column in INTEGER_COLUMNS and value != value.to_integral_value():
                raise ValueError(f"{raw!r} is not a whole number")
            return format(value, "f")
        if column in DATE_COLUMNS:
            try:
                return _iso_date(raw, self.settings.date_format)
            except ValueError:
                raise ValueError(
                    f"{raw!r} is not a date like {self.example_date} (csv.date_format {self.settings.date_format!r})"
                ) from None
        return raw

    def _number_hint(self, raw: str) -> str:
        if "," in raw and self.settings.decimal_separator == "." and not self.settings.thousands_separator:
            return " (a decimal comma? set `csv.decimal_separator: ','`)"
        return ""


@lru_cache(maxsize=4096)
def _iso_date(raw: str, date_format: str) -> str:
    # An export repeats a few dates on every row: strptime is slow enough to matter at 50 MB.
    return datetime.strptime(raw, date_format).date().isoformat()
