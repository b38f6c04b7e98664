"""The store read through its DB-API driver (sqlite3 for SQLite, psycopg for PostgreSQL): the SQL of the
collectors' read-only commands (`status`, `show`, `rejections`, `quarantine`; hub/readonly/).

Importing SQLAlchemy and SQLModel costs a command ~0.3 to 0.7 s of CPU before it reads a row, several
times what the question takes. These queries read the tables the ORM writes (hub/store/tables.py) and
give back rows with the ORM's attribute names and Python types (instants timezone-aware in UTC, money
`Decimal`, dates `date`), so the functions that turn rows into answers (hub/worklist.py,
hub/corrections/links.py, hub/unplaced.py, hub/profile_health.py, hub/heartbeat.py,
hub/notify/health.py) serve both paths. tests/hub/test_store_reader.py holds every answer built here
equal to the ORM path's on the same store, on SQLite and PostgreSQL.

Nothing here writes: a SQLite store is read in one deferred transaction (`PRAGMA query_only`), a
PostgreSQL one in a read-only transaction.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: Columns holding instants (UTC text on SQLite, timestamptz on PostgreSQL), money, and dates.
INSTANTS = frozenset(
    {
        "at",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
        "next_attempt_at",
        "lease_expires_at",
        "portal_updated_at",
        "first_seen",
        "last_seen",
        "resolved_at",
        "received_at",
        "occurred_at",
        "polled_at",
        "since",
        "next_try_at",
        "last_seen_at",
        "stopped_at",
    }
)
MONEY = frozenset({"total"})
DATES = frozenset({"invoice_date"})

_INVOICE = (
    "id, source, ar_key, invoice_number, customer_id, profile_id, purpose, currency, total, invoice_date, "
    "state, revision, portal_invoice_number, original_invoice_number, portal_invoice_id, portal_status_raw, "
    "last_reason, last_category, next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at"
)
_EVENT = "id, invoice_id, at, actor, from_state, to_state, reason, category, raw_status, details, attempt_id"
_ATTEMPT = (
    "id, invoice_id, revision, payload_id, profile_id, connector, portal_invoice_number, outcome, "
    "started_at, finished_at, duration_ms, http_status, portal_code, portal_text, error"
)
_UNPLACED = (
    "id, received_at, profile_id, problem, explanation, invoice_number, document_payload_id, invoice_id, "
    "status_kind, status_type, occurred_at, comments, resolved_at"
)
_QUARANTINE = "id, source, ar_key, invoice_number, reason, first_seen, last_seen, resolved_at"


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite: the UTC text SQLAlchemy wrote
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _converter(name: str) -> Callable[[Any], Any] | None:
    if name in INSTANTS:
        return _instant
    if name in MONEY:
        return _money
    if name in DATES:
        return _date
    return None


_ROW_TYPES: dict[tuple[str, ...], type] = {}


def _row_type(names: tuple[str, ...]) -> type:
    found = _ROW_TYPES.get(names)
    if found is None:
        found = _ROW_TYPES[names] = namedtuple("Row", names)
    return found


def display_url(url: str) -> str:
    """The store's URL for messages, as the ORM store shows it: the driver named, the password masked."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class StoreReader:
    """One read-only connection to the store and the questions the read-only commands ask of it."""

    def __init__(self, connection: Any, dialect: str, url: str, *, close: Callable[[], None] | None = None):
        self.connection = connection
        self.dialect = dialect
        self.url = url
        self._close = close or connection.close

    @classmethod
    def open(cls, url: str) -> StoreReader | None:
        """A reader of the store at `url`; None when the SQLite file does not exist (a new store: nothing
        is created by reading). ConfigError for a URL that is neither SQLite nor PostgreSQL."""
        from hub.errors import ConfigError

        if url.startswith("sqlite:"):
            path = url.split("?", 1)[0].removeprefix("sqlite:").removeprefix("//")
            path = path.removeprefix("/") if path.startswith("/") else path
            if not path or path == ":memory:" or not Path(path).exists():
                return None
            lite = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            lite.execute("PRAGMA query_only=ON")
            lite.execute("BEGIN")  # one snapshot for every question of the command
            return cls(lite, "sqlite", url)
        if url.startswith(("postgresql:", "postgres:", "postgresql+psycopg:")):
            import psycopg

            try:
                pg = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
            except psycopg.Error as exc:
                raise ConfigError(f"cannot open the store {display_url(url)}: {exc}") from exc
            pg.read_only = True
            return cls(pg, "postgresql", url)
        raise ConfigError(f"store URL {url!r}: only sqlite and postgresql are supported")

    @classmethod
    def borrow(cls, store: Any) -> StoreReader:
        """A reader on a connection of an open ORM store (hub/store/database.py): a command handed the
        full hub (tests do) reads the same way; the connection goes back to the store's pool on close."""
        connection = store.engine.raw_connection()
        return cls(connection.driver_connection, store.dialect, store.url, close=connection.close)

    def close(self) -> None:
        if self.dialect == "postgresql":
            self.connection.rollback()
        self._close()

    # --- plumbing ---------------------------------------------------------------------------------------
    def rows(self, sql: str, params: Sequence[Any] = (), *, typed: bool = True) -> list[Any]:
        """Rows of `sql` (written with `?` placeholders), typed like the ORM's (`typed=False`: as the
        driver gives them), with its attribute names."""
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            names = tuple(d[0] for d in cursor.description)
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        make = _row_type(names)
        converters = [(n, c) for n, c in enumerate(map(_converter, names)) if c is not None] if typed else []
        if not converters:
            return [make(*row) for row in fetched]
        result = []
        for row in fetched:
            values = list(row)
            for index, convert in converters:
                values[index] = convert(values[index])
            result.append(make(*values))
        return result

    def first(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.rows(sql, params)
        return found[0] if found else None

    def revision(self) -> str | None:
        """The schema revision the store is at (None: a new, empty store)."""
        if self.dialect == "sqlite":
            try:
                known = self.first(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                )
            except sqlite3.DatabaseError:  # not an SQLite file: no portalhub tables, as the ORM store says
                return None
        else:
            known = self.first("SELECT to_regclass('alembic_version') AS name")
            known = known if known is not None and known.name is not None else None
        if known is None:
            return None
        version = self.first("SELECT version_num FROM alembic_version")
        return None if version is None or version.version_num is None else str(version.version_num)

    # --- status -----------------------------------------------------------------------------------------
    def state_counts(self) -> list[Any]:
        return self.rows("SELECT profile_id, state, count(*) AS n FROM invoices GROUP BY profile_id, state")

    def troubled_health(self) -> list[Any]:
        return self.rows("SELECT * FROM profile_health WHERE state != 'ok'")

    def health(self, profile_id: str) -> Any:
        return self.first("SELECT * FROM profile_health WHERE profile_id = ?", (profile_id,))

    def waiting_invoices(self, states: Iterable[str]) -> list[Any]:
        wanted = list(states)
        return self.rows(
            f"SELECT id, invoice_number, state, profile_id, next_attempt_at, lease_expires_at, last_reason, "
            f"last_category FROM invoices WHERE state IN ({_marks(wanted)})",
            wanted,
        )

    def open_quarantine_count(self) -> int:
        return int(self.rows("SELECT count(*) AS n FROM quarantine WHERE resolved_at IS NULL")[0].n)

    def cursors(self) -> list[Any]:
        return self.rows("SELECT * FROM poll_cursors")

    def cursor(self, profile_id: str) -> Any:
        return self.first("SELECT * FROM poll_cursors WHERE profile_id = ?", (profile_id,))

    def recent_sends(self, profile_id: str, limit: int) -> list[Any]:
        """A profile's newest answered sends, newest first (as hub/notify/health.py reads them)."""
        return self.rows(
            "SELECT outcome, started_at, portal_text, error FROM attempts WHERE profile_id = ? "
            "AND outcome != 'pending' ORDER BY started_at DESC, id DESC LIMIT ?",
            (profile_id, limit),
        )

    def first_send(self, profile_id: str) -> datetime | None:
        found = self.first(
            "SELECT min(started_at) AS started_at FROM attempts WHERE profile_id = ?", (profile_id,)
        )
        return found.started_at if found is not None else None

    def daemons(self) -> list[Any]:
        return self.rows("SELECT * FROM daemons")

    # --- show -------------------------------------------------------------------------------------------
    def find_invoice(self, number: str) -> Any:
        """The invoice by any number the buyer sees, in the order hub/corrections/common.py
        `find_invoice` tries them (exact, then case-insensitive, then an earlier send's number); None."""
        wanted = number.strip()
        folded = wanted.upper()
        by = f"SELECT {_INVOICE} FROM invoices WHERE %s = ? ORDER BY id LIMIT 1"
        for column, value in (
            ("invoice_number", wanted),
            ("portal_invoice_number", wanted),
            ("upper(invoice_number)", folded),
            ("upper(portal_invoice_number)", folded),
        ):
            row = self.first(by % column, (value,))
            if row is not None:
                return row
        sent = self.first(
            "SELECT invoice_id FROM attempts WHERE upper(portal_invoice_number) = ? LIMIT 1", (folded,)
        )
        if sent is None:
            return None
        return self.first(f"SELECT {_INVOICE} FROM invoices WHERE id = ?", (sent.invoice_id,))

    def quarantined_as(self, number: str) -> Any:
        """The newest quarantine record of that number (open ones first), or None."""
        wanted = number.strip()
        return self.first(
            f"SELECT {_QUARANTINE} FROM quarantine WHERE upper(invoice_number) = ? OR ar_key = ? "
            "ORDER BY resolved_at IS NOT NULL, last_seen DESC LIMIT 1",
            (wanted.upper(), wanted),
        )

    def events_of(self, invoice_id: int) -> list[Any]:
        return self.rows(f"SELECT {_EVENT} FROM events WHERE invoice_id = ? ORDER BY id", (invoice_id,))

    def attempts_of(self, invoice_id: int) -> list[Any]:
        return self.rows(f"SELECT {_ATTEMPT} FROM attempts WHERE invoice_id = ? ORDER BY id", (invoice_id,))

    def naming_as_original(self, numbers: Sequence[str], invoice_id: int) -> list[Any]:
        return self.rows(
            f"SELECT id, invoice_number, purpose, state, total, currency FROM invoices "
            f"WHERE original_invoice_number IN ({_marks(numbers)}) AND id != ?",
            [*numbers, invoice_id],
        )

    def unplaced_naming(self, invoice_id: int, numbers: Sequence[str]) -> list[Any]:
        return self.rows(
            f"SELECT {_UNPLACED} FROM unplaced_statuses WHERE invoice_id = ? "
            f"OR invoice_number IN ({_marks(numbers)}) ORDER BY id",
            [invoice_id, *numbers],
        )

    # --- rejections -------------------------------------------------------------------------------------
    def stuck(self, stuck: StuckCondition) -> list[Any]:
        """The open problems' invoices (the condition of hub/worklist.py `worklist`), each with what
        tells whether its kept row is still true (hub/readonly/kept_rows.py): its `event_seq`, its number
        of sends and the newest `finished_at` among them (`sends`, `answered`)."""
        from hub.worklist import INVOICE_COLUMNS

        return self.rows(
            f"SELECT {', '.join(INVOICE_COLUMNS)}, event_seq, "
            "(SELECT count(*) FROM attempts WHERE attempts.invoice_id = invoices.id) AS sends, "
            "(SELECT max(finished_at) FROM attempts WHERE attempts.invoice_id = invoices.id) AS answered "
            f"FROM invoices WHERE {stuck.sql}",
            stuck.params,
            typed=False,  # instants and amounts as stored, as `worklist` reads them (`_AS_READ`)
        )

    def histories(self, stuck: StuckCondition, ids: Sequence[int] | None) -> tuple[list[Any], list[Any]]:
        """The events (per invoice, oldest first) and sends of the stuck invoices `ids`, or of all of
        them (None): then selected with the invoices' condition as a subquery, as on SQLite a list of
        thousands of ids bound as parameters costs twice the reading itself."""
        from hub.worklist import ATTEMPT_COLUMNS, EVENT_COLUMNS

        events: list[Any] = []
        sends: list[Any] = []
        chunks: list[tuple[str, Sequence[Any]]]
        if ids is None:
            chunks = [(f"SELECT id FROM invoices WHERE {stuck.sql}", stuck.params)]
        else:
            chunks = [
                (_marks(ids[n : n + _IDS_BOUND]), ids[n : n + _IDS_BOUND])
                for n in range(0, len(ids), _IDS_BOUND)
            ]
        for among, params in chunks:
            # The events' instants as stored, as `worklist` reads them (hub/worklist.py `_instant`
            # converts the one it uses): converting all of them was ~20 ms on 29,000 events.
            events += self.rows(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE invoice_id IN ({among}) "
                "ORDER BY invoice_id, id",
                params,
                typed=False,
            )
            sends += self.rows(
                f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempts WHERE invoice_id IN ({among})", params
            )
        return events, sends

    def open_unplaced(self) -> list[Any]:
        return self.rows(f"SELECT {_UNPLACED} FROM unplaced_statuses WHERE resolved_at IS NULL ORDER BY id")

    def invoices_by_id(self, ids: Sequence[int]) -> dict[int, Any]:
        if not ids:
            return {}
        found = self.rows(f"SELECT {_INVOICE} FROM invoices WHERE id IN ({_marks(ids)})", list(ids))
        return {row.id: row for row in found}

    def stored_profiles(self) -> set[str]:
        return {r.profile_id for r in self.rows("SELECT DISTINCT profile_id FROM invoices") if r.profile_id}

    def holds_customer(self, customer: str) -> bool:
        return self.first("SELECT id FROM invoices WHERE customer_id = ? LIMIT 1", (customer,)) is not None

    def stored_customers(self) -> set[str]:
        return {r.customer_id for r in self.rows("SELECT DISTINCT customer_id FROM invoices")}

    # --- quarantine -------------------------------------------------------------------------------------
    def quarantine(self, *, resolved: bool) -> list[Any]:
        where = "" if resolved else " WHERE resolved_at IS NULL"
        return self.rows(f"SELECT {_QUARANTINE} FROM quarantine{where} ORDER BY last_seen DESC, id")


@dataclass(frozen=True)
class StuckCondition:
    """Which invoices are open problems (hub/worklist.py `worklist` says the same through the ORM), as
    SQL on the invoices table with its parameters."""

    sql: str
    params: tuple[Any, ...]

    @classmethod
    def of(
        cls,
        problem_states: Sequence[str],
        waiting_categories: Sequence[str],
        troubled: Sequence[str],
        unconfirmed_category: str,
    ) -> StuckCondition:
        held = f" OR (state = 'READY' AND profile_id IN ({_marks(troubled)}))" if troubled else ""
        return cls(
            f"state IN ({_marks(problem_states)}) "
            f"OR (state = 'READY' AND last_category IN ({_marks(waiting_categories)})){held} "
            "OR state = 'IN_DOUBT' OR (state = 'SUBMITTED' AND last_category = ?)",
            (*problem_states, *waiting_categories, *troubled, unconfirmed_category),
        )


#: Invoice ids bound in one query when only some invoices' events are read.
_IDS_BOUND = 500


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values)) or "NULL"
