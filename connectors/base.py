"""The connector contract every portal family implements.

A connector is stateless: the hub gives it a profile (the customer-portal rules file) and, for each
call, the invoice or cursor; the hub persists everything (attempts, cursors). Transport and
credentials are injected through `ConnectorContext`, so tests and benchmarks swap them freely.

The template methods are narrow on purpose: `render` builds the exact bytes to send (the hub stores
them, redacted, before sending), `submit` sends one document in one request and classifies the
answer, `poll` returns pages of changes since a cursor, `lookup` finds one invoice by number so an
IN_DOUBT attempt can be reconciled before any resend.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from hub.errors import ConfigError
from hub.model import Invoice, PortalStatusUpdate
from hub.profile import PortalProfile

# Redaction lives with the secrets at the bottom; the contract offers it to connectors as before.
from hub.secrets import MASK as MASK
from hub.secrets import SecretResolver as SecretResolver
from hub.secrets import redact as redact
from mappings.xml_safety import parse_untrusted

#: The portal's current record of one invoice (what `lookup` returns).
PortalRecord = PortalStatusUpdate


class Leases(Protocol):
    """Named locks shared by every hub process on one store, each held for at most `seconds` (so a
    holder that died blocks the others no longer than that). For work that must never run twice at
    once against one portal, whichever daemon does it (a browser signed in as the supplier's user)."""

    def acquire(self, name: str, seconds: float) -> bool:
        """Take or renew the lock; False while another process holds it."""
        ...

    def release(self, name: str) -> None: ...


@dataclass
class ConnectorContext:
    """What a connector may use. The hub builds one per daemon; tests build their own."""

    http: httpx.Client
    secrets: SecretResolver
    now: Callable[[], datetime]
    #: How a connector waits between retries of a read; the daemon makes SIGTERM interrupt it.
    sleep: Callable[[float], None] = time.sleep
    evidence_dir: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. a browser pool for web portals
    #: The hub's store-backed locks; None where this process is the only one (tests, one-off tools).
    leases: Leases | None = None


@dataclass(frozen=True)
class Envelope:
    """This send's identity, decided and committed by the hub before the request leaves."""

    payload_id: str
    timestamp: datetime
    invoice_number: str  # the number the portal sees (a renumbered resubmission differs from the AR number)
    original_payload_id: str | None = None  # for cancels and credit memos that refer to an earlier send


@dataclass(frozen=True)
class OutboundDocument:
    """The exact request body for one invoice, plus what pre-flight and redaction need."""

    payload_id: str
    invoice_number: str
    format: str  # "cxml", "pidx", "webform": selects the schema check in pre-flight
    content_type: str
    body: bytes = field(repr=False)
    #: The XML document inside `body` (all of it, or its XML part when attachments make `body` MIME).
    xml: bytes | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)  # values to mask wherever the body is kept

    @cached_property
    def tree(self) -> Any:
        """`xml` parsed, for the XPath document rules and the DTD/XSD checks. Parsed on first use
        only: sending needs the bytes alone, and the checks then see exactly the bytes that are sent."""
        return None if self.xml is None else parse_untrusted(self.xml)

    def redacted(self) -> str:
        return redact(self.body.decode("utf-8", errors="replace"), self.secrets)


@dataclass(frozen=True)
class Receipt:
    """The portal accepted the invoice (or already had it)."""

    portal_invoice_id: str | None
    http_status: int | None = None
    portal_code: str | None = None
    portal_text: str | None = None
    response_body: str | None = None
    already_submitted: bool = False  # a duplicate answer to a resend of our own in-doubt attempt


@dataclass(frozen=True)
class PollResult:
    updates: list[PortalStatusUpdate]
    next_cursor: str | None
    requests: int = 1  # what the poll cost, for the polling benchmark
    unreadable: list[str] = field(default_factory=list)  # portal records skipped, with the reason


@dataclass(frozen=True)
class CheckedStep:
    """One step of a page walk (`Connector.walk`): what was done, and the screenshot taken after it."""

    operation: str
    step: str
    did: str
    screenshot: str | None = None
    ok: bool = True


