"""The sandbox portals' clock: statuses advance on it, and tests move it forward at will."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Frozen at `start` when one is given (tests), otherwise real time; `advance` moves either forward."""

    def __init__(self, start: datetime | None = None):
        if start is not None and start.tzinfo is None:
            raise ValueError("the sandbox clock needs a timezone-aware start")
        self._frozen = start
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            base = self._frozen if self._frozen is not None else datetime.now(UTC)
            # Portals report whole seconds (YYYY-MM-DDTHH:MM:SS+HH:MM).
            return (base + self._offset).replace(microsecond=0)

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        with self._lock:
            self._offset += delta if delta is not None else timedelta(**parts)
        return self.now()
