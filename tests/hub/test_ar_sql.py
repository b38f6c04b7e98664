"""The SQL AR adapter: what it reads from the demo AR schema, what it quarantines and why, and the
idempotent write-back, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hub.ar.sql import SqlArAdapter
from hub.config import ArConfig
from hub.model import InvoicePurpose
from tests.factories import SUPPLIER, create_demo_ar_tables

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


@pytest.fixture
def demo_ar(tmp_path: Path) -> SqlArAdapter:
    path = tmp_path / "ar.db"
    connection = sqlite3.connect(path)
    connection.executescript((FIXTURES / "ar_schema.sql").read_text())
    connection.executescript((FIXTURES / "ar_data_coupa.sql").read_text())
    connection.commit()
    connection.close()
    return SqlArAdapter(ArConfig(url=f"sqlite:///{path}"), SUPPLIER)


def test_demo_ar_yields_invoices_and_explains_the_broken_records(demo_ar: SqlArAdapter) -> None:
    records = list(demo_ar.pull())
    assert len(records) == 50
    good = [r for r in records if r.invoice is not None]
    bad = {r.invoice_number: r.error for r in records if r.invoice is None}
    assert len(good) == 46
    assert bad == {
        "INV-24401": "invoice: line 1: amount 130.00 is not quantity 10 x unit price 12.50 = 125.00",
        "INV-24402": "currency: currency must be an ISO 4217 code of three capital letters, got 'US'",
        "INV-24403": "customer 'C-7777' is not in ar_customers",
        "INV-24404": "invoice_date '2026-13-45' is not a date (YYYY-MM-DD)",
    }
    service = next(r.invoice for r in good if r.invoice and r.invoice.invoice_number == "INV-24014")
    assert service is not None and service.lines[0].service_period is not None
    assert service.total == Decimal("1949.20") and service.lines[0].taxes[0].amount == Decimal("129.20")
    credit = next(r.invoice for r in good if r.invoice and r.invoice.invoice_number == "CM-24019")
    assert credit is not None and credit.purpose is InvoicePurpose.CREDIT_MEMO and credit.total < 0
    assert credit.original_invoice_number == "INV-24003"
    oilfield = next(r.invoice for r in good if r.invoice and r.invoice.invoice_number == "INV-24101")
    assert oilfield is not None and oilfield.lines[0].afe_number == "AFE-24-0117"
    assert oilfield.extrinsics == {"CostCenter": "CC-PERMIAN-OPS"}


def test_only_posted_invoices_are_taken(demo_ar: SqlArAdapter) -> None:
    with demo_ar.engine.begin() as connection:
        connection.execute(text("UPDATE ar_invoices SET status = 'draft' WHERE invoice_number = 'INV-24001'"))
    assert "INV-24001" not in {r.invoice_number for r in demo_ar.pull()}


EVENT = {
    "event_id": "evt-1",
    "ar_key": "1001",
    "invoice_number": "INV-24001",
    "state": "REJECTED",
    "previous_state": "SUBMITTING",
    "reason": "rejected by acme-coupa: Server could not create invoice.",
    "category": "po",
    "raw_status": "500",
    "portal_invoice_id": None,
    "at": "2026-11-20T15:00:00+00:00",
}


def test_write_back_is_idempotent_and_keeps_the_newest_state(demo_ar: SqlArAdapter) -> None:
    newer = {
        **EVENT,
        "event_id": "evt-2",
        "state": "READY",
        "reason": "corrected",
        "at": "2026-11-20T16:00:00+00:00",
    }
    demo_ar.write([EVENT, newer])
    demo_ar.write([EVENT, newer])  # redelivered after a crash
    demo_ar.write(
        [{**EVENT, "event_id": "evt-0", "state": "NEW", "at": "2026-11-20T14:00:00+00:00"}]
    )  # late and older
    with demo_ar.engine.connect() as connection:
        rows = connection.execute(text("SELECT event_id FROM ar_portal_status ORDER BY event_id")).fetchall()
        mirror = connection.execute(
            text("SELECT portal_state, portal_reason FROM ar_invoices WHERE invoice_number = 'INV-24001'")
        ).one()
    assert [r[0] for r in rows] == ["evt-0", "evt-1", "evt-2"]
    assert tuple(mirror) == ("READY", "corrected")


def test_a_big_redelivered_batch_writes_each_event_once_and_mirrors_the_newest(demo_ar: SqlArAdapter) -> None:
    """The write is one statement per batch: a batch longer than one lookup of held ids, half of it
    delivered before (a crash after the write, before the outbox was marked), with events repeated in
    it, writes each event once, leaves those held as they were, and mirrors each record's newest."""
    events = [
        {
            **EVENT,
            "event_id": f"evt-{n}",
            "ar_key": str(1001 + n % 40),
            "invoice_number": f"INV-{n % 40}",
            "state": "REJECTED" if n % 2 else "DISPUTED",
            "reason": f"reason {n}",
            "at": f"2026-11-20T{10 + n // 100:02d}:{n % 60:02d}:00+00:00",
        }
        for n in range(1_200)
    ]
    demo_ar.write(events[:600])
    with demo_ar.engine.connect() as connection:
        first = dict(connection.execute(text("SELECT event_id, written_at FROM ar_portal_status")).all())
    demo_ar.write([*events, *events[590:610]])
    with demo_ar.engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT event_id, written_at FROM ar_portal_status")).all())
        mirror = dict(
            connection.execute(
                text("SELECT invoice_id, portal_reason FROM ar_invoices WHERE invoice_id < 1041")
            ).all()
        )
    assert len(rows) == 1_200 and all(rows[k] == first[k] for k in first)  # held rows left as they were
    newest: dict[int, str] = {}
    for event in sorted(events, key=lambda e: e["at"]):
        newest[int(event["ar_key"])] = event["reason"]
    assert mirror == newest


