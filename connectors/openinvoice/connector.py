"""OpenInvoice (oil and gas; Oildex/Enverus family): PIDX 1.61 invoices, over SOAP or REST.

One connector, two transports, chosen by the profile (`connection.transport`): both send the same
rendered document, classify answers the same way (connectors/openinvoice/outcome.py) and poll the
same way (polling.py); only how the bytes travel differs (soap.py, rest.py).

OpenInvoice takes a corrected invoice under the number of the invoice the buyer disputed (its status
becomes `resubmitted`), so the hub keeps the number (`renumber_after_dispute = False`).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from connectors.base import (
    Connector,
    ConnectorContext,
    Envelope,
    OutboundDocument,
    PollResult,
    PortalRecord,
    Receipt,
    SchemaFiles,
    schema_violations,
)
from connectors.multipart import content_ids, xml_document
from connectors.openinvoice.polling import poll_changes
from connectors.openinvoice.rest import RestGateway
from connectors.openinvoice.settings import CONNECTION_HELP, OpenInvoiceConnection, profile_folder
from connectors.settings import PerProfile
from hub.errors import MappingError, TransientPortalError
from hub.model import Invoice, Violation
from hub.profile import PortalProfile
from mappings import pidx_invoice
from mappings.openinvoice_status import parse_status_record

if TYPE_CHECKING:
    from datetime import datetime


class Gateway(Protocol):
    """How one transport moves documents and reads statuses (records in the listing's shape)."""

    def submit(self, document: OutboundDocument) -> Receipt: ...

    def lookup(self, invoice_number: str) -> dict[str, Any] | None: ...

    def changes(self, since: datetime | None, skip: int, top: int) -> tuple[list[dict[str, Any]], bool]: ...

    def close(self) -> None: ...


#: The schema file (portalhub.yaml `pidx_xsd`: SCHEMA_PIDX_1.61_Invoice.xsd) pre-flight checks against.
XSD_SETTING = "pidx_xsd"


class OpenInvoiceConnector(Connector):
    """OpenInvoice (oil and gas): PIDX 1.61 invoices over SOAP or REST, statuses polled."""

    name = "openinvoice"
    document_format = "pidx"
    connection_model = OpenInvoiceConnection
    connection_help = CONNECTION_HELP
    transports = ("PIDX over SOAP", "PIDX over REST (mutual TLS)")
    supports_poll = True
    supports_lookup = True
    supports_cancel = False  # OpenInvoice takes cancellations in its UI; credit memos travel as PIDX
    supports_attachments = True
    renumber_after_dispute = False

    def __init__(self, context: ConnectorContext):
        super().__init__(context)
        # A cache, not state: a parsed WSDL or a TLS client per profile; losing it costs one rebuild.
        self._gateways: dict[tuple[str, str], Gateway] = {}
        self._lock = threading.Lock()

    @cached_property
    def _routing(self) -> PerProfile[pidx_invoice.PidxEnvelope]:
        return PerProfile(self._routing_of)

    def _routing_of(self, profile: PortalProfile) -> pidx_invoice.PidxEnvelope:
        """The profile's part of every envelope (routing identities, time zone), once per profile."""
        settings: OpenInvoiceConnection = self.settings(profile)
        return pidx_invoice.PidxEnvelope(
            invoice_number="",
            seller=pidx_invoice.PartyIdentifier(settings.seller.identifier, settings.seller.indicator),
            buyer=pidx_invoice.PartyIdentifier(settings.buyer.identifier, settings.buyer.indicator),
            timezone=ZoneInfo(settings.timezone),
        )

    def render(self, invoice: Invoice, profile: PortalProfile, envelope: Envelope) -> OutboundDocument:
        ids = content_ids(invoice.attachments)
        pidx_envelope = replace(
            self._routing(profile), invoice_number=envelope.invoice_number, attachment_ids=ids
        )
        xml = pidx_invoice.render(invoice, pidx_envelope)
        # One body for both transports: REST posts it as it is (the mac covers every byte); SOAP unpacks
        # it and carries each file as a base64 `Attachment` element of the SubmitInvoice call.
        # Nothing secret travels in a PIDX document: credentials are the transport's (mTLS, mac, WS-Security).
        return xml_document(
            envelope, self.document_format, xml, invoice.attachments, ids, xml_type="application/xml"
        )

    def check_document(self, document: OutboundDocument, schemas: SchemaFiles) -> list[Violation]:
        """The PIDX invoice against the official 1.61 Invoice XSD, when portalhub.yaml names it (`pidx_xsd`)."""
        xsd = schemas.get(XSD_SETTING)
        if xsd is None or document.tree is None:
            return []
        return schema_violations(
            document.tree,
            xsd,
            "xsd",
            name=f"the PIDX schema {xsd}",
            rule_id="pidx-xsd",
            what=f"the PIDX invoice does not follow {xsd.name}",
        )

    def _gateway(self, profile: PortalProfile) -> Gateway:
        settings: OpenInvoiceConnection = self.settings(profile)
        key = (profile.id, settings.model_dump_json())
        with self._lock:
            gateway = self._gateways.get(key)
            if gateway is None:
                folder = profile_folder(profile)
                if settings.transport == "soap":
                    from connectors.openinvoice.soap import SoapGateway  # zeep is heavy: load it on use

                    gateway = SoapGateway(
                        settings, folder, self.context.http, self.secret, self.context.sleep
                    )
                else:
                    gateway = RestGateway(settings, folder, self.secret, self.context.sleep, self.context.now)
                for old in [k for k in self._gateways if k[0] == profile.id]:
                    self._gateways.pop(old).close()
                self._gateways[key] = gateway
            return gateway

    def submit(self, document: OutboundDocument, profile: PortalProfile) -> Receipt:
        return self._gateway(profile).submit(document)

    def lookup(self, profile: PortalProfile, invoice_number: str) -> PortalRecord | None:
        record = self._gateway(profile).lookup(invoice_number)
        if record is None:
            return None
        try:
            return parse_status_record(record)
        except MappingError as exc:
            # The portal has something under this number; what it is, we cannot read.
            raise TransientPortalError(
                f"OpenInvoice record for {invoice_number} is unreadable: {exc}"
            ) from exc

    def poll(self, profile: PortalProfile, cursor: str | None) -> PollResult:
        settings: OpenInvoiceConnection = self.settings(profile)
        gateway = self._gateway(profile)
        transport = settings.rest if settings.transport == "rest" else settings.soap
        assert transport is not None
        return poll_changes(
            gateway.changes, cursor, transport.page_size, timedelta(seconds=settings.overlap_seconds)
        )

    def close(self) -> None:
        """Close the profiles' own HTTP clients (REST keeps one per client certificate)."""
        with self._lock:
            for gateway in self._gateways.values():
                gateway.close()
            self._gateways.clear()
