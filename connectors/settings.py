"""Value types the `connection:` blocks (and recipes) of several portal families share, checked once here.

A settings class of a family is a `hub.profile.Strict` (unknown keys are errors, values frozen); a field
that several families have, with the same meaning and the same check, takes its type from here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from hub.profile import PortalProfile

__all__ = ["COMMON_HELP", "OverlapSeconds", "PerProfile", "TimeZoneName"]

T = TypeVar("T")


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


class PerProfile(Generic[T]):
    """What a connector works out from a profile's `connection:` (its validated settings, its time
    zone), kept per profile object: rendering runs for every invoice, and validating the settings
    each time was a tenth of it. A profile is frozen, so its settings cannot change under the cache;
    a reloaded profile is a new object and is worked out again. Bounded; safe on several threads
    (at worst two threads work the same value out)."""

    def __init__(self, build: Callable[[PortalProfile], T], size: int = 256):
        self._build = build
        self._size = size
        self._kept: dict[int, tuple[PortalProfile, T]] = {}
        self._lock = threading.Lock()

    def __call__(self, profile: PortalProfile) -> T:
        kept = self._kept.get(id(profile))
        if kept is not None and kept[0] is profile:  # the object itself: an id can be reused
            return kept[1]
        value = self._build(profile)
        with self._lock:
            if len(self._kept) >= self._size:
                self._kept.clear()
            self._kept[id(profile)] = (profile, value)
        return value
