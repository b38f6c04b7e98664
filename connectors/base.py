"""The connector contract every portal family implements.

A connector is stateless: the hub gives it a profile (the customer-portal rules file) and, for each
call, the invoice or cursor; the hub persists everything (attempts, cursors). Transport and
credentials are injected through `ConnectorContext`, so tests and benchmarks swap them freely.

The template methods are narrow on purpose: `render` builds the exact bytes to send (the hub stores
them, redacted, before sending), `submit` sends one document in one request and classifies the
answer, `poll` returns pages of changes since a cursor, `lookup` finds one invoice by number so an
IN_DOUBT attempt can be reconciled before any resend.

What the hub would otherwise have to know about a family sits behind hooks too: `check_document`
(the document's own schema, for pre-flight), the push hooks (`read_push`, `push_sender`,
`pushed_status`, `push_reply`, for portals that push statuses to the hub's receiver) and `describe`
(what the family is and can do, for the CLI and the docs). docs/connectors.md walks through them.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from hub.errors import ConfigError
from hub.model import Invoice, PortalStatusUpdate, RejectionCategory, Violation
from hub.profile import PortalProfile

# Redaction lives with the secrets at the bottom; the contract offers it to connectors as before.
from hub.secrets import MASK as MASK
from hub.secrets import SecretResolver as SecretResolver
from hub.secrets import redact as redact
from mappings.xml_safety import parse_untrusted
from mappings.xml_schema import SchemaError, SchemaKind, schema_errors

if TYPE_CHECKING:
    from lxml import etree

__all__ = [
    "MASK",
    "CheckedStep",
    "Connector",
    "ConnectorContext",
    "Description",
    "Envelope",
    "Leases",
    "OutboundDocument",
    "PageWalk",
    "PollResult",
    "PortalRecord",
    "Push",
    "PushReply",
    "PushSender",
    "PushedStatus",
    "Receipt",
    "SchemaFiles",
    "SecretResolver",
    "SharedBrowsers",
    "redact",
    "schema_violations",
]

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


#: Schema files the hub's configuration names (portalhub.yaml `cxml_dtd`, `pidx_xsd`, `document_schemas`),
#: by the name each family documents and reads in `check_document`; a missing name: no schema check.
SchemaFiles = Mapping[str, Path]


class SharedBrowsers(Protocol):
    """The browsers web-portal connectors drive (connectors/webportal/browser.py `BrowserPool`), shared
    by every connector of one hub; typed here only by what the hub may do with them: close them."""

    def close(self) -> None: ...


@dataclass
class ConnectorContext:
    """What a connector may use. The hub builds one per daemon; tests build their own."""

    http: httpx.Client
    secrets: SecretResolver
    now: Callable[[], datetime]
    #: How a connector waits between retries of a read; the daemon makes SIGTERM interrupt it.
    sleep: Callable[[float], None] = time.sleep
    evidence_dir: Path | None = None
    #: The browsers web-portal connectors drive; None: each such connector uses the process's own pool.
    browser_pool: SharedBrowsers | None = None
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


@dataclass(frozen=True)
class Push:
    """A status document a portal pushed to the hub's receiver, as its family read it (before anyone is
    authenticated). Families subclass it with their own reading; the receiver uses only these fields."""

    payload_id: str | None  # the sender's id of the document, for logs
    sender: str  # who the document says sent it, for logs
    #: One kept row per delivered document (a network's retry of the same document is the same key).
    dedupe_key: str
    #: What a person reads of the document when it cannot be placed (never the credential).
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PushSender:
    """A profile whose inbound credential the pushed document carries."""

    #: The document names this profile's buyer too: where any profile is so named, only those are used.
    names_buyer: bool = False


@dataclass(frozen=True)
class PushedStatus:
    """What a pushed document says, read for one profile (its time zone, its portal's vocabulary)."""

    #: The status in canonical terms; None when the document cannot be read as one (see `problem`).
    update: PortalStatusUpdate | None
    problem: str | None = None  # why it cannot be read, when `update` is None
    #: The invoice date the document gives with the number, if any: a number reused years later is
    #: another invoice (a day either way is the same one: the portal may write it in another zone).
    invoice_date: date | None = None
    #: False when the status type has no canonical meaning: noted on the invoice, and kept for a person.
    type_known: bool = True
    kind: str | None = None  # the portal's kind of status (cXML: InvoiceStatus, DocumentStatus, ...)
    status_type: str | None = None  # as the portal wrote it
    named: str | None = None  # how the document names the invoice, for a person (its number, a document id)
    document_payload_id: str | None = None  # our document's id, when the portal quotes it
    occurred_at: datetime | None = None
    comments: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)  # what was read, for a person (no credential)


@dataclass(frozen=True)
class PushReply:
    """The body the receiver answers a push with, in the family's own form."""

    body: bytes
    content_type: str


@dataclass(frozen=True)
class Description:
    """What a portal family is and can do (`Connector.describe`): for `portalhub connectors` and docs."""

    name: str
    document_format: str
    transports: tuple[str, ...]
    capabilities: tuple[str, ...]
    summary: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "document_format": self.document_format,
            "transports": list(self.transports),
            "capabilities": list(self.capabilities),
            "summary": self.summary,
        }


_MAPPING_HINT = (
    "This is a mapping problem in portalhub or an unusual invoice; report it with the invoice number."
)


