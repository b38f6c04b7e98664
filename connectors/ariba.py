"""SAP Ariba Network: cXML invoices POSTed to the network; statuses pushed back as StatusUpdateRequests
(to the hub's receiver, read by connectors/cxml_push.py), or polled from the network's status listing.

Header conventions (refs/PORTALS.md, "SAP Ariba Network"): `From` is the supplier's Ariba Network ID
(domain NetworkID), `To` the buyer's, `Sender` the supplier's NetworkID with the shared secret;
test accounts (IDs ending in `-T`) only take `deploymentMode="test"`. One network URL serves every
buyer: the `To` credential routes the invoice.

Submission outcomes: the cXML Status decides (mappings/ariba_vocabulary.py). 2xx accepted; 4xx
permanent with the network's words and code (`INV-98: ...`); 401/403 the account's problem; 409/429
and 5xx (560: temporary server error) not processed, retried. `INVOICE_DUPLICATE` is a
PermanentPortalError with `duplicate=True`: after the hub's own unanswered attempt, the hub records
it as "already received" (hub/pipeline/submit.py).

Statuses, per profile (`connection.status_mode`): `push` (default: the network pushes to the
receiver; `connection.inbound` names the credential it pushes with), `poll` (the status listing,
cursor = the newest `updatedAt` seen, changes only) or `both` (each change is recorded once).
The listing also serves `lookup`, so an IN_DOUBT send is reconciled before any resend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, NoReturn

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import PollResult, PortalRecord, Receipt, redact
from connectors.cxml import CXML_HELP, CredentialSettings, CxmlConnection, CxmlConnector
from connectors.cxml_push import CxmlPushes
from connectors.http import retry_after_seconds, send_read
from connectors.polling import CannotPage, poll_changes
from connectors.settings import TimeZoneName
from hub.errors import (
    ConfigError,
    InDoubtError,
    MappingError,
    PermanentPortalError,
    PortalAuthError,
    TransientPortalError,
)
from hub.model import PortalStatusUpdate, RejectionCategory
from hub.profile import PortalProfile, Strict
from hub.secrets import SecretRef
from mappings.ariba_vocabulary import (
    Outcome,
    classify_response,
    from_status_request,
    parse_listing_record,
    with_document_id,
)
from mappings.cxml_response import StatusUpdateRequest, parse_response

NETWORK_ID = "networkid"
_GATEWAY = frozenset({429, 502, 503, 504})


class AribaInbound(Strict):
    """How the network authenticates the StatusUpdateRequests it pushes for this profile."""

    sender: CredentialSettings  # the Sender credential the network pushes with
    shared_secret: SecretRef | None = None  # defaults to the profile's shared_secret
    #: The zone a pushed timestamp written without one is read in (an IANA name, e.g. America/Chicago).
    timezone: TimeZoneName = "UTC"


class AribaListing(Strict):
    """The network's invoice status listing for suppliers (shape *unverified*: keep it configurable).

    `GET <url>?buyer=<ANID>&updatedFrom=<ISO>&afterId=<id>&limit=<n>` or `?invoiceNumber=<n>`, with
    the `apiKey` and `X-ARIBA-NETWORK-ID` headers; answers `{"invoices": [...]}` oldest change first."""

    url: str = Field(pattern=r"^https?://")
    api_key: SecretRef
    page_size: int = Field(default=100, ge=1, le=500)


class AribaConnection(CxmlConnection):
    status_mode: Literal["push", "poll", "both"] = "push"
    inbound: AribaInbound | None = None
    listing: AribaListing | None = None

    @model_validator(mode="after")
    def _ariba_conventions(self) -> AribaConnection:
        sender = self.sender or self.from_
        if sender.domain.lower() != NETWORK_ID:
            raise ValueError(
                f"the Sender credential must be the supplier's Ariba Network ID (domain NetworkID), "
                f"not {sender.domain}"
            )
        test_ids = [c.identity for c in (self.from_, sender) if c.identity.upper().endswith("-T")]
        if test_ids and self.deployment_mode != "test":
            raise ValueError(f"{test_ids[0]} is an Ariba test account: set deployment_mode: test")
        if self.status_mode in ("push", "both") and self.inbound is None:
            raise ValueError(
                f"status_mode {self.status_mode} needs `inbound:` (the credential the network pushes with)"
            )
        if self.status_mode in ("poll", "both") and self.listing is None:
            raise ValueError(
                f"status_mode {self.status_mode} needs `listing:` (the network's status listing)"
            )
        return self


class InboundCredential(BaseModel):
    """Who may push statuses for one profile (connectors/cxml_push.py checks a push against it)."""

    model_config = ConfigDict(frozen=True)
    domain: str
    identity: str
    shared_secret: str  # a reference, resolved by the receiver when it checks a request
    buyer_identity: str | None  # the `From` identity that names this profile's buyer
    timezone: str = "UTC"  # where a pushed timestamp without a zone was written


class AribaConnector(CxmlPushes, CxmlConnector):
    """SAP Ariba Network: cXML invoices POSTed to the network; statuses pushed to the hub's receiver
    (StatusUpdateRequests) or polled from the network's status listing."""

    name = "ariba"
    connection_model = AribaConnection
    connection_help = {
        **CXML_HELP,
        "status_mode": ("How invoice statuses arrive: pushed by the network, polled, or both.", "push"),
        "inbound": (
            "The credential the network pushes status updates with.",
            {"sender": {"domain": "NetworkID", "identity": "AN01000000002"}},
        ),
        "listing": (
            "The network's invoice status listing (for status_mode poll or both).",
            {"url": "https://listing.example/invoices", "api_key": "secret:ariba_listing_key"},
        ),
        "url": ("The address of the listing.", "https://listing.example/invoices"),
        "api_key": ("The listing's API key, by reference only.", "secret:ariba_listing_key"),
    }
    supports_poll = True
    supports_lookup = True
    supports_cancel = True
    refuses_reused_number = True  # INVOICE_DUPLICATE

    def can_lookup(self, profile: PortalProfile) -> bool:
        settings: AribaConnection = self.settings(profile)
        return settings.listing is not None

    # --- submission: CxmlConnector.submit posts the document; this reads the network's answer -------------
    def _classify(self, response: httpx.Response, secrets: tuple[str, ...] = ()) -> Receipt:
        http_status = response.status_code
        # Parse errors quote the document back: its SharedSecret must not be kept.
        body = redact(response.text, secrets)
        try:
            status = parse_response(response.content)
        except MappingError as exc:
            self._unreadable(response, body, exc)
        words = redact(status.words, secrets)
        verdict = classify_response(status)
        facts: dict[str, Any] = {
            # The network's own code says more to a collector than the cXML status code.
            "portal_code": verdict.code or str(status.code),
            "portal_text": words,
            "http_status": http_status,
            "response_body": body,
        }
        if verdict.outcome is Outcome.ACCEPTED:
            return Receipt(portal_invoice_id=None, **facts)
        message = f"Ariba {status.code}: {words}"
        if verdict.outcome is Outcome.AUTH:
            raise PortalAuthError(message, **facts)
        if verdict.outcome is Outcome.TRANSIENT:
            raise TransientPortalError(
                message, retry_after=retry_after_seconds(response, self.context.now()), **facts
            )
        assert verdict.category is not None
        raise PermanentPortalError(message, category=verdict.category, duplicate=verdict.duplicate, **facts)

    def _unreadable(self, response: httpx.Response, body: str, exc: Exception) -> NoReturn:
        """No cXML in the answer: the HTTP status says what the network can have done."""
        http_status = response.status_code
        snippet = body[:300]
        if http_status in _GATEWAY or http_status >= 500:
            raise TransientPortalError(
                f"Ariba Network unavailable (HTTP {http_status})",
                retry_after=retry_after_seconds(response, self.context.now()),
                http_status=http_status,
                response_body=snippet,
            )
        if http_status in (401, 403):
            raise PortalAuthError(
                f"Ariba Network refused access (HTTP {http_status})",
                http_status=http_status,
                response_body=snippet,
            )
        if 400 <= http_status < 500:
            raise PermanentPortalError(
                f"Ariba Network answered HTTP {http_status} without a cXML status (check invoice_url)",
                category=RejectionCategory.CONFIG if http_status in (404, 405) else RejectionCategory.OTHER,
                http_status=http_status,
                response_body=snippet,
            )
        # A 2xx we cannot read: the network may have queued the invoice.
        raise InDoubtError(
            f"Ariba Network answered HTTP {http_status} with an unreadable body: {exc}",
            response_body=snippet,
            http_status=http_status,
        )

    # --- pushed statuses: connectors/cxml_push.py reads and authenticates them with these -----------------
    def inbound(self, profile: PortalProfile) -> InboundCredential | None:
        """The credential the network pushes this profile's statuses with; None when push is off."""
        settings: AribaConnection = self.settings(profile)
        if settings.status_mode == "poll" or settings.inbound is None:
            return None
        return InboundCredential(
            domain=settings.inbound.sender.domain,
            identity=settings.inbound.sender.identity,
            shared_secret=settings.inbound.shared_secret or settings.shared_secret,
            buyer_identity=settings.to.identity,
            timezone=settings.inbound.timezone,
        )

    def status_from_push(self, request: StatusUpdateRequest, received_at: datetime) -> PortalStatusUpdate:
        """A pushed StatusUpdateRequest in the same terms as a polled status (so `both` records once)."""
        return from_status_request(request, received_at)

    # --- status listing -----------------------------------------------------------------------------------
    def _listing(self, profile: PortalProfile) -> tuple[AribaConnection, AribaListing]:
        settings: AribaConnection = self.settings(profile)
        if settings.listing is None:
            raise ConfigError(
                f"profile {profile.id} has no connection.listing: the Ariba status listing is needed to "
                "poll and to reconcile an unanswered send"
            )
        return settings, settings.listing

    def _get(self, settings: AribaConnection, listing: AribaListing, params: dict[str, Any]) -> list[Any]:
        response = send_read(
            self.context.http,
            "GET",
            listing.url,
            params=params,
            sleep=self.context.sleep,
            timeout=settings.timeout_seconds,
            headers={
                "apiKey": self.secret(listing.api_key),
                "X-ARIBA-NETWORK-ID": (settings.sender or settings.from_).identity,
                "Accept": "application/json",
            },
        )
        if response.status_code in (401, 403):
            raise PortalAuthError(
                f"Ariba status listing refused access (HTTP {response.status_code})",
                http_status=response.status_code,
            )
        if response.status_code != 200:
            raise ConfigError(
                f"Ariba status listing answered HTTP {response.status_code} at {listing.url}: "
                "check connection.listing"
            )
        try:
            records = response.json().get("invoices")
        except (json.JSONDecodeError, AttributeError) as exc:
            raise TransientPortalError(f"Ariba status listing answered with malformed JSON: {exc}") from exc
        if not isinstance(records, list):
            raise TransientPortalError("Ariba status listing answered without a list of invoices")
        return records

    def lookup(self, profile: PortalProfile, invoice_number: str) -> PortalRecord | None:
        settings, listing = self._listing(profile)
        records = self._get(
            settings, listing, {"buyer": settings.to.identity, "invoiceNumber": invoice_number}
        )
        # The newest record: a number can be reused after a rejection, and the live invoice is what counts.
        for record in reversed(records):
            update = parse_listing_record(record)
            if update.invoice_number == invoice_number:
                return with_document_id(update, record)
        return None

    def poll(self, profile: PortalProfile, cursor: str | None) -> PollResult:
        settings: AribaConnection = self.settings(profile)
        if settings.status_mode == "push":
            # Statuses come to the receiver; asking the network as well would only cost requests.
            return PollResult(updates=[], next_cursor=cursor, requests=0)
        settings, listing = self._listing(profile)

        def pages(since: datetime | None) -> Iterator[list[Any]]:
            # Inclusive of the watermark: a change at that very second is read again (and deduplicated)
            # rather than lost. Within one poll, paging is by (updatedAt, documentId), never by offset,
            # so a record that changes while we page moves forward instead of shifting another one out
            # of view.
            params: dict[str, Any] = {"buyer": settings.to.identity, "limit": listing.page_size}
            if since is not None:
                params["updatedFrom"] = since.isoformat()
            while True:
                page = self._get(settings, listing, params)
                yield page
                if len(page) < listing.page_size:
                    return
                last = page[-1] if isinstance(page[-1], dict) else {}
                keyset = {"updatedFrom": last.get("updatedAt"), "afterId": last.get("documentId")}
                if None in keyset.values() or all(params.get(k) == v for k, v in keyset.items()):
                    raise CannotPage("the listing's last record has no updatedAt/documentId to page from")
                params = {**params, **keyset}

        return poll_changes(pages, parse_listing_record, cursor, id_key="documentId", pages_can_shift=False)