def test_the_hubs_write_back_does_not_make_a_record_look_changed(demo_ar: SqlArAdapter) -> None:
    before = {r.key: r.raw for r in demo_ar.pull()}
    demo_ar.write([EVENT])
    after = {r.key: r.raw for r in demo_ar.pull()}
    assert before == after


def test_table_names_must_be_plain_identifiers() -> None:
    from hub.errors import ConfigError

    with pytest.raises(ConfigError, match="not a plain SQL identifier"):
        SqlArAdapter(
            ArConfig.model_validate({"url": "sqlite://", "tables": {"invoices_table": "x; DROP TABLE y"}}),
            SUPPLIER,
        )


def test_on_postgresql(pg_database: str) -> None:
    engine = create_engine(pg_database.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        create_demo_ar_tables(connection)
        connection.execute(text("INSERT INTO ar_customers (customer_id, name) VALUES ('C-1', 'ACME')"))
        connection.execute(
            text(
                "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, invoice_date, currency, po_number, "
                "subtotal, tax_total, total, updated_at) VALUES (1, 'INV-1', 'C-1', '2026-11-20', 'USD', 'PO-1', "
                "'25.00', '0', '25.00', '2026-11-20')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO ar_invoice_lines (invoice_id, line_no, part_number, description, quantity, uom, unit_price, amount) "
                "VALUES (1, 1, 'P-1', 'Part', '2', 'EA', '12.50', '25.00')"
            )
        )
    adapter = SqlArAdapter(ArConfig(url=pg_database), SUPPLIER)
    [record] = list(adapter.pull())
    assert record.invoice is not None and record.invoice.total == Decimal("25.00")
    adapter.write([{**EVENT, "invoice_number": "INV-1", "ar_key": "1"}])
    adapter.write([{**EVENT, "invoice_number": "INV-1", "ar_key": "1"}])
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM ar_portal_status")).scalar() == 1
        assert connection.execute(text("SELECT portal_state FROM ar_invoices")).scalar() == "REJECTED"
    engine.dispose()
    adapter.engine.dispose()


def test_pull_can_read_chosen_records_only(demo_ar: SqlArAdapter) -> None:
    records = list(demo_ar.pull(keys=["1001", "1003"]))
    assert [r.invoice_number for r in records] == ["INV-24001", "INV-24003"]
    assert list(demo_ar.pull(keys=[])) == []


def test_the_write_back_keys_on_the_ar_record_not_the_invoice_number(tmp_path: Path) -> None:
    """Two AR records with one number: each record's status lands on its own row (and status rows name it)."""
    path = tmp_path / "ar.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        (FIXTURES / "ar_schema.sql")
        .read_text()
        .replace("invoice_number          TEXT NOT NULL UNIQUE,", "invoice_number TEXT NOT NULL,")
    )
    connection.executescript((FIXTURES / "ar_data_coupa.sql").read_text())
    connection.execute(
        "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, invoice_date, currency, subtotal, "
        "tax_total, total, updated_at) VALUES (9001, 'INV-24001', 'C-1001', '2026-11-20', 'USD', '1', '0', '1', 'x')"
    )
    connection.commit()
    connection.close()
    adapter = SqlArAdapter(ArConfig(url=f"sqlite:///{path}"), SUPPLIER)
    accepted = {**EVENT, "event_id": "evt-1", "state": "SUBMITTED", "reason": "accepted"}
    blocked = {
        **EVENT,
        "event_id": "evt-2",
        "ar_key": "9001",
        "state": "BLOCKED",
        "reason": "duplicate number",
        "at": "2026-11-20T16:00:00+00:00",
    }
    adapter.write([accepted, blocked])
    with adapter.engine.connect() as connection:
        mirror = connection.execute(
            text(
                "SELECT invoice_id, portal_state FROM ar_invoices WHERE invoice_number = 'INV-24001' ORDER BY invoice_id"
            )
        ).all()
        status = connection.execute(
            text("SELECT event_id, ar_key FROM ar_portal_status ORDER BY event_id")
        ).all()
    assert [tuple(r) for r in mirror] == [(1001, "SUBMITTED"), (9001, "BLOCKED")]
    assert [tuple(r) for r in status] == [("evt-1", "1001"), ("evt-2", "9001")]
    adapter.engine.dispose()


