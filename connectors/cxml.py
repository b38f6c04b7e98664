"""What every cXML portal connector shares: connection settings for the cXML header, rendering with the
canonical mapping, and attachments in a MIME multipart/related envelope (cXML's attachment rule).

Coupa and Ariba subclass `CxmlConnector`; their differences live in their own modules and profiles.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import (
    Connector,
    Envelope,
    OutboundDocument,
    Receipt,
    SchemaFiles,
    schema_violations,
)
from connectors.http import send_submission
from hub.model import Invoice, Violation
from hub.profile import PortalProfile
from hub.secrets import SecretRef
from mappings import cxml_invoice


class CredentialSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    domain: str = Field(min_length=1)
    identity: str = Field(min_length=1)


class CxmlConnection(BaseModel):
    """The `connection:` block shared by cXML portals."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    invoice_url: str = Field(pattern=r"^https?://")
    from_: CredentialSettings = Field(alias="from")
    to: CredentialSettings
    sender: CredentialSettings | None = None  # defaults to `from`
    shared_secret: SecretRef
    user_agent: str = "portalhub"
    deployment_mode: Literal["production", "test"] = "production"
    timezone: str = "UTC"  # the supplier's zone: invoice dates are midnight there
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as America/Chicago"
            ) from None
        return value


_FILENAME_SAFE = re.compile(r"[^A-Za-z0-9._-]")
#: The schema file (portalhub.yaml `cxml_dtd`) pre-flight checks every rendered cXML invoice against.
DTD_SETTING = "cxml_dtd"


class CxmlConnector(Connector):
    """Renders cXML InvoiceDetailRequests; subclasses implement submit/poll/lookup for their portal."""

    document_format = "cxml"
    connection_model = CxmlConnection
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

    def render(self, invoice: Invoice, profile: PortalProfile, envelope: Envelope) -> OutboundDocument:
        settings: CxmlConnection = self.settings(profile)
        secret = self.secret(settings.shared_secret)
        content_ids = {
            attachment.filename: f"{_FILENAME_SAFE.sub('_', attachment.filename)}.{attachment.sha256[:12]}@portalhub"
            for attachment in invoice.attachments
        }
        cxml_envelope = cxml_invoice.CxmlEnvelope(
            payload_id=envelope.payload_id,
            timestamp=envelope.timestamp,
            sender=_credential(settings.sender or settings.from_),
            from_=_credential(settings.from_),
            to=_credential(settings.to),
            shared_secret=secret,
            user_agent=settings.user_agent,
            deployment_mode=settings.deployment_mode,
            timezone=ZoneInfo(settings.timezone),
            invoice_number=envelope.invoice_number,
            original_payload_id=envelope.original_payload_id,
            attachment_ids=content_ids,
        )
        xml = cxml_invoice.render(invoice, cxml_envelope)
        if not invoice.attachments:
            content_type, body = "text/xml; charset=UTF-8", xml
        else:
            content_type, body = _multipart_related(envelope.payload_id, xml, invoice, content_ids)
        return OutboundDocument(
            payload_id=envelope.payload_id,
            invoice_number=envelope.invoice_number,
            format=self.document_format,
            content_type=content_type,
            body=body,
            xml=xml,
            secrets=(secret,),
        )


def _credential(settings: CredentialSettings) -> cxml_invoice.Credential:
    return cxml_invoice.Credential(domain=settings.domain, identity=settings.identity)


def _multipart_related(
    payload_id: str, xml: bytes, invoice: Invoice, content_ids: dict[str, str]
) -> tuple[str, bytes]:
    """cXML with attachments: the document first, each file after it, referenced by `cid:` URLs."""
    boundary = "portalhub-" + hashlib.sha256(payload_id.encode()).hexdigest()[:24]
    start = f"<{payload_id}>"
    parts = [
        f"--{boundary}\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-ID: {start}\r\n\r\n".encode()
        + xml
        + b"\r\n"
    ]
    for attachment in invoice.attachments:
        encoded = base64.encodebytes(attachment.content)
        parts.append(
            (
                f"--{boundary}\r\nContent-Type: {attachment.content_type}\r\n"
                f"Content-Transfer-Encoding: base64\r\n"
                f'Content-Disposition: attachment; filename="{attachment.filename}"\r\n'
                f"Content-ID: <{content_ids[attachment.filename]}>\r\n\r\n"
            ).encode()
            + encoded
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    content_type = f'multipart/related; boundary="{boundary}"; type="text/xml"; start="{start}"'
    return content_type, body
