"""What keeps the pages safe: CSRF tokens bound to the session, login throttling, response headers, and
masking of any secret the process knows before text from the store is shown."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from hub.secrets import REDACTOR

#: Served with every page: no script or style from anywhere else, no framing, no MIME sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token (made on first use); every form carries it in a hidden field."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: dict[str, Any], sent: object) -> bool:
    """Does the form's token match the session's? (constant-time; a missing token never matches)."""
    expected = session.get("csrf")
    return isinstance(expected, str) and isinstance(sent, str) and secrets.compare_digest(expected, sent)


class LoginThrottle:
    """At most `attempts` failed logins per user name, and `address_attempts` per client address (an
    office behind one NAT address shares it), within `window` seconds; past that, logins for that name
    (or from there) are refused until the oldest failure ages out. Keys: `user:<name>`, `ip:<address>`."""

    def __init__(
        self,
        attempts: int = 5,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        address_attempts: int = 50,
    ) -> None:
        self.attempts, self.window, self.clock = attempts, window, clock
        self.address_attempts = address_attempts
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _limit(self, key: str) -> int:
        return self.address_attempts if key.startswith("ip:") else self.attempts

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def retry_after(self, *keys: str) -> int:
        """Seconds until a login may be tried again for these keys (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [
                self.window - (now - failures[0])
                for key, failures in ((k, self._recent(k, now)) for k in keys)
                if len(failures) >= self._limit(key)
            ]
        return int(max(waits)) + 1 if waits else 0

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(name_key, None)


def masked(text: str | None) -> str | None:
    """Text from the store with every secret this process knows replaced by the mask (documents are
    stored redacted already: this is the second line)."""
    return None if text is None else REDACTOR(text)