def test_two_ar_records_with_one_number_one_send_one_block_and_the_accepted_row_intact(
    tmp_path: Path, coupa: Any
) -> None:
    """End to end on an SQLite AR system without a UNIQUE number: the hub sends the first record, blocks
    the second with a message naming the first, and each record's AR row shows its own state."""
    from hub.pipeline.intake import ingest
    from hub.pipeline.submit import submit_profile
    from status_sync.feedback import deliver
    from tests.factories import make_hub

    path = tmp_path / "ar.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        (FIXTURES / "ar_schema.sql")
        .read_text()
        .replace("invoice_number          TEXT NOT NULL UNIQUE,", "invoice_number TEXT NOT NULL,")
    )
    connection.execute("INSERT INTO ar_customers (customer_id, name, country) VALUES ('C-1', 'ACME', 'US')")
    for key, quantity in ((501, "10"), (502, "4")):  # the second record repeats the number by mistake
        amount = str(Decimal(quantity) * Decimal("12.50"))
        connection.execute(
            "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, invoice_date, currency, po_number, "
            "subtotal, tax_total, total, updated_at) VALUES (?, 'INV-77', 'C-1', '2026-11-20', 'USD', "
            "'PO-100001', ?, '0', ?, '2026-11-20')",
            (key, amount, amount),
        )
        connection.execute(
            "INSERT INTO ar_invoice_lines (invoice_id, line_no, po_line, part_number, description, quantity, uom, "
            "unit_price, amount) VALUES (?, 1, 1, 'BRG-6205', 'Bearing', ?, 'EA', '12.50', ?)",
            (key, quantity, amount),
        )
    connection.commit()
    connection.close()
    adapter = SqlArAdapter(ArConfig(url=f"sqlite:///{path}"), SUPPLIER)
    hub = make_hub(tmp_path, coupa.server.url, ar=adapter)  # type: ignore[arg-type]
    try:
        ingest(hub)
        assert submit_profile(hub, hub.profile("acme-coupa")).outcomes == {"accepted": 1}
        deliver(hub)
    finally:
        hub.close()
    assert [i.number for i in coupa.invoices] == ["INV-77"] and coupa.received == 1
    with adapter.engine.connect() as ar:
        rows = ar.execute(
            text("SELECT invoice_id, portal_state, portal_reason FROM ar_invoices ORDER BY invoice_id")
        ).all()
        keys = ar.execute(text("SELECT DISTINCT ar_key FROM ar_portal_status ORDER BY ar_key")).all()
    (first, first_state, _), (second, second_state, second_reason) = rows
    assert (first, first_state) == (501, "SUBMITTED")
    assert (second, second_state) == (502, "BLOCKED")
    assert "invoice number INV-77 is already held for acme-coupa by AR record 501" in second_reason
    assert [k[0] for k in keys] == ["501", "502"]
    adapter.engine.dispose()
