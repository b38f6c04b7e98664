"""What every cXML portal connector shares: connection settings for the cXML header, rendering with the
canonical mapping, and attachments in a MIME multipart/related envelope (cXML's attachment rule).

Coupa and Ariba subclass `CxmlConnector`; their differences live in their own modules and profiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from pydantic import Field

from connectors.base import (
    Connector,
    Envelope,
    OutboundDocument,
    Receipt,
    SchemaFiles,
    schema_violations,
)
from connectors.http import send_submission
from connectors.multipart import content_ids, xml_document
from connectors.settings import COMMON_HELP, PerProfile, TimeZoneName
from hub.model import Invoice, Violation
from hub.profile import PortalProfile, Strict
from hub.secrets import SecretRef
from mappings import cxml_invoice


class CredentialSettings(Strict):
    domain: str = Field(min_length=1)
    identity: str = Field(min_length=1)


class CxmlConnection(Strict):
    """The `connection:` block shared by cXML portals."""

    invoice_url: str = Field(pattern=r"^https?://")
    from_: CredentialSettings = Field(alias="from")
    to: CredentialSettings
    sender: CredentialSettings | None = None  # defaults to `from`
    shared_secret: SecretRef
    user_agent: str = "portalhub"
    deployment_mode: Literal["production", "test"] = "production"
    timezone: TimeZoneName = "UTC"  # the supplier's zone: invoice dates are midnight there
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)


#: The schema file (portalhub.yaml `cxml_dtd`) pre-flight checks every rendered cXML invoice against.
DTD_SETTING = "cxml_dtd"


#: What the cXML header keys mean, with an example (`Connector.connection_help`).
CXML_HELP: dict[str, tuple[str, Any]] = {
    **COMMON_HELP,
    "invoice_url": (
        "Where invoices are posted (the portal's cXML endpoint).",
        "https://acme.coupahost.com/cxml/invoices",
    ),
    "from": (
        "The supplier's credential in the cXML header (From).",
        {"domain": "DUNS", "identity": "123456789"},
    ),
    "to": ("The buyer's credential in the cXML header (To).", {"domain": "DUNS", "identity": "987654321"}),
    "sender": (
        "The Sender credential; the From credential when absent.",
        {"domain": "NetworkID", "identity": "AN01000000001"},
    ),
    "shared_secret": ("The cXML shared secret, by reference only.", "secret:acme_coupa_shared_secret"),
    "domain": ("The credential's domain (DUNS, NetworkID, ...).", "DUNS"),
    "identity": ("The credential's identity in that domain.", "123456789"),
    "user_agent": ("The UserAgent the documents announce.", "portalhub"),
    "deployment_mode": ("production, or test for the portal's test account.", "production"),
}


class CxmlConnector(Connector):
    """Renders cXML InvoiceDetailRequests; subclasses implement submit/poll/lookup for their portal."""

    document_format = "cxml"
    connection_model = CxmlConnection
    connection_help = CXML_HELP
    transports = ("cXML over HTTPS",)
    supports_attachments = True

    def check_document(self, document: OutboundDocument, schemas: SchemaFiles) -> list[Violation]:
        """The cXML against InvoiceDetail.dtd, when portalhub.yaml names it (`cxml_dtd`)."""
        dtd = schemas.get(DTD_SETTING)
        if dtd is None or document.tree is None:
            return []
        return schema_violations(
            document.tree,
            dtd,
            "dtd",
            name=f"the cXML DTD {dtd}",
            rule_id="cxml-dtd",
            what="the cXML does not follow InvoiceDetail.dtd",
        )

    def submit(self, document: OutboundDocument, profile: PortalProfile) -> Receipt:
        """One POST of the document to the profile's invoice URL; the portal family reads the answer."""
        settings: CxmlConnection = self.settings(profile)
        response = send_submission(
            self.context.http,
            "POST",
            settings.invoice_url,
            content=document.body,
            headers={"Content-Type": document.content_type},
            timeout=settings.timeout_seconds,
        )
        return self._classify(response, document.secrets)

    def _classify(self, response: httpx.Response, secrets: tuple[str, ...] = ()) -> Receipt:
        """What the portal's answer means: a Receipt, or one of the hub's errors (never anything else)."""
        raise NotImplementedError

    @classmethod
    def example_connection(cls) -> dict[str, Any]:
        return {
            "invoice_url": "https://portal.invalid/cxml/invoices",
            "from": {"domain": "DUNS", "identity": "000000000"},
            "to": {"domain": "DUNS", "identity": "000000001"},
            "shared_secret": "env:PLACEHOLDER_NEVER_SENT",
        }

    @cached_property
    def _headers(self) -> PerProfile[_Header]:
        return PerProfile(self._header)

    def _header(self, profile: PortalProfile) -> _Header:
        settings: CxmlConnection = self.settings(profile)
        return _Header(
            settings,
            sender=_credential(settings.sender or settings.from_),
            from_=_credential(settings.from_),
            to=_credential(settings.to),
            timezone=ZoneInfo(settings.timezone),
        )

    def render(self, invoice: Invoice, profile: PortalProfile, envelope: Envelope) -> OutboundDocument:
        header = self._headers(profile)
        settings = header.settings
        secret = self.secret(settings.shared_secret)  # resolved on every render: a secret can rotate
        ids = content_ids(invoice.attachments) if invoice.attachments else {}
        cxml_envelope = cxml_invoice.CxmlEnvelope(
            payload_id=envelope.payload_id,
            timestamp=envelope.timestamp,
            sender=header.sender,
            from_=header.from_,
            to=header.to,
            shared_secret=secret,
            user_agent=settings.user_agent,
            deployment_mode=settings.deployment_mode,
            timezone=header.timezone,
            invoice_number=envelope.invoice_number,
            original_payload_id=envelope.original_payload_id,
            attachment_ids=ids,
        )
        xml = cxml_invoice.render(invoice, cxml_envelope)
        return xml_document(
            envelope,
            self.document_format,
            xml,
            invoice.attachments,
            ids,
            xml_type="text/xml",
            secrets=(secret,),
        )


@dataclass(frozen=True)
class _Header:
    """A profile's settings as rendering uses them (`CxmlConnector._headers`: once per profile)."""

    settings: CxmlConnection
    sender: cxml_invoice.Credential
    from_: cxml_invoice.Credential
    to: cxml_invoice.Credential
    timezone: ZoneInfo


def _credential(settings: CredentialSettings) -> cxml_invoice.Credential:
    return cxml_invoice.Credential(domain=settings.domain, identity=settings.identity)
