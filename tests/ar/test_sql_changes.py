"""Incremental AR reads (`tables.changed_column`): each ingest reads what changed, never loses a change.

The AR database is the demo schema, whose triggers move `updated_at` on every change of a header or
its lines, as an ERP keeps a last-modified time. The watermark's clock is the adapter's `_monotonic`,
moved by the tests; the AR's own stamps are written by the tests where a test needs them exact.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from connectors.sandbox.coupa import CoupaSandbox
from hub.ar import ArRecord
from hub.ar.sql import SqlArAdapter
from hub.ar.watermark import Watermark
from hub.config import ArConfig
from hub.errors import ConfigError
from hub.pipeline import intake, intake_batch
from hub.pipeline.intake import ingest
from tests.factories import SUPPLIER, create_demo_ar_tables, make_hub

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
MARGIN = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _adapter(url: str, clock: Clock, **settings: Any) -> SqlArAdapter:
    config = ArConfig.model_validate(
        {
            "url": url,
            "tables": {"changed_column": "updated_at"},
            "changes_margin_seconds": MARGIN,
            **settings,
        }
    )
    adapter = SqlArAdapter(config, SUPPLIER)
    adapter._monotonic = clock
    return adapter


@pytest.fixture
def ar_path(tmp_path: Path) -> Path:
    path = tmp_path / "ar.db"
    connection = sqlite3.connect(path)
    connection.executescript((FIXTURES / "ar_schema.sql").read_text())
    connection.executescript((FIXTURES / "ar_data_coupa.sql").read_text())
    # Stamps the tests control: every record last changed at 08:00, INV-24001 (the newest) at 09:00.
    # (The schema's triggers stamp real changes with the time now, later than these.)
    connection.execute("UPDATE ar_invoices SET updated_at = '2026-12-07 08:00:00.000'")
    connection.execute(
        "UPDATE ar_invoices SET updated_at = '2026-12-07 09:00:00.000' WHERE invoice_id = 1001"
    )
    connection.commit()
    connection.close()
    return path


def _sql(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def _numbers(adapter: SqlArAdapter) -> list[str | None]:
    return [r.invoice_number for r in adapter.changes()]


def test_after_a_full_read_only_changed_records_are_read(ar_path: Path) -> None:
    clock = Clock()
    adapter = _adapter(f"sqlite:///{ar_path}", clock)
    assert len(_numbers(adapter)) == 50  # the first read is a full one
    clock.now += MARGIN
    # Nothing changed: only the record at the newest stamp seen is read again (a record with the
    # same stamp may still be committed: the comparison is >=).
    assert _numbers(adapter) == ["INV-24001"]
    # A header changed by the AR system (the schema's trigger moves its stamp) is read.
    _sql(ar_path, "UPDATE ar_invoices SET po_number = 'PO-NEW' WHERE invoice_number = 'INV-24005'")
    clock.now += MARGIN
    records = {r.invoice_number: r for r in adapter.changes()}
    assert set(records) == {"INV-24001", "INV-24005"}
    invoice = records["INV-24005"].invoice
    assert invoice is not None and invoice.po_number == "PO-NEW"
    clock.now += MARGIN
    assert _numbers(adapter) == ["INV-24005"]  # now the newest


def test_a_line_changed_alone_makes_its_invoice_read(ar_path: Path) -> None:
    clock = Clock()
    adapter = _adapter(f"sqlite:///{ar_path}", clock)
    list(adapter.changes())
    clock.now += MARGIN
    list(adapter.changes())
    _sql(ar_path, "UPDATE ar_invoice_lines SET description = 'fixed' WHERE invoice_id = 1010 AND line_no = 1")
    clock.now += MARGIN
    records = {r.invoice_number: r for r in adapter.changes()}
    assert "INV-24010" in records
    invoice = records["INV-24010"].invoice
    assert invoice is not None and invoice.lines[0].description == "fixed"


def test_a_change_that_commits_late_with_an_older_stamp_is_found_within_the_margin(ar_path: Path) -> None:
    """An AR transaction stamps at its start and commits later: its row appears after newer ones
    were read. The since value comes from a read at least the margin old, so the row is read."""
    clock = Clock()
    adapter = _adapter(f"sqlite:///{ar_path}", clock)
    list(adapter.changes())  # t = 1000, newest 09:00
    clock.now += MARGIN
    _sql(ar_path, "UPDATE ar_invoices SET updated_at = '2026-12-07 10:00:00.000' WHERE invoice_id = 1002")
    assert "INV-24002" in _numbers(adapter)  # t = 1060, since 09:00; newest now 10:00
    # The late one: stamped 09:30 (before 10:00, which was already read), committed now.
    _sql(
        ar_path,
        "UPDATE ar_invoices SET updated_at = '2026-12-07 09:30:00.000', comments = 'late' WHERE invoice_id = 1003",
    )
    clock.now += MARGIN / 2
    assert "INV-24003" in _numbers(adapter)  # since is still the read of t = 1000 (09:00)
    clock.now += MARGIN / 2
    # t = 1120: since is now 10:00 (the read at 1060): the late row, read already, is no longer read
    assert "INV-24003" not in _numbers(adapter)


def test_what_the_margin_misses_the_periodic_full_read_finds(ar_path: Path) -> None:
    clock = Clock()
    adapter = _adapter(f"sqlite:///{ar_path}", clock, full_read_minutes=10)
    list(adapter.changes())
    clock.now += MARGIN
    list(adapter.changes())
    clock.now += MARGIN
    # A change whose stamp did not move (an AR job that writes the stamp itself, and wrote an old one)
    _sql(
        ar_path,
        "DROP TRIGGER ar_invoices_changed",
        "UPDATE ar_invoices SET comments = 'silent' WHERE invoice_id = 1004",
    )
    assert "INV-24004" not in _numbers(adapter)
    clock.now = 1000 + 600  # ten minutes after the first full read
    records = {r.invoice_number: r for r in adapter.changes()}
    assert len(records) == 50
    invoice = records["INV-24004"].invoice
    assert invoice is not None and invoice.comments == "silent"


def test_a_record_of_unknown_change_is_always_read(ar_path: Path) -> None:
    # A view whose change column is empty for one record (an ERP row no job ever stamped).
    _sql(
        ar_path,
        "CREATE VIEW ar_invoices_changes AS SELECT *, "
        "CASE WHEN invoice_id = 1006 THEN NULL ELSE updated_at END AS changed FROM ar_invoices",
    )
    clock = Clock()
    adapter = _adapter(
        f"sqlite:///{ar_path}",
        clock,
        tables={
            "changed_column": "changed",
            "invoices_table": "ar_invoices_changes",
            "mirror_table": "ar_invoices",
        },
    )
    assert len(_numbers(adapter)) == 50
    clock.now += MARGIN
    assert _numbers(adapter) == ["INV-24001", "INV-24006"]


def test_a_read_whose_records_were_not_all_stored_does_not_move_the_watermark(ar_path: Path) -> None:
    clock = Clock()
    adapter = _adapter(f"sqlite:///{ar_path}", clock)
    list(adapter.changes())  # t = 1000, full
    clock.now += MARGIN
    assert _numbers(adapter) == ["INV-24001"]  # t = 1060, since 09:00, newest 09:00
    _sql(
        ar_path,
        "UPDATE ar_invoices SET updated_at = '2026-12-07 10:00:00.000' WHERE invoice_id = 1007",
        "UPDATE ar_invoices SET updated_at = '2026-12-07 11:00:00.000' WHERE invoice_id = 1008",
    )

    def failing_store() -> None:
        raise RuntimeError("the store went away")

    # t = 1120: the hub stores what it holds when the adapter settles; that fails and the read raises.
    adapter.on_settle = failing_store
    clock.now += MARGIN
    with pytest.raises(RuntimeError):
        list(adapter.changes())
    adapter.on_settle = None
    # t = 1180: a read abandoned after three records (the hub stopped while taking one).
    clock.now += MARGIN
    reading = adapter.changes()
    assert [next(reading).invoice_number for _ in range(3)] == ["INV-24001", "INV-24007", "INV-24008"]
    reading.close()
    # Had either read counted, the next would start from 11:00 and miss INV-24007 (10:00).
    clock.now += MARGIN
    assert _numbers(adapter) == ["INV-24001", "INV-24007", "INV-24008"]


def test_without_the_column_every_ingest_reads_every_ready_row(ar_path: Path) -> None:
    adapter = SqlArAdapter(ArConfig(url=f"sqlite:///{ar_path}"), SUPPLIER)
    assert len(list(adapter.changes())) == 50
    assert len(list(adapter.changes())) == 50


def test_the_watermark_trusts_a_read_only_once_it_is_the_margin_old() -> None:
    mark = Watermark(margin_seconds=10, full_read_seconds=100)
    assert mark.since(0) is None
    mark.read(0, None, ["b", None, "a"])
    assert mark.since(5) is None  # the full read is too recent
    assert mark.since(10) == "b"
    mark.read(10, "b", ["c"])
    assert mark.since(15) == "b"
    assert mark.since(20) == "c"
    mark.read(20, "c", [])
    assert mark.since(30) == "c"  # an empty read keeps the value it read from
    assert mark.since(100) is None  # a full read is due


def test_on_postgresql_with_a_timestamp_column(pg_database: str) -> None:
    """PostgreSQL, the column a real timestamp (the AR's `now()`), the comparison the database's."""
    engine = create_engine(pg_database.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        create_demo_ar_tables(connection, {"updated_at": "TIMESTAMPTZ"})
        connection.execute(text("INSERT INTO ar_customers (customer_id, name) VALUES ('C-1', 'ACME')"))
        for n in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, invoice_date, currency, "
                    "po_number, subtotal, tax_total, total, updated_at) VALUES (:n, :number, 'C-1', '2026-11-20', "
                    "'USD', 'PO-1', '25.00', '0', '25.00', now() - interval '1 hour')"
                ),
                {"n": n, "number": f"INV-{n}"},
            )
            connection.execute(
                text(
                    "INSERT INTO ar_invoice_lines (invoice_id, line_no, part_number, description, quantity, uom, "
                    "unit_price, amount) VALUES (:n, 1, 'P-1', 'Part', '2', 'EA', '12.50', '25.00')"
                ),
                {"n": n},
            )
    clock = Clock()
    adapter = _adapter(pg_database, clock)
    assert _numbers(adapter) == ["INV-1", "INV-2"]
    clock.now += MARGIN
    assert _numbers(adapter) == ["INV-1", "INV-2"]  # one stamp for both: both at the newest value
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE ar_invoices SET po_number = 'PO-2', updated_at = now() WHERE invoice_id = 2")
        )
    clock.now += MARGIN
    assert _numbers(adapter) == ["INV-1", "INV-2"]  # from the stamp read a margin ago: INV-2 changed
    clock.now += MARGIN
    assert _numbers(adapter) == ["INV-2"]  # from INV-2's new stamp
    engine.dispose()
    adapter.engine.dispose()


def test_ingest_takes_in_what_changed_and_counts_a_read_only_once_it_is_stored(
    tmp_path: Path, coupa: CoupaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the hub's ingest (records held in batches, the last stored when the adapter settles): a
    tick reads only changes; a correction in AR arrives as a new revision; records the store refused
    are read again by the next tick."""
    assert coupa.server is not None
    path = tmp_path / "ar.db"
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / "ar_schema.sql").read_text())
    db.execute("INSERT INTO ar_customers (customer_id, name) VALUES ('C-1', 'ACME Manufacturing')")
    db.commit()
    db.close()

    def add(n: int, stamp: str) -> None:
        _sql(
            path,
            "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, invoice_date, currency, "
            f"po_number, subtotal, tax_total, total, updated_at) VALUES ({n}, 'INV-{n}', 'C-1', date('now'), "
            "'USD', 'PO-100001', '125.00', '0', '125.00', 'x')",
            "INSERT INTO ar_invoice_lines (invoice_id, line_no, po_line, part_number, description, quantity, "
            f"uom, unit_price, amount) VALUES ({n}, 1, 1, 'BRG-6205', 'Ball bearing', '10', 'EA', '12.50', "
            "'125.00')",
            f"UPDATE ar_invoices SET updated_at = '{stamp}' WHERE invoice_id = {n}",
        )

    for n in range(1, intake.BATCH + 51):  # more than one batch
        add(n, "2026-12-07 08:00:00.000")
    _sql(path, "UPDATE ar_invoices SET updated_at = '2026-12-07 09:00:00.000' WHERE invoice_id = 1")
    clock = Clock()
    adapter = _adapter(f"sqlite:///{path}", clock)
    read: list[str] = []
    changes = adapter.changes

    def counted() -> Iterator[ArRecord]:
        for record in changes():
            read.append(record.key)
            yield record

    adapter.changes = counted  # type: ignore[method-assign]
    hub = make_hub(tmp_path / "hub", coupa.server.url, ar=adapter)  # type: ignore[arg-type]

    def tick() -> Counter[str]:
        clock.now += MARGIN
        read.clear()
        return ingest(hub).counts

    assert tick()["new"] == intake.BATCH + 50
    assert tick()["unchanged"] == 1 and read == ["1"]
    # A collector fixes INV-7 in AR (lines and header: the triggers stamp it now).
    _sql(
        path,
        "UPDATE ar_invoice_lines SET quantity = '8', amount = '100.00' WHERE invoice_id = 7",
        "UPDATE ar_invoices SET subtotal = '100.00', total = '100.00' WHERE invoice_id = 7",
    )
    assert tick()["corrected"] == 1 and read == ["1", "7"]
    assert tick()["unchanged"] == 1 and read == ["7"]
    # Two new records stamped one after the other (later than anything read); the store refuses their
    # batch once.
    add(1001, "2099-01-01 00:00:00.000")
    add(1002, "2099-06-01 00:00:00.000")
    real_insert = intake_batch.insert_new
    monkeypatch.setattr(intake_batch, "insert_new", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        tick()
    monkeypatch.setattr(intake_batch, "insert_new", real_insert)
    # Had the refused read counted, this one would start from 2099-06 and never see INV-1001.
    assert tick()["new"] == 2 and read == ["7", "1001", "1002"]
    with hub.store.engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*), count(DISTINCT ar_key) FROM invoices")).one()
    assert tuple(stored) == (intake.BATCH + 52, intake.BATCH + 52)


def test_a_change_column_the_table_does_not_have_is_named_with_its_setting(ar_path: Path) -> None:
    adapter = _adapter(f"sqlite:///{ar_path}", Clock(), tables={"changed_column": "last_modified"})
    with pytest.raises(ConfigError, match=r"no column 'last_modified' \(ar.tables.changed_column\)"):
        list(adapter.changes())
    with pytest.raises(ConfigError, match="changed_column"):  # `config check`'s probe reads by key
        list(adapter.pull(keys=["1001"]))