@dataclass
class PageWalk:
    """A walk through a portal's pages (`portalhub recipe check`): the steps, the first problem."""

    steps: list[CheckedStep] = field(default_factory=list)
    problem: str | None = None  # names the step and what was expected, with the evidence
    submitted: Receipt | None = None  # only against a sandbox


class Connector(ABC):
    """Base of every portal connector. Subclasses set the class attributes and the four methods."""

    name: ClassVar[str]
    document_format: ClassVar[str]
    connection_model: ClassVar[type[BaseModel]]
    supports_poll: ClassVar[bool] = False
    supports_lookup: ClassVar[bool] = False
    supports_cancel: ClassVar[bool] = False
    supports_attachments: ClassVar[bool] = False
    #: The portal refuses a corrected invoice under the number of a disputed one: renumber on resubmission.
    renumber_after_dispute: ClassVar[bool] = False
    #: The portal refuses an invoice number it already holds for the supplier, so a resend under the
    #: same number cannot create a second invoice: an unanswered send that cannot be looked up is
    #: resent under its number, and a "number already used" answer to that resend is read as evidence.
    refuses_reused_number: ClassVar[bool] = False

    def __init__(self, context: ConnectorContext):
        self.context = context

    @classmethod
    def check_connection(cls, connection: dict[str, Any]) -> None:
        """Validate a profile's `connection:` block; raises pydantic's ValidationError with locations."""
        cls.connection_model.model_validate(connection)

    @classmethod
    def profile_warnings(cls, connection: dict[str, Any]) -> list[str]:
        """What `portalhub rules check` should warn about in a valid `connection:` (a setting that
        loads but leaves the hub blind to something)."""
        return []

    @classmethod
    def example_connection(cls) -> dict[str, Any]:
        """A valid `connection:` with placeholder values, to render documents for rule examples and
        checks (never sent anywhere)."""
        raise NotImplementedError(f"{cls.name} cannot render documents without a real connection")

    @classmethod
    def file_schemas(cls) -> dict[str, dict[str, Any]]:
        """JSON Schemas of the files a profile of this connector names besides its rules file (a web
        portal's recipe), by kind; for editors."""
        return {}

    def settings(self, profile: PortalProfile) -> Any:
        try:
            return self.connection_model.model_validate(profile.connection)
        except ValidationError as exc:  # load_profiles checks this first; this guards direct callers
            raise ConfigError(f"profile {profile.id}: connection settings are invalid: {exc}") from exc

    def secret(self, reference: str) -> str:
        return self.context.secrets.resolve(reference)

    @abstractmethod
    def render(self, invoice: Invoice, profile: PortalProfile, envelope: Envelope) -> OutboundDocument:
        """The document for this invoice and send; raises MappingError if it cannot be expressed."""

    @abstractmethod
    def submit(self, document: OutboundDocument, profile: PortalProfile) -> Receipt:
        """Send one document in one request. Raises PortalError subclasses or InDoubtError, nothing else."""

    def poll(self, profile: PortalProfile, cursor: str | None) -> PollResult:
        """Status changes since `cursor` (None: from the beginning the connector chooses)."""
        raise NotImplementedError(f"{self.name} does not poll")

    def can_lookup(self, profile: PortalProfile) -> bool:
        """Whether `lookup` works for this profile (a portal family may need a status API section
        the profile lacks)."""
        return self.supports_lookup

    def lookup(self, profile: PortalProfile, invoice_number: str) -> PortalRecord | None:
        """The portal's record of an invoice by number, or None if the portal has none. The record
        carries what the portal shows of the document's identity (`payload_id`) and content
        (`content`), so the hub can tell its own document from another one under the same number."""
        raise NotImplementedError(f"{self.name} cannot look invoices up")

    def walk(self, profile: PortalProfile, document: OutboundDocument, submit: bool = False) -> PageWalk:
        """For connectors that drive a portal's pages: sign in, fill the form with `document` up to (not
        including) the submit click, read the invoice list; each step with a screenshot. `submit` goes
        on through the submit click (callers allow it only against a sandbox)."""
        raise ConfigError(f"{self.name} has no pages to walk (only web-portal profiles have a recipe)")
