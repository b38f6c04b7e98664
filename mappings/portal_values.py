"""Values between the canonical model and the portals, one spelling each way.

Written into documents (cXML, PIDX, web-form fields):
- a Decimal (amount, quantity, rate) exactly as it is held, in plain digits: `str()` would write
  `Decimal("1E+2")` as `1E+2`, which no portal schema takes as a number; nothing is rounded here: the
  portal sees the value the AR system gave;
- a calendar day that a document must carry as an instant (`xs:dateTime`, cXML's `invoiceDate`) is
  midnight in the supplier's zone; an instant keeps its own offset.

Read from portal status records (JSON listings, SOAP answers): a timestamp must carry its zone (the
model's instants are timezone-aware, and a portal's zone is never guessed); a day may come as a date, a
date-time or ISO text; a number as text or a number. A value that does not read is a `MappingError`
naming the portal's field (`what`) and the value, so the record is reported as unreadable.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.errors import MappingError

__all__ = ["day_as_instant", "plain_decimal", "read_day", "read_decimal", "read_timestamp"]


def plain_decimal(value: Decimal) -> str:
    """`Decimal("1E+2")` -> `100`, `Decimal("12.50")` -> `12.50`: digits and point only, nothing rounded."""
    return format(value, "f")


def day_as_instant(value: date | datetime, zone: tzinfo) -> str:
    """ISO 8601 with an offset: a datetime as it is, a calendar day at midnight in `zone`."""
    if isinstance(value, datetime):
        return value.isoformat()
    return datetime.combine(value, time(0, 0), tzinfo=zone).isoformat()


def read_timestamp(value: Any, what: str) -> datetime:
    """An instant with its zone, from a datetime or ISO 8601 text (`Z` or an offset)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value or "").strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise MappingError(f"{what} {value!r} is not a timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise MappingError(f"{what} {value!r} has no timezone")
    return parsed


def read_day(value: Any, what: str) -> date | None:
    """A calendar day from a date, a datetime or ISO text (a date-time's own day); None when empty."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        return datetime.fromisoformat(text).date() if "T" in text else date.fromisoformat(text)
    except ValueError:
        raise MappingError(f"{what} {value!r} is not a date") from None


def read_decimal(value: Any, what: str) -> Decimal | None:
    """A number as written (text or JSON number), exactly; None when empty."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"{what} {value!r} is not a number") from None
