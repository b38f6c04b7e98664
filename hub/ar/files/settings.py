"""Settings of the files adapter (`ar: {kind: files, folder: ..., ...}`), checked when the hub starts."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from hub.ar.rows import HEADER_COLUMNS, LINE_COLUMNS
from hub.profile import Strict

#: The logical CSV columns. A line's own cost centre is `line_cost_center`, so that one row of a
#: combined export can carry both the invoice's and the line's.
CSV_HEADER_COLUMNS = HEADER_COLUMNS
CSV_LINE_COLUMNS = tuple("line_cost_center" if c == "cost_center" else c for c in LINE_COLUMNS)
CSV_COLUMNS = frozenset(CSV_HEADER_COLUMNS) | frozenset(CSV_LINE_COLUMNS)


class CsvSettings(Strict):
    """How the CSV exports are written."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    #: Used when the file has no byte-order mark (a UTF-8 or UTF-16 BOM always wins).
    encoding: str = "utf-8"
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal["", ",", ".", " ", "'"] = ""
    #: strptime format of every date column (invoice_date, due_date, po_date, service_start, ...).
    date_format: str = "%Y-%m-%d"
    #: An export in two files: `<name>.header.csv` (one row per invoice) and `<name>.lines.csv`.
    header_suffix: str = ".header.csv"
    lines_suffix: str = ".lines.csv"
    #: Logical column -> the export's column name, where they differ (matched without regard to case).
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"{value!r} is not an encoding Python knows (e.g. utf-8, cp1252, latin-1)"
            ) from None
        return value

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - CSV_COLUMNS)
        if unknown:
            raise ValueError(
                f"unknown logical column(s) {', '.join(unknown)}; known: {', '.join(sorted(CSV_COLUMNS))}"
            )
        return value

    @model_validator(mode="after")
    def _separators_differ(self) -> CsvSettings:
        if self.decimal_separator == self.thousands_separator:
            raise ValueError("decimal_separator and thousands_separator must differ")
        if self.decimal_separator == self.delimiter:
            raise ValueError("decimal_separator cannot also be the delimiter")
        return self

    def column(self, logical: str) -> str:
        return self.columns.get(logical, logical)


class CustomerEntry(Strict):
    """One AR customer, for documents (cXML, UBL) that name the buyer their own way."""

    #: Identities in cXML (To credential `DOMAIN:identity` or identity, soldTo addressID or name) or UBL
    #: (SupplierAssignedAccountID, party ids as `scheme:id` or id, endpoint id, name) meaning this customer.
    ids: list[str] = Field(default_factory=list)
    #: The buyer's name when a CSV export has no customer_name column.
    name: str | None = None
    party_id: str | None = None


class FilesSettings(Strict):
    """`ar: {kind: files, folder: ar-exports}`: the AR system drops exports into `folder`."""

    folder: Path
    #: Imported files are moved here, files with problems to `error_folder` with `<name>.error.txt`
    #: (both relative to `folder`).
    done_folder: Path = Path("done")
    error_folder: Path = Path("error")
    #: Status events are written here as files the AR system imports (relative to `folder`).
    status_folder: Path = Path("status")
    status_format: Literal["csv", "jsonl"] = "csv"
    #: A file is read only when it has not changed for this long (and not during the read either);
    #: names ending in .part/.tmp and hidden files are never read (docs/ar-adapters.md).
    settle_seconds: float = Field(default=5, ge=0)
    #: A header file whose lines file has not arrived after this long (or the reverse) goes to error/.
    pair_timeout_seconds: float = Field(default=3600, gt=0)
    #: XML and .json documents are parsed whole: larger ones are refused (CSV and .jsonl stream).
    max_document_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    csv: CsvSettings = Field(default_factory=CsvSettings)
    #: AR customer id -> how documents name it.
    customers: dict[str, CustomerEntry] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _identities_are_unique(self) -> FilesSettings:
        owner: dict[str, str] = {}
        for customer, entry in self.customers.items():
            for identity in entry.ids:
                key = identity.strip().casefold()
                if key in owner and owner[key] != customer:
                    raise ValueError(f"identity {identity!r} is listed for {owner[key]} and for {customer}")
                owner[key] = customer
        return self

    def customer_for(self, identities: list[str]) -> str | None:
        """The AR customer the first matching identity names, if any is mapped."""
        wanted = {i.strip().casefold(): n for n, i in enumerate(identities) if i and i.strip()}
        best: tuple[int, str] | None = None
        for customer, entry in self.customers.items():
            for identity in entry.ids:
                rank = wanted.get(identity.strip().casefold())
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, customer)
        return best[1] if best else None
