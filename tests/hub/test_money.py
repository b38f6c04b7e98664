"""Amounts in their currency's minor units everywhere (issue 18, item 5): on PostgreSQL the store gives
NUMERIC(20, 4) back (`500.0000`); `show`, the worklist (table, CSV, JSON), the report's outstanding.csv
and e-mail digests print `500.00 USD`, `1500 JPY`, `12.500 KWD`."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from hub.clock import ManualClock
from hub.config import DaemonConfig
from hub.money import amount_text, minor_units, money_text
from hub.notify.digest import compose_text
from hub.readonly import ReadOnlyHub
from hub.reports import build_report
from hub.reports.render import write_csvs
from hub.services import timeline
from hub.store.database import Store
from hub.store.tables import EventRow, InvoiceRow
from hub.worklist import groups, to_csv, worklist
from tests.factories import T0


def test_minor_units_follow_iso_4217() -> None:
    assert [minor_units(c) for c in ("USD", "EUR", "JPY", "KRW", "KWD", "BHD", "CLF", "usd", None)] == [
        2,
        2,
        0,
        0,
        3,
        3,
        4,
        2,
        2,
    ]
    assert amount_text(Decimal("500.0000"), "USD") == "500.00"
    assert amount_text("500", "USD") == "500.00"
    assert amount_text(Decimal("1500.0000"), "JPY") == "1500"
    assert amount_text(Decimal("12.5"), "KWD") == "12.500"
    assert amount_text(Decimal("-135.6300"), "USD") == "-135.63"
    # More precision than the currency has is the value found: shown, never rounded away.
    assert amount_text(Decimal("1.2345"), "USD") == "1.2345"
    assert money_text(Decimal("1234567.5"), "USD") == "1,234,567.50 USD"
    assert amount_text(None, "USD") == "" and amount_text("n/a", "USD") == "n/a"


def _invoice(store: Store, number: str, total: str, currency: str, state: str) -> None:
    with store.session() as session:
        row = InvoiceRow(
            source="t",
            ar_key=number,
            invoice_number=number,
            customer_id="C-1",
            profile_id="p",
            purpose="invoice",
            currency=currency,
            total=Decimal(total),
            invoice_date=T0.date(),
            state=state,
            content_hash="x",
            document="{}",
            created_at=T0,
            updated_at=T0,
            last_reason="PO not found",
            last_category="po",
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        session.add(EventRow(invoice_id=row.id, at=T0, actor="t", from_state=None, to_state="NEW"))
        session.add(
            EventRow(
                invoice_id=row.id,
                at=T0 + timedelta(minutes=1),
                actor="t",
                from_state="NEW",
                to_state=state,
                reason="PO not found",
                category="po",
            )
        )
        session.commit()


@pytest.fixture
def view(pg_store: Store, tmp_path: Path) -> ReadOnlyHub:
    _invoice(pg_store, "INV-USD", "500", "USD", "REJECTED")
    _invoice(pg_store, "INV-JPY", "1500", "JPY", "REJECTED")
    _invoice(pg_store, "INV-KWD", "12.5", "KWD", "REJECTED")
    config = cast(Any, SimpleNamespace(rules_dir=tmp_path, daemon=DaemonConfig(), notifications=None))
    return ReadOnlyHub(config, pg_store, ManualClock(T0 + timedelta(days=3)))


def test_postgresql_amounts_print_in_minor_units_everywhere(view: ReadOnlyHub, tmp_path: Path) -> None:
    with view.store.session() as session:  # what the store gives back: four decimals
        stored = session.get(InvoiceRow, 1)
        assert stored is not None and str(stored.total) == "500.0000"
    assert timeline(view, "INV-USD")["invoice"]["total"] == "500.00"
    assert timeline(view, "inv-jpy")["invoice"]["total"] == "1500"
    rows = worklist(view)
    assert {r["invoice_number"]: r["amount"] for r in rows} == {
        "INV-USD": "500.00",
        "INV-JPY": "1500",
        "INV-KWD": "12.500",
    }
    assert {c: g for group in groups(rows) for c, g in group.as_json()["totals"].items()} == {
        "USD": "500.00",
        "JPY": "1500",
        "KWD": "12.500",
    }
    text = to_csv(rows)
    assert ",500.00,USD," in text and "0000" not in text
    report = build_report(cast(Any, view), T0 - timedelta(days=1), T0 + timedelta(days=2))
    (tmp_path / "report").mkdir()
    written = write_csvs(report, tmp_path / "report")
    outstanding = next(p for p in written if p.name == "outstanding.csv")
    amounts = {r["currency"]: r["amount"] for r in csv.DictReader(outstanding.open())}
    assert amounts == {"USD": "500.00", "JPY": "1500", "KWD": "12.500"}
    items = [
        {**r, "kind": "rejected", "amount": "500.0000" if r["currency"] == "USD" else r["amount"]}
        for r in rows
    ]
    _, body = compose_text(cast(Any, SimpleNamespace(name="ar")), items, T0)
    assert "500.00 USD" in body and "500.0000" not in body
    assert "1,500 JPY" in body and "12.500 KWD" in body


def test_amounts_written_plainly_print_as_the_general_path_does() -> None:
    """`amount_text` takes a short way for text already in the currency's decimals: it must give the
    very text the Decimal path gives, for every form it takes and refuses."""
    from hub import money

    def general(text: str, currency: str, grouped: bool) -> str:
        original = money._as_written
        money._as_written = lambda *_: None  # type: ignore[assignment]
        try:
            return amount_text(text, currency, grouped=grouped)
        finally:
            money._as_written = original  # type: ignore[assignment]

    texts = ["0", "-0", "7", "007", "1500", "-1500", "0.50", "-0.00", "-0.50", "12.5", "12.50", "12.500"]
    texts += ["1234567.89", "-1234567.89", "1234567.8", "1.2345", "1.23450", "1e3", "+5.00", "5.", ".50"]
    texts += ["1 000.00", "12,50", "\u0661\u0662.\u0665\u0660", "0x10", "5.0a", "-", "--5.00", "n/a", " 5.00"]
    fast = 0
    for text in texts:
        for currency in ("USD", "JPY", "KWD", "CLF", None):
            for grouped in (False, True):
                assert amount_text(text, currency, grouped=grouped) == general(text, currency, grouped), (
                    text,
                    currency,
                    grouped,
                )
                fast += money._as_written(text, minor_units(currency), grouped) is not None
    assert fast > 20  # the short way was taken, not only refused
