"""Values between the model and the portals: written one way into every document, read one way from
every portal's records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import MappingError
from mappings.portal_values import day_as_instant, plain_decimal, read_day, read_decimal, read_timestamp


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_a_decimal_is_written_in_plain_digits_and_reads_back_exactly(value: Decimal) -> None:
    text = plain_decimal(value)
    assert "E" not in text.upper()
    assert Decimal(text) == value


def test_trailing_zeros_are_kept_and_exponents_spelt_out() -> None:
    assert plain_decimal(Decimal("12.50")) == "12.50"
    assert plain_decimal(Decimal("1E+2")) == "100"


def test_a_calendar_day_is_midnight_in_the_suppliers_zone_and_an_instant_keeps_its_offset() -> None:
    chicago = ZoneInfo("America/Chicago")
    assert day_as_instant(date(2026, 11, 20), chicago) == "2026-11-20T00:00:00-06:00"
    instant = datetime(2026, 11, 20, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert day_as_instant(instant, chicago) == "2026-11-20T09:30:00+02:00"


@pytest.mark.parametrize(
    "text", ["2026-11-20T15:00:00Z", "2026-11-20T15:00:00+00:00", " 2026-11-20 15:00:00Z "]
)
def test_timestamps_read_with_their_zone(text: str) -> None:
    assert read_timestamp(text, "X updatedAt") == datetime(2026, 11, 20, 15, tzinfo=UTC)


def test_a_timestamp_without_a_zone_or_not_a_timestamp_names_the_field() -> None:
    with pytest.raises(MappingError, match="X updatedAt '2026-11-20T15:00:00' has no timezone"):
        read_timestamp("2026-11-20T15:00:00", "X updatedAt")
    with pytest.raises(MappingError, match="X updatedAt None is not a timestamp"):
        read_timestamp(None, "X updatedAt")


def test_days_and_numbers_read_from_the_shapes_portals_send() -> None:
    day = date(2026, 12, 1)
    for value in ("2026-12-01", "2026-12-01T00:00:00-06:00", day, datetime(2026, 12, 1, 8, tzinfo=UTC)):
        assert read_day(value, "X paymentDate") == day
    assert read_day("", "X paymentDate") is None
    assert read_decimal(10.5, "X paidAmount") == Decimal("10.5")
    assert read_decimal(None, "X paidAmount") is None
    with pytest.raises(MappingError, match="X paymentDate '2026-13-01' is not a date"):
        read_day("2026-13-01", "X paymentDate")
    with pytest.raises(MappingError, match="X paidAmount 'ten' is not a number"):
        read_decimal("ten", "X paidAmount")
