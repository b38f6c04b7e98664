"""The `notifications:` section of the hub configuration: who is told about which customers, and how.

    notifications:
      digest_minutes: 60          # at most one digest per recipient this often
      portal_down_minutes: 30     # a portal failing this long is reported (refused logins at once)
      smtp:
        host: smtp.example.com
        port: 587
        security: starttls        # starttls | tls | none
        username: portalhub@example.com
        password: secret:smtp_password
        sender: portalhub@example.com
      collectors:
        - name: Dana Lopez
          email: dana@example.com
          customers: [C-1001, C-1002]
        - name: AR operations
          email: ar-ops@example.com
          customers: ["*"]
          events: [profile]
      webhooks:
        - name: ar-channel
          url: https://hooks.example.com/portalhub
          secret: env:PORTALHUB_WEBHOOK_SECRET
          customers: ["*"]

Secrets (the SMTP password, each webhook's signing key) are references, resolved only when sending.
"""

from __future__ import annotations

import enum

from pydantic import Field, model_validator

from hub.profile import Strict
from hub.secrets import SecretRef

EVERY_CUSTOMER = "*"


class Topic(enum.StrEnum):
    """What a recipient can be told about."""

    BLOCKED = "blocked"  # pre-flight stopped an invoice
    REJECTED = "rejected"  # the portal refused it
    DISPUTED = "disputed"  # the buyer disputed it
    PROFILE = "profile"  # a portal profile stopped working (refused logins, portal down)
    UNPLACED = "unplaced"  # a portal pushed a status the hub could not apply to any invoice


class SmtpSettings(Strict):
    """The mail server digests are sent through."""

    host: str = Field(min_length=1)
    """The SMTP server's host name."""
    port: int = Field(default=587, ge=1, le=65535)
    """The SMTP server's port (587 with STARTTLS, 465 with TLS)."""
    security: str = Field(default="starttls", pattern="^(starttls|tls|none)$")
    """starttls: plain connection upgraded with STARTTLS (port 587); tls: TLS from the start (465); none: no encryption (a relay on localhost only)."""
    username: str | None = None
    """The login, when the server wants one."""
    password: SecretRef | None = None
    """The login's password, by reference (env:NAME, file:/path or secret:name)."""
    sender: str = Field(min_length=3)
    """The From address of the digests."""
    timeout_seconds: float = Field(default=30, gt=0, le=600)
    """Give up on the server after this long (the digest is tried again later)."""


class Recipient(Strict):
    """Someone (or something) told about some customers' problems."""

    name: str = Field(min_length=1, max_length=150)
    """The recipient's name (unique among collectors and webhooks)."""
    customers: list[str] = Field(default_factory=lambda: [EVERY_CUSTOMER], min_length=1)
    """The AR customer ids whose problems this recipient hears about ("*": every customer)."""
    events: list[Topic] = Field(default_factory=lambda: list(Topic), min_length=1)
    """What to be told about: blocked, rejected, disputed, profile, unplaced (default: all of them)."""

    def wants(self, topic: Topic, customers: list[str]) -> bool:
        if topic not in self.events:
            return False
        return EVERY_CUSTOMER in self.customers or any(c in self.customers for c in customers)


class Collector(Recipient):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    """Where the digest is mailed."""


class WebhookTarget(Recipient):
    url: str = Field(pattern=r"^https?://")
    """Where the digest is POSTed as signed JSON."""
    secret: SecretRef
    """The signing key (HMAC-SHA256), by reference (env:NAME, file:/path or secret:name)."""
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    """Give up on the endpoint after this long (the digest is tried again later)."""


class NotificationsConfig(Strict):
    enabled: bool = True
    """Send notifications (false: keep the configuration but send nothing)."""
    digest_minutes: float = Field(default=60, ge=0)
    """A recipient gets at most one digest this often; what happens in between waits for the next one."""
    portal_down_minutes: float = Field(default=30, gt=0)
    """A profile whose portal keeps failing (unavailable, no answer, polls failing) this long is reported."""
    check_seconds: float = Field(default=60, gt=0)
    """How often the daemon looks for something to tell."""
    retry_seconds: float = Field(default=300, gt=0)
    """A digest that could not be delivered is tried again after this long."""
    smtp: SmtpSettings | None = None
    """The mail server, needed when there are collectors."""
    collectors: list[Collector] = Field(default_factory=list)
    """People told by e-mail about their customers' problems."""
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    """Systems told by a signed HTTP POST."""

    @model_validator(mode="after")
    def _consistent(self) -> NotificationsConfig:
        names = [r.name for r in self.recipients]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"recipient names must be unique (collectors and webhooks): {repeated}")
        if self.collectors and self.smtp is None:
            raise ValueError("collectors are e-mailed: add `smtp:` (host, port, sender, credentials)")
        return self

    @property
    def recipients(self) -> list[Collector | WebhookTarget]:
        return [*self.collectors, *self.webhooks]

    def recipient(self, key: str) -> Collector | WebhookTarget | None:
        """The recipient stored under `key` (`email:<name>` or `webhook:<name>`), if still configured."""
        return next((r for r in self.recipients if recipient_key(r) == key), None)


def recipient_key(recipient: Collector | WebhookTarget) -> str:
    """How the store names a recipient: its channel and its name."""
    return f"{channel(recipient)}:{recipient.name}"


def channel(recipient: Collector | WebhookTarget) -> str:
    return "email" if isinstance(recipient, Collector) else "webhook"
