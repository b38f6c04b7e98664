"""Statuses a cXML network pushes (StatusUpdateRequests): the cXML side of the receiver's hooks.

The hub's receiver (status_sync/receiver.py) is plain HTTP; for a cXML family it asks this module to
read the body safely (mappings.cxml_response: no entities, no DTD, no network), to tell whether the
Sender credential and SharedSecret are a profile's inbound credential (compared in constant time), to
read the status in the profile's time zone, and to answer with a cXML Response.

A family mixes `CxmlPushes` in before `CxmlConnector` and implements `inbound` (who pushes for a
profile) and `status_from_push` (the status in its vocabulary); connectors/ariba.py does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as token_generator
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from connectors.base import Push, PushedStatus, PushReply, PushSender, SecretResolver
from hub.errors import ConfigError
from hub.model import PortalStatusUpdate
from hub.profile import PortalProfile
from mappings.cxml_response import StatusEnvelope, StatusUpdateRequest, read_status_update, render_response


class PushCredential(Protocol):
    """Who may push statuses for one profile."""

    @property
    def domain(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def shared_secret(self) -> str:
        """A secret reference."""
        ...

    @property
    def buyer_identity(self) -> str | None:
        """The `From` identity of the profile's buyer."""
        ...

    @property
    def timezone(self) -> str:
        """Where a pushed timestamp without a zone was written."""
        ...


@dataclass(frozen=True)
class CxmlPush(Push):
    """A StatusUpdateRequest as read before authentication: its sender always, its status if readable."""

    envelope: StatusEnvelope | None = field(default=None, repr=False)
    request: StatusUpdateRequest | None = field(default=None, repr=False)
    unreadable: str | None = None  # why the status inside cannot be read


def dedupe_key(envelope: StatusEnvelope, body: bytes) -> str:
    """One kept row per delivered document: the sender and the request's payloadID (a hash of the body
    when the sender gave none)."""
    sender = f"{envelope.sender_domain or '?'}:{envelope.sender_identity or '?'}"
    return f"{sender}|{envelope.payload_id or 'sha256:' + hashlib.sha256(body).hexdigest()}"


def _facts(request: StatusUpdateRequest | None) -> dict[str, Any]:
    """What a person reads of the status (never the shared secret)."""
    if request is None:
        return {}
    read = asdict(request)
    read.pop("shared_secret", None)
    return {
        "kind": request.kind,
        "status_type": request.status_type,
        "named": request.invoice_number or request.document_id,
        "document_payload_id": request.document_payload_id,
        "occurred_at": request.timestamp,
        "comments": tuple(request.comments),
        "details": read,
    }


class CxmlPushes:
    """The push hooks of `connectors.base.Connector` for a cXML network."""

    supports_push: ClassVar[bool] = True

    def inbound(self, profile: PortalProfile) -> PushCredential | None:
        """The credential the network pushes this profile's statuses with; None when push is off."""
        raise NotImplementedError

    def status_from_push(self, request: StatusUpdateRequest, received_at: datetime) -> PortalStatusUpdate:
        raise NotImplementedError

    def read_push(self, body: bytes, headers: Mapping[str, str]) -> Push:
        envelope, request, unreadable = read_status_update(body)  # MappingError: not one at all
        return CxmlPush(
            payload_id=envelope.payload_id,
            sender=f"{envelope.sender_domain}/{envelope.sender_identity}",
            dedupe_key=dedupe_key(envelope, body),
            details={
                "payload_id": envelope.payload_id,
                "from": envelope.from_identity,
                "sender": f"{envelope.sender_domain}:{envelope.sender_identity}",
            },
            envelope=envelope,
            request=request,
            unreadable=unreadable,
        )

    def push_sender(self, profile: PortalProfile, push: Push, secrets: SecretResolver) -> PushSender | None:
        envelope = _cxml(push).envelope
        assert envelope is not None
        credential = self.inbound(profile)
        if credential is None or (credential.domain.lower(), credential.identity) != (
            (envelope.sender_domain or "").lower(),
            envelope.sender_identity,
        ):
            return None
        expected = secrets.resolve(credential.shared_secret).encode()
        if not expected:
            # An empty secret would let in any request that carries none.
            raise ConfigError("the inbound shared secret is empty; pushes are refused")
        if not hmac.compare_digest(expected, (envelope.shared_secret or "").encode()):
            return None
        buyer = credential.buyer_identity
        return PushSender(names_buyer=bool(buyer) and buyer == envelope.from_identity)

    def pushed_status(self, profile: PortalProfile, push: Push, received_at: datetime) -> PushedStatus:
        read = _cxml(push)
        credential = self.inbound(profile)
        zone = ZoneInfo((credential.timezone if credential is not None else None) or "UTC")
        request = read.request
        if request is None or request.identification_problem:
            problem = read.unreadable or (request.identification_problem if request else None) or "unreadable"
            local = request.in_zone(zone) if request is not None else None
            return PushedStatus(update=None, problem=problem, **_facts(local))
        local = request.in_zone(zone)
        return PushedStatus(
            update=self.status_from_push(local, received_at),
            # InvoiceIDInfo's invoiceDate, when given with the number.
            invoice_date=local.invoice_date.date() if local.invoice_date and local.invoice_id else None,
            type_known=local.type_is_known(),
            **_facts(local),
        )

    def push_reply(self, code: int, text: str, detail: str, now: datetime) -> PushReply:
        payload = f"{int(now.timestamp())}.{token_generator.token_hex(6)}@portalhub.receiver"
        return PushReply(render_response(code, text, payload, now, detail=detail), "text/xml; charset=UTF-8")


def _cxml(push: Push) -> CxmlPush:
    if not isinstance(push, CxmlPush):
        raise TypeError(f"not a cXML push: {type(push).__name__}")
    return push
