"""The SQL adapter's documented mapping on an ERP that is not shaped like the demo: views that rename the
ERP's own columns, another key and status column, customers in the view, the mirror on the base table
or off. The same test on SQLite and on the real PostgreSQL (through the `pg_database` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from hub.ar.sql import SqlArAdapter
from hub.config import ArConfig
from hub.store.database import normalise_url
from tests.factories import SUPPLIER

ERP = """
CREATE TABLE erp_docs (
    doc_id INTEGER PRIMARY KEY, doc_no TEXT NOT NULL, cust TEXT, cust_name TEXT, doc_date TEXT,
    curr TEXT, po TEXT, net TEXT, tax TEXT, gross TEXT, wf_state TEXT,
    portal_state TEXT, portal_reason TEXT, portal_updated_at TEXT
);
CREATE TABLE erp_lines (doc_id INTEGER, pos INTEGER, descr TEXT, qty TEXT, unit TEXT, price TEXT, amt TEXT);
CREATE VIEW portalhub_invoices AS
    SELECT doc_id, doc_no AS invoice_number, cust AS customer_id, cust_name AS customer_name,
           doc_date AS invoice_date, curr AS currency, po AS po_number, net AS subtotal, tax AS tax_total,
           gross AS total, wf_state AS workflow
    FROM erp_docs;
CREATE VIEW portalhub_lines AS
    SELECT doc_id, pos AS line_no, descr AS description, qty AS quantity, unit AS uom, price AS unit_price,
           amt AS amount
    FROM erp_lines;
CREATE TABLE portalhub_status (
    event_id TEXT PRIMARY KEY, invoice_number TEXT NOT NULL, state TEXT NOT NULL, previous_state TEXT,
    reason TEXT, category TEXT, raw_status TEXT, portal_invoice_id TEXT, at TEXT NOT NULL,
    written_at TEXT NOT NULL
);
INSERT INTO erp_docs (doc_id, doc_no, cust, cust_name, doc_date, curr, po, net, tax, gross, wf_state)
VALUES (7, 'INV-7', 'C-1', 'ACME Manufacturing', '2026-11-20', 'USD', 'PO-1', '37.50', '0', '37.50', 'released'),
       (8, 'INV-8', 'C-1', 'ACME Manufacturing', '2026-11-20', 'USD', 'PO-1', '10.00', '0', '10.00', 'draft'),
       (9, 'INV-9', 'C-1', NULL, '2026-11-20', 'USD', 'PO-1', '10.00', '0', '10.00', 'released');
INSERT INTO erp_lines VALUES (7, 2, 'Seal', '5', 'EA', '5.00', '25.00'), (7, 1, 'Bearing', '1', 'EA', '12.50', '12.50'),
                             (9, 1, 'Seal', '2', 'EA', '5.00', '10.00');
"""
TABLES = {
    "invoices_table": "portalhub_invoices",
    "lines_table": "portalhub_lines",
    "customers_table": None,
    "status_table": "portalhub_status",
    "ready_status": "released",
    "status_column": "workflow",
    "key_column": "doc_id",
    "mirror_table": "erp_docs",
    "mirror_key_column": "doc_id",
}
EVENT = {
    "event_id": "evt-1",
    "ar_key": "7",
    "invoice_number": "INV-7",
    "state": "REJECTED",
    "previous_state": "SUBMITTED",
    "reason": "PO-1 is closed",
    "category": "po",
    "raw_status": "rejected",
    "portal_invoice_id": None,
    "at": "2026-11-20T15:00:00+00:00",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = (
        f"sqlite:///{tmp_path / 'erp.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_database")
    )
    engine = create_engine(normalise_url(url))
    with engine.begin() as connection:
        for statement in ERP.split(";"):
            if statement.strip():
                connection.exec_driver_sql(statement)
    yield url, engine
    engine.dispose()


def adapter(url: str, **tables: object) -> SqlArAdapter:
    return SqlArAdapter(ArConfig.model_validate({"url": url, "tables": {**TABLES, **tables}}), SUPPLIER)


def test_views_over_the_erps_own_columns(erp: tuple[str, Engine]) -> None:
    url, engine = erp
    ar = adapter(url)
    records = {r.key: r for r in ar.pull()}
    assert sorted(records) == ["7", "9"]  # INV-8 is still a draft
    invoice = records["7"].invoice
    assert invoice is not None and invoice.buyer.name == "ACME Manufacturing"
    assert [(line.line_number, line.description) for line in invoice.lines] == [(1, "Bearing"), (2, "Seal")]
    assert invoice.total == Decimal("37.50")
    assert records["9"].error == "customer_name is empty (customer 'C-1')"
    assert [r.key for r in ar.pull(keys=["9"])] == ["9"]
    ar.write([EVENT])
    ar.write([EVENT, {**EVENT, "event_id": "evt-0", "state": "READY", "at": "2026-11-20T14:00:00+00:00"}])
    with engine.connect() as connection:
        status = connection.execute(text("SELECT event_id FROM portalhub_status ORDER BY event_id")).all()
        mirror = connection.execute(
            text("SELECT doc_no, portal_state, portal_reason FROM erp_docs WHERE portal_state IS NOT NULL")
        ).all()
    assert [r[0] for r in status] == ["evt-0", "evt-1"]
    assert [tuple(r) for r in mirror] == [
        ("INV-7", "REJECTED", "PO-1 is closed")
    ]  # the late older event lost
    assert {r.key: r.raw for r in ar.pull()} == {r.key: r.raw for r in adapter(url).pull()}
    ar.engine.dispose()


def test_the_mirror_can_be_turned_off_when_only_the_status_table_may_be_written(
    erp: tuple[str, Engine],
) -> None:
    url, engine = erp
    ar = adapter(url, mirror=False, mirror_table=None)
    ar.write([EVENT])
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM portalhub_status")).scalar() == 1
        assert (
            connection.execute(text("SELECT count(*) FROM erp_docs WHERE portal_state IS NOT NULL")).scalar()
            == 0
        )
    ar.engine.dispose()
