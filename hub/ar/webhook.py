"""The webhook sink (`kind: webhook`): each status event is POSTed as JSON to the AR system's URL, signed.

Signature (hub.signing, as every portalhub webhook): `X-Portalhub-Timestamp: <unix seconds>` and
`X-Portalhub-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under the shared secret (given
by reference: env:, file:, secret:). The receiver recomputes it over the raw body, compares in constant
time and refuses timestamps outside its replay window (docs/ar-adapters.md has the receiving recipe).
An event is acknowledged by a 2xx answer only; anything else raises `ArUnavailableError`, so the
feedback outbox keeps the events and retries them with backoff. The same event can arrive twice (after
a crash, or a batch that failed half-way): receivers dedupe on `event_id`, which is also sent as
`X-Portalhub-Event-Id`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import Field, field_validator

from hub.ar import ArAdapter, ArContext, ArUnavailableError
from hub.config import HubConfig
from hub.errors import ConfigError
from hub.profile import Strict
from hub.secrets import SecretsResolver
from hub.signing import signed_headers

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "X-Portalhub-Event-Id"
#: Event ids acknowledged by this process: a batch that failed half-way does not POST them again.
_REMEMBERED = 10_000


class WebhookSettings(Strict):
    """`feedback: {kind: webhook, url: ..., secret: env:NAME}`."""

    url: str = Field(description="Where each event is POSTed (http or https).")
    secret: str = Field(description="The signing key, by reference: env:NAME, file:/path or secret:name.")
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # Not the URL itself: its query or user part may hold the receiver's token.
            found = f"the scheme is {parts.scheme!r}" if parts.scheme else "no scheme"
            raise ValueError(f"must be an http:// or https:// URL with a host ({found})")
        return value

    @field_validator("secret")
    @classmethod
    def _by_reference(cls, value: str) -> str:
        if value.partition(":")[0] not in ("env", "file", "secret"):
            # Never echo the value: it may be the secret itself, pasted where a reference belongs.
            raise ValueError(
                "must be a secret reference (env:NAME, file:/path or secret:name), not the secret"
            )
        return value


def body_of(event: dict[str, Any]) -> bytes:
    """The exact bytes POSTed for an event (and signed)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sample_event(now: datetime | None = None) -> dict[str, Any]:
    """A status event shaped like the real ones (hub.lifecycle.event_payload), for receivers' tests."""
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    return {
        "event_id": "evt-test-1",
        "source": "ar-sql",
        "ar_key": "1001",
        "invoice_number": "INV-TEST-1",
        "customer_id": "C-1001",
        "profile_id": "acme-coupa",
        "state": "REJECTED",
        "previous_state": "SUBMITTED",
        "reason": "rejected by acme-coupa: PO number PO-999 is not a valid purchase order",
        "category": "po",
        "raw_status": "rejected",
        "portal_invoice_id": "8812",
        "at": at.isoformat(),
    }


def _shown(url: str) -> str:
    # A URL in an error or a log line keeps no credentials or query (tokens travel there).
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class WebhookSink(ArAdapter):
    """POSTs each event, signed; raises on anything but 2xx so the outbox keeps and retries it."""

    kind = "webhook"
    settings_model = WebhookSettings

    def __init__(
        self,
        settings: WebhookSettings,
        context: ArContext,
        *,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(settings, context)
        self.url = settings.url
        self.timeout = settings.timeout_seconds
        # Resolved once at start-up: a missing variable stops the hub then, not at the first event.
        self._secret = context.secrets.resolve(settings.secret)
        self._http = context.http
        self._own_http = context.http is None
        if self._http is None:
            self._http = httpx.Client(timeout=settings.timeout_seconds)
        self._clock = clock
        self._acknowledged: OrderedDict[str, None] = OrderedDict()

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """POST the events in order; stop at the first one not acknowledged (raises)."""
        assert self._http is not None
        for event in events:
            event_id = str(event.get("event_id"))
            if event_id in self._acknowledged:
                continue
            body = body_of(event)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "portalhub-webhook",
                **signed_headers(self._secret, body, self._clock()),
                EVENT_ID_HEADER: event_id,
            }
            try:
                response = self._http.post(
                    self.url, content=body, headers=headers, timeout=self.timeout, follow_redirects=False
                )
            except httpx.HTTPError as exc:
                raise ArUnavailableError(
                    f"the webhook receiver {_shown(self.url)} could not be reached ({type(exc).__name__}); "
                    f"event {event_id} and the ones after it are kept and retried"
                ) from None
            if not 200 <= response.status_code < 300:
                said = response.text[:200].replace("\n", " ")
                raise ArUnavailableError(
                    f"the webhook receiver {_shown(self.url)} answered HTTP {response.status_code} to event "
                    f"{event_id} ({said!r}); it is kept and retried"
                )
            self._acknowledged[event_id] = None
            if len(self._acknowledged) > _REMEMBERED:
                self._acknowledged.popitem(last=False)

    def close(self) -> None:
        if self._own_http and self._http is not None:
            self._http.close()


def signing_secret(reference: str | None, config: Callable[[], HubConfig]) -> str:
    """The secret `portalhub webhook verify` works with: `reference` (env:, file:, secret:) or, without
    one, the configured webhook's (`feedback:` or `ar:` of kind webhook). `config` loads the hub
    configuration, called only when needed (a `secret:` reference or none at all)."""
    hub_config = None
    if reference is None or reference.startswith("secret:"):
        hub_config = config()
    if reference is None:
        assert hub_config is not None
        blocks = [b for b in (hub_config.feedback, hub_config.ar) if b is not None and b.kind == "webhook"]
        if not blocks or not isinstance(blocks[0].settings.get("secret"), str):
            raise ConfigError(
                "no webhook is configured (feedback: {kind: webhook, ...}); pass --secret env:NAME"
            )
        reference = str(blocks[0].settings["secret"])
    if reference.partition(":")[0] not in ("env", "file", "secret"):
        raise ConfigError(
            "--secret takes a reference (env:NAME, file:/path or secret:name), never the secret"
        )
    return SecretsResolver(hub_config.secrets_file if hub_config else None).resolve(reference)


def sample(secret: str, now: float) -> tuple[dict[str, Any], bytes, dict[str, str]]:
    """A test event, the exact body the sink would POST, and its signature headers."""
    event = sample_event(datetime.fromtimestamp(int(now), UTC))
    body = body_of(event)
    return event, body, signed_headers(secret, body, now)
