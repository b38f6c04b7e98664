"""cXML date-times as real senders write them.

The DTD (`%datetime.tz;`) asks for ISO 8601 with a zone, but buyer networks send more shapes than
that, and a status must not be refused for its clock. The rule, in the order it is tried:

- `2026-11-21T09:30:00`, with an optional fraction of a second (`.5`, `.123`, `.1234567`: digits past
  the sixth are dropped), `T` or one space between date and time, seconds optional;
- then the zone: `Z`, a numeric offset (`+05:30`, `-0600`, `-06`), or a named US zone with or without
  a sign or dash before it (`-CST`, `CST`, ` CST`): EST/EDT, CST/CDT, MST/MDT, PST/PDT, AKST/AKDT,
  HST/HDT, plus UTC/GMT/UT. A sign before a name is a separator, never a negation: `-CST` is UTC-6;
- no zone at all: the time is read in the zone the caller names (a profile's `time_zone`), and
  `ZonedTime.zone_given` says so.

Anything else is a `MappingError` naming the value. Pure: the caller passes the default zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from hub.errors import MappingError

#: Named zones real US senders write (standard and daylight time), as hours from UTC.
US_ZONE_OFFSETS: dict[str, int] = {
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "AKST": -9,
    "AKDT": -8,
    "HST": -10,
    "HDT": -9,
    "UTC": 0,
    "GMT": 0,
    "UT": 0,
}

_SHAPE = re.compile(
    r"""^\s*
    (?P<date>\d{4}-\d{2}-\d{2})
    (?:[T\s](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?
    \s*
    (?:
        (?P<utc>[Zz])
      | (?P<sign>[+-])(?P<off_h>\d{2})(?::?(?P<off_m>\d{2}))?
      | [+-]?\s*(?P<name>[A-Za-z]{2,4})
    )?
    \s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class ZonedTime:
    """A date-time read from a document: always timezone-aware; `zone_given` is False when the
    document wrote no zone and the default zone was assumed."""

    value: datetime
    zone_given: bool


def parse_cxml_datetime(text: str, default_zone: tzinfo, *, what: str = "timestamp") -> ZonedTime:
    """Read one cXML date-time (see the module docstring for the shapes); MappingError otherwise.
    A date alone is midnight of that day."""
    found = _SHAPE.match(text or "")
    if found is None:
        raise MappingError(f"{what} {text!r} is not a date-time (e.g. 2026-11-21T09:30:00-06:00)")
    try:
        day = date.fromisoformat(found["date"])
        fraction = (found["fraction"] or "")[:6].ljust(6, "0")
        local = datetime(
            day.year,
            day.month,
            day.day,
            int(found["hour"] or 0),
            int(found["minute"] or 0),
            int(found["second"] or 0),
            int(fraction),
        )
    except ValueError as exc:
        raise MappingError(f"{what} {text!r} is not a real date-time: {exc}") from None
    zone: tzinfo | None = None
    if found["utc"]:
        zone = UTC
    elif found["sign"]:
        hours, minutes = int(found["off_h"]), int(found["off_m"] or 0)
        if hours > 23 or minutes > 59:
            raise MappingError(f"{what} {text!r} has an impossible UTC offset")
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-offset if found["sign"] == "-" else offset)
    elif found["name"]:
        name = found["name"].upper()
        if name not in US_ZONE_OFFSETS:
            raise MappingError(
                f"{what} {text!r}: zone {found['name']!r} is not one portalhub knows "
                f"({', '.join(US_ZONE_OFFSETS)}, a numeric offset or Z)"
            )
        zone = timezone(timedelta(hours=US_ZONE_OFFSETS[name]), name)
    if zone is None:
        # Fold 0: an hour that happens twice at the autumn change is read as its first occurrence.
        return ZonedTime(local.replace(tzinfo=default_zone), zone_given=False)
    return ZonedTime(local.replace(tzinfo=zone), zone_given=True)
