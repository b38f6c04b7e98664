"""A scratch SQLite file for the rows of one CSV export, so memory does not grow with the export."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path


class Spill:
    """Rows of the export in a scratch SQLite database: (part, invoice number, row number, fields)."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self._dir = tempfile.TemporaryDirectory(dir=folder, prefix="csv-")
        self.db = sqlite3.connect(Path(self._dir.name) / "rows.sqlite3")
        # The scratch copy needs no durability: it is rebuilt from the export if anything fails.
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("CREATE TABLE rows (part TEXT, number TEXT, row_no INTEGER, data TEXT, problem TEXT)")

    def add(self, batch: list[tuple[str, str, int, str, str | None]]) -> None:
        self.db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?)", batch)

    def index(self) -> None:
        self.db.execute("CREATE INDEX rows_by_number ON rows (number, part, row_no)")

    def numbers(self) -> Iterator[str]:
        yield from (row[0] for row in self.db.execute("SELECT DISTINCT number FROM rows ORDER BY number"))

    def rows(self, number: str, part: str) -> list[tuple[int, list[str], str | None]]:
        cursor = self.db.execute(
            "SELECT row_no, data, problem FROM rows WHERE number = ? AND part = ? ORDER BY row_no",
            (number, part),
        )
        return [(row_no, json.loads(data), problem) for row_no, data, problem in cursor]

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()


def safe_text(text: str) -> str:
    # Undecodable bytes (surrogate escapes) cannot be stored as SQLite text: show them as \xNN.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