def schema_violations(
    tree: etree._Element, schema: Path, kind: SchemaKind, name: str, rule_id: str, what: str
) -> list[Violation]:
    """`tree` checked against the DTD/XSD file `schema` (mappings.xml_schema: compiled once per process),
    as blocking document violations; `what` starts each message ("the cXML does not follow X.dtd").
    A schema file that cannot be read is a ConfigError naming it (`name`, "the cXML DTD"): the hub's
    configuration names the file, so the fix is there."""
    try:
        errors = schema_errors(schema, kind, tree)
    except SchemaError as exc:
        raise ConfigError(f"{name} is unusable: {exc}") from exc
    return [
        Violation(
            rule_id=rule_id,
            field="document",
            value=None,
            message=f"{what}: {error}",
            hint=_MAPPING_HINT,
            category=RejectionCategory.DOCUMENT,
        )
        for error in errors
    ]


class Connector(ABC):
    """Base of every portal connector. Subclasses set the class attributes and the four methods."""

    name: ClassVar[str]
    document_format: ClassVar[str]
    connection_model: ClassVar[type[BaseModel]]
    #: `connection:` key -> (what it means, an example), for `portalhub rules schema` and `rules new`
    #: where the settings model's own Field(description=..., examples=...) says nothing.
    connection_help: ClassVar[Mapping[str, tuple[str, Any]]] = {}
    #: How documents travel, for `describe` ("cXML over HTTPS", "REST", "SOAP", "browser").
    transports: ClassVar[tuple[str, ...]] = ("HTTPS",)
    supports_poll: ClassVar[bool] = False
    supports_lookup: ClassVar[bool] = False
    supports_cancel: ClassVar[bool] = False
    supports_attachments: ClassVar[bool] = False
    #: The portal pushes statuses to the hub's receiver (the push hooks below are implemented).
    supports_push: ClassVar[bool] = False
    #: The portal refuses a corrected invoice under the number of a disputed one: renumber on resubmission.
    renumber_after_dispute: ClassVar[bool] = False
    #: The portal refuses an invoice number it already holds for the supplier, so a resend under the
    #: same number cannot create a second invoice: an unanswered send that cannot be looked up is
    #: resent under its number, and a "number already used" answer to that resend is read as evidence.
    refuses_reused_number: ClassVar[bool] = False

    def __init__(self, context: ConnectorContext):
        self.context = context

    @classmethod
    def describe(cls) -> Description:
        """What this family is and can do, from its class attributes and docstring."""
        flags = {
            "poll": cls.supports_poll,
            "lookup": cls.supports_lookup,
            "cancel": cls.supports_cancel,
            "attachments": cls.supports_attachments,
            "push": cls.supports_push,
            "renumber-after-dispute": cls.renumber_after_dispute,
            "refuses-reused-number": cls.refuses_reused_number,
        }
        # The family's own words: its class docstring, else its module's (a subclass inherits neither).
        doc = cls.__dict__.get("__doc__") or getattr(sys.modules.get(cls.__module__), "__doc__", None) or ""
        return Description(
            name=cls.name,
            document_format=cls.document_format,
            transports=cls.transports,
            capabilities=tuple(flag for flag, on in flags.items() if on),
            summary=" ".join(doc.strip().split("\n\n", 1)[0].split()),
        )

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

    def check_document(self, document: OutboundDocument, schemas: SchemaFiles) -> list[Violation]:
        """The document against its format's own schema (a DTD, an XSD), for pre-flight: the family
        picks its schema file from `schemas` by the name it documents; none there, no check. Most
        families use `schema_violations`. ConfigError when the named file cannot be read."""
        return []

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

    # --- pushed statuses (only where `supports_push`): the receiver is HTTP, the family reads ---------------
    def read_push(self, body: bytes, headers: Mapping[str, str]) -> Push:
        """Read a pushed body before anyone is authenticated; MappingError when it is no status
        document of this family at all (the receiver answers 400 and keeps nothing). A document whose
        status cannot be read still returns (its sender can be authenticated, the document kept)."""
        raise NotImplementedError(f"{self.name} takes no pushed statuses")

    def push_sender(self, profile: PortalProfile, push: Push, secrets: SecretResolver) -> PushSender | None:
        """Whether `push` carries this profile's inbound credential (a secret compared in constant time,
        resolved with the receiver's `secrets`); None when it does not or the profile takes no pushes.
        ConfigError when the profile's inbound settings cannot be used (an empty secret lets nobody in)."""
        raise NotImplementedError(f"{self.name} takes no pushed statuses")

    def pushed_status(self, profile: PortalProfile, push: Push, received_at: datetime) -> PushedStatus:
        """What `push` says, in canonical terms, read in this profile's settings (time zone)."""
        raise NotImplementedError(f"{self.name} takes no pushed statuses")

    def push_reply(self, code: int, text: str, detail: str, now: datetime) -> PushReply:
        """The answer body for an HTTP `code` in the family's own form (a cXML Response)."""
        raise NotImplementedError(f"{self.name} takes no pushed statuses")

    def walk(self, profile: PortalProfile, document: OutboundDocument, submit: bool = False) -> PageWalk:
        """For connectors that drive a portal's pages: sign in, fill the form with `document` up to (not
        including) the submit click, read the invoice list; each step with a screenshot. `submit` goes
        on through the submit click (callers allow it only against a sandbox)."""
        raise ConfigError(f"{self.name} has no pages to walk (only web-portal profiles have a recipe)")
