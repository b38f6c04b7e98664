"""Canonical values as the portal documents write them (cXML, PIDX, web-form fields): one spelling each.

- A Decimal (amount, quantity, rate) is written exactly as it is held, in plain digits: `str()` would
  write `Decimal("1E+2")` as `1E+2`, which no portal schema takes as a number; nothing is rounded here:
  the portal sees the value the AR system gave.
- A calendar day that a document must carry as an instant (`xs:dateTime`, cXML's `invoiceDate`) is
  midnight in the supplier's zone; an instant is written with its own offset.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from decimal import Decimal

__all__ = ["day_as_instant", "plain_decimal"]


def plain_decimal(value: Decimal) -> str:
    """`Decimal("1E+2")` -> `100`, `Decimal("12.50")` -> `12.50`: digits and point only, nothing rounded."""
    return format(value, "f")


def day_as_instant(value: date | datetime, zone: tzinfo) -> str:
    """ISO 8601 with an offset: a datetime as it is, a calendar day at midnight in `zone`."""
    if isinstance(value, datetime):
        return value.isoformat()
    return datetime.combine(value, time(0, 0), tzinfo=zone).isoformat()
