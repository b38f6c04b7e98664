"""The canonical invoice checks its own arithmetic, signs and dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.model import Charge, ChargeKind, Invoice, InvoicePurpose, PortalStatusUpdate
from tests.factories import T0, make_invoice

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("9999"), places=3)


@given(
    st.lists(st.tuples(quantities, prices), min_size=1, max_size=20),
    st.sampled_from([None, "0", "7.25", "20"]),
)
def test_consistent_invoices_are_accepted_and_exact(
    lines: list[tuple[Decimal, Decimal]], tax: str | None
) -> None:
    invoice = make_invoice(lines=[("P-1", str(q), "EA", str(p)) for q, p in lines], tax_rate=tax)
    assert invoice.total == invoice.subtotal + invoice.tax_total
    assert invoice.subtotal == sum((line.amount for line in invoice.lines), Decimal(0))
    assert all(isinstance(line.amount, Decimal) for line in invoice.lines)


@given(st.decimals(min_value=Decimal("0.02"), max_value=Decimal("1000"), places=2))
def test_a_line_amount_off_by_more_than_a_cent_is_refused(error: Decimal) -> None:
    good = make_invoice(lines=[("P-1", "3", "EA", "12.50")])
    line = good.lines[0].model_dump()
    line["amount"] = line["amount"] + error
    with pytest.raises(ValidationError, match=r"is not quantity 3 x unit price 12\.50"):
        Invoice.model_validate(
            {**good.model_dump(), "lines": [line], "subtotal": line["amount"], "total": line["amount"]}
        )


def test_totals_must_add_up() -> None:
    good = make_invoice()
    with pytest.raises(ValidationError, match="total 999 is not subtotal"):
        Invoice.model_validate({**good.model_dump(), "total": Decimal("999")})
    with pytest.raises(ValidationError, match="subtotal 1 is not the sum of the line amounts"):
        Invoice.model_validate({**good.model_dump(), "subtotal": Decimal("1"), "total": Decimal("1")})
    with pytest.raises(ValidationError, match="tax total 5 is not the sum of the taxes"):
        Invoice.model_validate({**good.model_dump(), "tax_total": Decimal("5"), "total": good.subtotal + 5})


def test_charges_count_in_the_total() -> None:
    base = make_invoice()
    charges = [
        Charge(kind=ChargeKind.SHIPPING, amount=Decimal("15.00")),
        Charge(kind=ChargeKind.DISCOUNT, amount=Decimal("-5.00")),
    ]
    invoice = Invoice.model_validate({**base.model_dump(), "charges": charges, "total": base.total + 10})
    assert invoice.charges_total == Decimal("10.00")


def test_signs_follow_the_purpose() -> None:
    credit = make_invoice(
        "CM-1",
        purpose=InvoicePurpose.CREDIT_MEMO,
        lines=[("P-1", "-2", "EA", "12.50")],
        original_invoice_number="INV-1",
    )
    assert credit.total == Decimal("-25.00")
    with pytest.raises(ValidationError, match="a credit memo carries negative amounts"):
        make_invoice("CM-2", purpose=InvoicePurpose.CREDIT_MEMO)
    with pytest.raises(ValidationError, match="send a credit memo"):
        make_invoice("INV-2", lines=[("P-1", "-2", "EA", "12.50")])


def test_a_cancellation_names_what_it_cancels() -> None:
    with pytest.raises(ValidationError, match="must name the invoice it cancels"):
        make_invoice("INV-1", purpose=InvoicePurpose.CANCEL)
    assert (
        make_invoice("INV-1", purpose=InvoicePurpose.CANCEL, original_invoice_number="INV-1").purpose
        is InvoicePurpose.CANCEL
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"currency": "usd"}, "ISO 4217"),
        ({"due_date": date(2026, 1, 1)}, "due date 2026-01-01 is before the invoice date"),
        ({"lines": []}, "at least 1 item"),
        ({"invoice_number": ""}, "at least 1 character"),
        ({"unknown_field": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_fields_say_what_is_wrong(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Invoice.model_validate({**make_invoice().model_dump(), **overrides})


def test_repeated_line_numbers_are_refused() -> None:
    invoice = make_invoice(lines=[("P-1", "1", "EA", "1.00"), ("P-2", "1", "EA", "1.00")])
    lines = [line.model_dump() for line in invoice.lines]
    lines[1]["line_number"] = 1
    with pytest.raises(ValidationError, match="line numbers repeat"):
        Invoice.model_validate({**invoice.model_dump(), "lines": lines})


def test_instants_must_be_aware() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        PortalStatusUpdate(state=None, raw_status="x", occurred_at=datetime(2026, 1, 1))
    assert PortalStatusUpdate(state=None, raw_status="x", occurred_at=T0).occurred_at.tzinfo is not None


def test_content_hash_changes_with_content_only() -> None:
    a, b = make_invoice(), make_invoice()
    assert a.content_hash() == b.content_hash()
    assert make_invoice(invoice_date=T0.date() - timedelta(days=1)).content_hash() != a.content_hash()


def test_round_trips_through_json_exactly() -> None:
    invoice = make_invoice(lines=[("P-1", "3.333", "KGM", "0.07")], tax_rate="8.25")
    again = Invoice.model_validate_json(invoice.model_dump_json())
    assert again == invoice and again.content_hash() == invoice.content_hash()
