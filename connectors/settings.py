"""Value types the `connection:` blocks (and recipes) of several portal families share, checked once here.

A settings class of a family is a `hub.profile.Strict` (unknown keys are errors, values frozen); a field
that several families have, with the same meaning and the same check, takes its type from here.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

__all__ = ["COMMON_HELP", "OverlapSeconds", "TimeZoneName"]


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as America/Chicago") from None
    return value


#: An IANA time zone name (`America/Chicago`, `UTC`), refused when the profile loads if the system does not
#: know it, so `portalhub rules check` finds a misspelt zone rather than the first send.
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]

#: How far before the watermark a poll reads again (connectors/polling.py): a change the portal commits
#: late is still seen; what was already read is dropped by event key.
OverlapSeconds = Annotated[int, Field(ge=0)]

#: What the keys several families share mean, with an example (`Connector.connection_help`).
COMMON_HELP: dict[str, tuple[str, Any]] = {
    "timezone": ("The supplier's IANA time zone: invoice dates are midnight there.", "America/Chicago"),
    "timeout_seconds": ("How long one request may take.", 60),
    "page_size": ("How many invoices one page of a listing asks for.", 50),
    "overlap_seconds": ("Polls re-read this many seconds before the last change seen.", 60),
    "username": ("The user name to sign in with.", "acme-ar"),
    "password": ("The password, by reference only.", "secret:acme_portal_password"),
}
