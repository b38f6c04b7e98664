"""The files adapter's memory, kept beside the files it is about (`<folder>/.portalhub/ledger.sqlite3`).

Which exports were imported (by content hash: the same content under another name is imported once),
which status events were written (by event id: each once, across restarts), and which status files are
committed but not yet renamed into place (finished at the next start, so a crash loses nothing).
SQLite because it is transactional, in the standard library and needs no server.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS imported_files (
    sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, imported_at TEXT NOT NULL, outcome TEXT NOT NULL,
    records INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS written_events (
    event_id TEXT PRIMARY KEY, file TEXT NOT NULL, written_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_status_files (name TEXT PRIMARY KEY);
"""
_BATCH = 500


@dataclass(frozen=True)
class Imported:
    name: str
    imported_at: str
    outcome: str


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short connection per operation: ingest and feedback run in different threads.
        with closing(sqlite3.connect(self.path, timeout=30)) as connection, connection:
            yield connection

    # --- imports ---------------------------------------------------------------------------------------
    def imported(self, sha256: str) -> Imported | None:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT name, imported_at, outcome FROM imported_files WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return Imported(*row) if row else None

    def mark_imported(self, sha256: str, name: str, outcome: str, records: int) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO imported_files VALUES (?, ?, ?, ?, ?)",
                (sha256, name, datetime.now(UTC).isoformat(timespec="seconds"), outcome, records),
            )

    # --- status events ---------------------------------------------------------------------------------
    def unwritten(self, event_ids: Iterable[str]) -> set[str]:
        """The ids among `event_ids` that were never written."""
        ids = list(dict.fromkeys(event_ids))
        seen: set[str] = set()
        with self._connect() as connection:
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start : start + _BATCH]
                marks = ", ".join("?" * len(chunk))
                seen.update(
                    row[0]
                    for row in connection.execute(
                        f"SELECT event_id FROM written_events WHERE event_id IN ({marks})", chunk
                    )
                )
        return set(ids) - seen

    def commit_status_file(self, name: str, event_ids: Iterable[str]) -> None:
        """Record the events as written to `name` (still under its temporary name) in one transaction."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as connection:
            connection.executemany(
                "INSERT INTO written_events VALUES (?, ?, ?)", [(e, name, now) for e in event_ids]
            )
            connection.execute("INSERT INTO pending_status_files VALUES (?)", (name,))

    def pending_status_files(self) -> list[str]:
        with self._connect() as connection:
            return [
                row[0] for row in connection.execute("SELECT name FROM pending_status_files ORDER BY name")
            ]

    def finish_status_file(self, name: str) -> None:
        with self._connect() as connection:
            connection.execute("DELETE FROM pending_status_files WHERE name = ?", (name,))
