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
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from rules.schema import SECRET_REFERENCE


def _secret_reference(value: str) -> str:
    if not SECRET_REFERENCE.match(value):
        raise ValueError("must reference a secret (env:NAME, file:/path or secret:name), never hold it")
    return value


SecretRef = Annotated[str, AfterValidator(_secret_reference)]
EVERY_CUSTOMER = "*"


class Topic(enum.StrEnum):
    """What a recipient can be told about."""

    BLOCKED = "blocked"  # pre-flight stopped an invoice
    REJECTED = "rejected"  # the portal refused it
    DISPUTED = "disputed"  # the buyer disputed it
    PROFILE = "profile"  # a portal profile stopped working (refused logins, portal down)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    #: starttls: plain connection upgraded with STARTTLS (port 587); tls: TLS from the start (465);
    #: none: no encryption (a relay on localhost only).
    security: str = Field(default="starttls", pattern="^(starttls|tls|none)$")
    username: str | None = None
    password: SecretRef | None = None
    sender: str = Field(min_length=3)
    timeout_seconds: float = Field(default=30, gt=0, le=600)


class Recipient(_Strict):
    """Someone (or something) told about some customers' problems."""

    name: str = Field(min_length=1, max_length=150)
    customers: list[str] = Field(default_factory=lambda: [EVERY_CUSTOMER], min_length=1)
    events: list[Topic] = Field(default_factory=lambda: list(Topic), min_length=1)

    def wants(self, topic: Topic, customers: list[str]) -> bool:
        if topic not in self.events:
            return False
        return EVERY_CUSTOMER in self.customers or any(c in self.customers for c in customers)


class Collector(Recipient):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class WebhookTarget(Recipient):
    url: str = Field(pattern=r"^https?://")
    secret: SecretRef
    timeout_seconds: float = Field(default=10, gt=0, le=120)


class NotificationsConfig(_Strict):
    enabled: bool = True
    #: A recipient gets at most one digest this often; what happens in between waits for the next one.
    digest_minutes: float = Field(default=60, ge=0)
    #: A profile whose portal keeps failing (unavailable, no answer, polls failing) this long is reported.
    portal_down_minutes: float = Field(default=30, gt=0)
    #: How often the daemon looks for something to tell.
    check_seconds: float = Field(default=60, gt=0)
    #: A digest that could not be delivered is tried again after this long.
    retry_seconds: float = Field(default=300, gt=0)
    smtp: SmtpSettings | None = None
    collectors: list[Collector] = Field(default_factory=list)
    webhooks: list[WebhookTarget] = Field(default_factory=list)

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
