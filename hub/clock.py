"""The hub's sense of time, injectable: tests and the demo pin or move it; production uses the system."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()


class ManualClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def today(self) -> date:
        return self.now().date()

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        with self._lock:
            self._now += delta if delta is not None else timedelta(**parts)
            return self._now
