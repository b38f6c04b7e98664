"""The HTTP boundary shared by connectors: every httpx failure becomes one of the hub's errors.

Which error depends on whether the portal can have processed the request:
- the request never left (connect refused, connect timeout, pool exhausted) -> TransientPortalError;
- it left and no usable answer came back (read timeout, reset, server hung up) -> InDoubtError for a
  submission, TransientPortalError for a read (reads are safe to repeat).

Reads (polls, lookups) are retried here with tenacity, honouring Retry-After; submissions are never
retried in-process: the hub owns their retry schedule, in the database, so it survives restarts.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from hub.errors import ConfigError, InDoubtError, TransientPortalError

#: Requests wait at most this long for a portal; the hub's lease is much longer than this.
__all__ = ["DEFAULT_TIMEOUT", "retry_after_seconds", "send_read", "send_submission"]

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
#: A Retry-After longer than this is not slept in-process (the hub reschedules instead).
MAX_INLINE_WAIT = 30.0


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date), None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _not_sent(exc: Exception) -> bool:
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def send_submission(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request carrying a document. Failures are mapped; there is no retry here."""
    try:
        return http.request(method, url, **kwargs)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ConfigError(f"portal URL {url!r} is not usable: {exc}") from exc
    except httpx.TransportError as exc:
        if _not_sent(exc):
            raise TransientPortalError(f"could not reach {url}: {type(exc).__name__}: {exc}") from exc
        raise InDoubtError(f"sent to {url} but no answer came back: {type(exc).__name__}: {exc}") from exc
    except httpx.RequestError as exc:  # DecodingError, TooManyRedirects: an answer came, it is unusable
        raise InDoubtError(f"sent to {url} but the answer is unusable: {type(exc).__name__}: {exc}") from exc


_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=10)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    backoff: float = _BACKOFF(state)
    if isinstance(exc, TransientPortalError) and exc.retry_after is not None:
        return min(max(exc.retry_after, backoff), MAX_INLINE_WAIT)
    return backoff


def send_read(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    attempts: int = 3,
    sleep: Callable[[float], None] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """An idempotent request (poll, lookup, token), retried on transport failures, 429 and 5xx."""

    def once() -> httpx.Response:
        try:
            response = http.request(method, url, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ConfigError(f"portal URL {url!r} is not usable: {exc}") from exc
        except httpx.RequestError as exc:  # every transport failure, and answers that cannot be decoded
            raise TransientPortalError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientPortalError(
                f"{method} {url} answered HTTP {response.status_code}",
                retry_after=retry_after_seconds(response),
                http_status=response.status_code,
            )
        return response

    retrying = Retrying(
        retry=retry_if_exception_type(TransientPortalError),
        stop=stop_after_attempt(attempts),
        wait=_wait,
        reraise=True,
        sleep=sleep or time.sleep,
    )
    return retrying(once)
