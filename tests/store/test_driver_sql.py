"""Statements run through the driver (hub/store/driver_sql.py) write what SQLAlchemy's own execute writes."""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, literal, update
from sqlmodel import select

from hub.store.database import Store
from hub.store.driver_sql import DriverStatement
from hub.store.tables import AttemptRow, InvoiceRow
from tests.factories import T0

ATTEMPTS = AttemptRow.__table__  # type: ignore[attr-defined]
COLUMNS = tuple(c.name for c in ATTEMPTS.columns if c.name != "id")
INSERT = insert(ATTEMPTS).values({name: bindparam(name) for name in COLUMNS}).returning(ATTEMPTS.c.id)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "pg_store")


def _attempt(invoice_id: int, payload_id: str) -> dict[str, Any]:
    return dict.fromkeys(COLUMNS) | {
        "invoice_id": invoice_id,
        "revision": 1,
        "payload_id": payload_id,
        "profile_id": "p",
        "connector": "coupa",
        "portal_invoice_number": "INV-1",
        "worker_id": "w",
        "outcome": "pending",
        # Not UTC on purpose: the column's own conversion must store the same instant either way.
        "started_at": T0.astimezone(timezone(timedelta(hours=-5))),
        "request_document": "<cXML/>",
    }


def test_a_row_written_through_the_driver_reads_back_as_one_written_by_execute(store: Store) -> None:
    with store.session() as session:
        invoice = InvoiceRow(
            source="t",
            ar_key="k",
            invoice_number="INV-1",
            customer_id="C",
            purpose="invoice",
            currency="USD",
            total=Decimal("1.00"),
            invoice_date=T0.date(),
            state="READY",
            content_hash="x",
            document="{}",
            created_at=T0,
            updated_at=T0,
        )
        session.add(invoice)
        session.flush()
        assert invoice.id is not None
        connection = session.connection()
        by_execute = connection.execute(INSERT, _attempt(invoice.id, "a")).scalar_one()
        by_driver = DriverStatement(INSERT).execute(connection, _attempt(invoice.id, "b")).scalar_one()
        answered = DriverStatement(
            update(ATTEMPTS)
            .where(ATTEMPTS.c.id == bindparam("attempt_id"))
            .values(finished_at=bindparam("finished"), outcome=bindparam("outcome"))
        )
        assert (
            answered.execute(connection, {"attempt_id": by_driver, "finished": T0, "outcome": "x"}).rowcount
            == 1
        )
    with store.session() as session:
        one, other = (session.get(AttemptRow, key) for key in (by_execute, by_driver))
        assert one is not None and other is not None
        assert other.started_at == one.started_at == T0 and other.started_at.utcoffset() == timedelta(0)
        assert other.finished_at == T0 and other.outcome == "x"
        # The same instant is found by SQL comparisons on both rows (stored in the same form).
        found = session.exec(select(AttemptRow.id).where(AttemptRow.started_at >= T0)).all()
        assert sorted(found) == sorted([by_execute, by_driver])


def test_a_value_that_is_not_a_named_parameter_is_refused(sqlite_store: Store) -> None:
    statement = DriverStatement(update(ATTEMPTS).values(outcome=literal("x")).where(ATTEMPTS.c.id == 1))
    with sqlite_store.session() as session, pytest.raises(ValueError, match="bindparam"):
        statement.execute(session.connection(), {})
