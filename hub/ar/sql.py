"""The SQL AR adapter (`kind: sql`): invoices from tables or views of the AR database, statuses back
into a table.

Works on SQLite and PostgreSQL URLs (the status write is `INSERT ... ON CONFLICT`). The expected
shape is the demo AR schema (fixtures/demo/ar_schema.sql): `ar_customers`, `ar_invoices` (header,
`status` = 'posted' when ready), `ar_invoice_lines`, and `ar_portal_status` where the hub writes each
event once (primary key `event_id`), also mirrored on `ar_invoices.portal_state / portal_reason /
portal_updated_at` for the collectors' screens.
Table names, the key and status columns and the mirror are configurable (`hub.config.SqlArColumns`);
a view with these columns works as well as a table. The column mapping is in docs/ar-adapters.md.
With `tables.changed_column` (a last-modified column), each ingest reads only the rows changed since
its last reads (hub/ar/watermark.py), not the whole ready set.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, create_engine, inspect, text
from sqlalchemy.engine import Engine

from hub.ar import ArAdapter, ArContext, ArRecord
from hub.ar.rows import BadRecord, invoice_from_rows, record_from
from hub.ar.rows import text as _text
from hub.ar.watermark import Watermark
from hub.config import ArConfig
from hub.errors import ConfigError
from hub.model import Attachment, Invoice, Supplier
from hub.store.database import normalise_url

log = logging.getLogger(__name__)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
BATCH = 500
WRITE_BACK_COLUMNS = frozenset({"portal_state", "portal_reason", "portal_updated_at"})
#: Optional column with the invoice's PDF copy (web portals upload it with the form).
PDF_COLUMN = "invoice_pdf"
#: The customer table's columns, as the invoice query names them (a view without a customer table
#: carries these names itself).
CUSTOMER_COLUMNS = {
    "name": "customer_name",
    "duns": "customer_duns",
    "tax_id": "customer_tax_id",
    "street": "customer_street",
    "city": "customer_city",
    "state": "customer_state",
    "postal_code": "customer_postal_code",
    "country": "customer_country",
    "email": "customer_email",
}


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"AR table name {name!r} is not a plain SQL identifier")
    return name


def _column(name: str) -> str:
    if not _IDENTIFIER.match(name) or "." in name:
        raise ConfigError(f"AR column name {name!r} is not a plain SQL identifier")
    return name


def _pdf(header: dict[str, Any]) -> list[Attachment]:
    content = header.get(PDF_COLUMN)
    if content is None or len(content) == 0:
        return []
    content = bytes(content)  # memoryview on some drivers
    if not content.startswith(b"%PDF-"):
        raise BadRecord(f"{PDF_COLUMN} does not hold a PDF (it does not start with %PDF-)")
    return [Attachment(filename=f"{_text(header, 'invoice_number') or 'invoice'}.pdf", content=content)]


class SqlArAdapter(ArAdapter):
    """Source and sink over one AR database (the `sql` adapter)."""

    kind = "sql"
    settings_model = ArConfig
    batched_intake = True  # reading changes nothing in the AR database: a lost batch is read again

    def __init__(
        self, config: ArConfig, supplier: Supplier, name: str = "ar-sql", engine: Engine | None = None
    ):
        self.name = name
        self.config = config
        self.settings = config
        self.supplier = supplier
        self.engine = engine or create_engine(normalise_url(config.url))
        tables = config.tables
        self.invoices = _identifier(tables.invoices_table)
        self.lines = _identifier(tables.lines_table)
        self.customers = _identifier(tables.customers_table) if tables.customers_table else None
        self.status = _identifier(tables.status_table)
        self.key = _column(tables.key_column)
        self.status_column = _column(tables.status_column)
        self.mirror_table = (
            _identifier(tables.mirror_table or tables.invoices_table) if tables.mirror else None
        )
        self.mirror_key = _column(tables.mirror_key_column or tables.key_column)
        self.status_key = _column(tables.status_key_column)
        self.changed_column = _column(tables.changed_column) if tables.changed_column else None
        self._watermark = Watermark(config.changes_margin_seconds, config.full_read_minutes * 60)
        self._monotonic = time.monotonic  # the watermark's clock (tests move it)
        self._changed_column_checked = False
        self._status_has_key: bool | None = None  # read from the database on the first write
        self._key_type: type = str

    @classmethod
    def from_settings(cls, settings: Any, context: ArContext) -> SqlArAdapter:
        config: ArConfig = settings
        # A relative SQLite path is relative to the config file (load_config resolves it; this covers
        # a block built in code with its own base folder).
        prefix = "sqlite:///"
        url = config.url
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            url = prefix + str((context.base_dir / url[len(prefix) :]).resolve())
        return cls(config.model_copy(update={"url": url}), context.supplier)

    # --- source --------------------------------------------------------------------------------------
    def pull(self, keys: Collection[str] | None = None) -> Iterator[ArRecord]:
        for header, lines in self._read(keys=keys):
            yield self._record(header, lines)

    def changes(self) -> Iterator[ArRecord]:
        """With `tables.changed_column`, only the ready rows changed since the last reads
        (hub/ar/watermark.py); without it, every ready row."""
        column = self.changed_column
        if column is None:
            yield from self.pull()
            return
        since = self._watermark.since(self._monotonic())
        values = []
        for header, lines in self._read(since=since):
            values.append(header.get(column))
            yield self._record(header, lines)
        self.settle()  # every record yielded is stored before the watermark moves past it
        # Dated when it ended, after the database's snapshot: the margin is never shortened.
        self._watermark.read(self._monotonic(), since, values)

    def _read(
        self, keys: Collection[str] | None = None, since: Any = None
    ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Ready headers (with `keys`, only those; with `since`, only those changed at or after it, or
        of unknown change) and their lines, in batches of BATCH."""
        if self.changed_column is not None and not self._changed_column_checked:
            self._check_changed_column(self.changed_column)
        ready = self.config.tables.ready_status
        conditions = [f"i.{self.status_column} = :ready"] if ready is not None else []
        parameters: dict[str, Any] = {"ready": ready}
        if keys is not None:
            names = [f":key{n}" for n in range(len(keys))]
            conditions.append(f"CAST(i.{self.key} AS TEXT) IN ({', '.join(names) or 'NULL'})")
            parameters.update({f"key{n}": str(k) for n, k in enumerate(keys)})
        if since is not None:
            conditions.append(f"(i.{self.changed_column} >= :since OR i.{self.changed_column} IS NULL)")
            parameters["since"] = since
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        if self.customers is not None:
            customer = ", ".join(f"c.{column} AS {alias}" for column, alias in CUSTOMER_COLUMNS.items())
            query = text(
                f"SELECT i.*, {customer} FROM {self.invoices} i "
                f"LEFT JOIN {self.customers} c ON c.customer_id = i.customer_id {where} ORDER BY i.{self.key}"
            )
        else:
            query = text(f"SELECT i.* FROM {self.invoices} i {where} ORDER BY i.{self.key}")
        with self.engine.connect() as connection:
            headers = [dict(r._mapping) for r in connection.execute(query, parameters)]
        for start in range(0, len(headers), BATCH):
            batch = headers[start : start + BATCH]
            lines = self._lines([h[self.key] for h in batch])
            for header in batch:
                yield header, lines.get(header[self.key], [])

    def _check_changed_column(self, column: str) -> None:
        """A missing column would fail every ingest with the database's words: name the setting."""
        if column not in self._columns(self.invoices):
            raise ConfigError(
                f"the AR invoices table {self.invoices} has no column {column!r} (ar.tables.changed_column): "
                "name its last-modified column, or remove the setting to read every ready row on each ingest"
            )
        self._changed_column_checked = True

    def _lines(self, invoice_ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
        grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        if not invoice_ids:
            return grouped
        names = ", ".join(f":id{n}" for n in range(len(invoice_ids)))
        query = text(f"SELECT * FROM {self.lines} WHERE {self.key} IN ({names}) ORDER BY {self.key}, line_no")
        with self.engine.connect() as connection:
            for row in connection.execute(query, {f"id{n}": v for n, v in enumerate(invoice_ids)}):
                grouped[row._mapping[self.key]].append(dict(row._mapping))
        return grouped

    def _record(self, header: dict[str, Any], lines: list[dict[str, Any]]) -> ArRecord:
        # The portal_* columns are the hub's own write-back, not part of the AR record; the PDF is kept
        # with the invoice, not copied into the raw record.
        own = {k: v for k, v in header.items() if k not in WRITE_BACK_COLUMNS}
        if own.get(PDF_COLUMN) is not None:
            own[PDF_COLUMN] = f"<{len(bytes(own[PDF_COLUMN]))} bytes>"
        raw = {"header": _jsonable(own), "lines": [_jsonable(line) for line in lines]}
        return record_from(
            str(header.get(self.key)),
            raw,
            _text(header, "invoice_number"),
            lambda: self._invoice(header, lines),
        )

    def _invoice(self, header: dict[str, Any], lines: list[dict[str, Any]]) -> Invoice:
        if header.get("customer_name") is None:
            if self.customers is None:
                raise BadRecord(f"customer_name is empty (customer {header.get('customer_id')!r})")
            raise BadRecord(f"customer {header.get('customer_id')!r} is not in {self.customers}")
        if not lines:
            raise BadRecord(f"invoice has no lines in {self.lines}")
        return invoice_from_rows(header, lines, self.supplier, _pdf(header))

    # --- sink ----------------------------------------------------------------------------------------
    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Each event once (the status table's key is event_id); the invoice row shows the newest state."""
        if not events:
            return
        written_at = datetime.now(UTC).isoformat()
        key = f", {self.status_key}" if self._key_in_status_table() else ""
        insert = text(
            f"INSERT INTO {self.status} (event_id, invoice_number, state, previous_state, reason, category, "
            f"raw_status, portal_invoice_id, at, written_at{key}) VALUES (:event_id, :invoice_number, :state, "
            f":previous_state, :reason, :category, :raw_status, :portal_invoice_id, :at, :written_at"
            f"{', :ar_key' if key else ''}) ON CONFLICT (event_id) DO NOTHING"
        )
        # The row of this AR record, by its own key: two records with one invoice number (an AR mistake
        # the hub blocks) must never write over each other's status.
        mirror = text(
            f"UPDATE {self.mirror_table} SET portal_state = :state, portal_reason = :reason, "
            f"portal_updated_at = :at WHERE {self.mirror_key} = :ar_key "
            f"AND (portal_updated_at IS NULL OR portal_updated_at <= :at)"
        )
        rows: dict[Any, dict[str, Any]] = {}
        for event in events:
            values = {name: event.get(name) for name in _STATUS_VALUES}
            ar_key = event.get("ar_key")
            values["ar_key"] = None if ar_key is None else str(ar_key)
            # Each event once, by its id as text: the AR system's status table may keep it as text.
            rows.setdefault(str(values["event_id"]), {**values, "written_at": written_at})
        with self.engine.begin() as connection:
            # One statement per batch, not per event (executemany): written one by one, a daemon feeding
            # back thousands of statuses spent ~10% of its CPU in SQLAlchemy's per-call overhead. Events
            # the table already holds are left as they are, and so is their mirror row, as one by one.
            ids = [v["event_id"] for v in rows.values()]
            for start in range(0, len(ids), _IDS_PER_SELECT):
                chunk = ids[start : start + _IDS_PER_SELECT]
                held = connection.execute(
                    text(f"SELECT event_id FROM {self.status} WHERE event_id IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"ids": chunk},
                )
                for (event_id,) in held:
                    rows.pop(str(event_id), None)
            if not rows:
                return
            # ON CONFLICT stays: another daemon may write the same event meanwhile (its mirror update
            # is guarded by the instant, so writing it twice changes nothing).
            connection.execute(insert, list(rows.values()))
            if self.mirror_table is not None:
                mirrored = [_typed_key(v, self._key_type) for v in rows.values() if v["ar_key"] is not None]
                if mirrored:
                    connection.execute(mirror, mirrored)

    def _key_in_status_table(self) -> bool:
        if self._status_has_key is None:
            self._status_has_key = self.status_key in self._columns(self.status)
            if not self._status_has_key:
                log.warning(
                    "the AR status table %s has no %s column: status rows name their invoice by number "
                    "only; add the column (docs/ar-adapters.md) so each row names its AR record",
                    self.status,
                    self.status_key,
                )
            mirror = self.mirror_table
            if mirror is not None:
                found = self._columns(mirror)
                if self.mirror_key not in found:
                    raise ConfigError(
                        f"the AR mirror table {mirror} has no column {self.mirror_key} (the AR record's "
                        "key): set tables.mirror_key_column, or tables.mirror: false"
                    )
                self._key_type = _python_type(found[self.mirror_key])
        return self._status_has_key

    def _columns(self, table_name: str) -> dict[str, Any]:
        """The columns of an AR table (`schema.table` or `table`), by name, with their types."""
        schema, _, table = table_name.rpartition(".")
        return {c["name"]: c["type"] for c in inspect(self.engine).get_columns(table, schema=schema or None)}


def _python_type(column_type: Any) -> type:
    try:
        return column_type.python_type
    except NotImplementedError:
        return str


#: What a status row holds of an event (besides the AR key and when it was written).
_STATUS_VALUES = (
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
#: Event ids bound in one query (well under every database's limit on bound parameters).
_IDS_PER_SELECT = 500


def _typed_key(values: dict[str, Any], key_type: type) -> dict[str, Any]:
    """The key as the key column holds it (events carry it as text; an INTEGER key is compared as an
    integer, so the key's index serves the update)."""
    if key_type is int:
        try:
            return {**values, "ar_key": int(values["ar_key"])}
        except ValueError:
            pass
    return values


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(row, default=str))
