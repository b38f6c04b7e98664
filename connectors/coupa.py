"""Coupa: cXML invoices POSTed to the buyer's instance; status from the Coupa Supplier Portal REST API.

Submission outcomes (refs/PORTALS.md, "Coupa"): the cXML Status code decides, not the HTTP code.
200 accepted (the text carries Coupa's invoice id); 401/403 credentials or enablement; 406/417/450
permanent with Coupa's words; 500 "Server could not create invoice." permanent (invalid PO, UOM,
PO line, missing tags); other 5xx may have created the invoice, so the attempt is IN_DOUBT and is
reconciled by `lookup` before any resend; 429 and gateway 502/503/504 were not processed: transient.

Polling asks only for changes: `updated-at[gt]=<watermark>` with offset paging, so a poll costs
pages of changes, never one request per open invoice.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import Field

from connectors.base import PollResult, PortalRecord, Receipt, redact
from connectors.cxml import CXML_HELP, CxmlConnection, CxmlConnector
from connectors.http import retry_after_seconds, send_read
from connectors.polling import offset_pages, poll_changes
from connectors.settings import OverlapSeconds
from hub.errors import (
    ConfigError,
    InDoubtError,
    MappingError,
    PermanentPortalError,
    PortalAuthError,
    TransientPortalError,
)
from hub.model import RejectionCategory
from hub.profile import PortalProfile, Strict
from hub.secrets import SecretRef
from mappings.coupa_api_xml import records_from_xml
from mappings.coupa_vocabulary import API_FIELDS, Outcome, classify_status, parse_invoice_record
from mappings.cxml_response import parse_response

_INVOICE_ID = re.compile(r"invoice id:\s*(\S+)", re.IGNORECASE)
_GATEWAY = frozenset({502, 503, 504})


class CoupaApiSettings(Strict):
    """The Coupa Supplier Portal REST API (OAuth 2.0 client credentials)."""

    invoices_url: str = Field(pattern=r"^https?://")  # e.g. https://supplier.coupahost.com/api/v1/invoices
    token_url: str = Field(pattern=r"^https?://")
    client_id: str
    client_secret: SecretRef
    scope: str = "core.invoice.read"
    page_size: int = Field(default=50, ge=1, le=50)
    overlap_seconds: OverlapSeconds = 60
    #: Extra query parameters for the invoices listing, e.g. {"customer[name]": "ACME Manufacturing"}. The
    #: supplier API serves every customer of the supplier: without a filter, each profile's poll reads
    #: every customer's invoices (and the hub discards the others').
    filters: dict[str, str] = Field(default_factory=dict)


class CoupaConnection(CxmlConnection):
    api: CoupaApiSettings | None = None  # without it the profile submits but neither polls nor reconciles


class _Token:
    def __init__(self, value: str, expires_at: float):
        self.value = value
        self.expires_at = expires_at


class CoupaConnector(CxmlConnector):
    """Coupa: cXML invoices POSTed to the buyer's instance; statuses from the Coupa Supplier Portal API."""

    name = "coupa"
    connection_model = CoupaConnection
    connection_help = {
        **CXML_HELP,
        "api": (
            "The Coupa Supplier Portal API, for statuses and reconciliation (without it: submit only).",
            {
                "invoices_url": "https://acme.coupahost.com/api/v1/invoices",
                "token_url": "https://acme.coupahost.com/oauth2/token",
                "client_id": "portalhub",
                "client_secret": "secret:coupa_api_client_secret",
            },
        ),
        "invoices_url": ("The API's invoice listing.", "https://acme.coupahost.com/api/v1/invoices"),
        "token_url": (
            "The OAuth 2.0 token endpoint (client credentials).",
            "https://acme.coupahost.com/oauth2/token",
        ),
        "client_id": ("The OAuth 2.0 client id.", "portalhub"),
        "client_secret": (
            "The OAuth 2.0 client secret, by reference only.",
            "secret:coupa_api_client_secret",
        ),
        "scope": ("The OAuth 2.0 scope asked for.", "core.invoice.read"),
        "filters": (
            "Extra query parameters of the invoice listing.",
            {"customer[name]": "ACME Manufacturing"},
        ),
    }
    supports_poll = True
    supports_lookup = True
    supports_cancel = True
    renumber_after_dispute = True
    refuses_reused_number = True  # 417 "Invalid attributes in document." (number already used)

    @classmethod
    def profile_warnings(cls, connection: dict[str, Any]) -> list[str]:
        if connection.get("api"):
            return []
        return [
            "connection has no `api`: Coupa statuses cannot be read (no approval, dispute or payment is "
            "seen) and an unanswered send cannot be looked up: it is resent under the same number, and "
            "Coupa's 'number already used' answer is recorded as presumed received, for a person to "
            "confirm (docs/rules.md, 'Unanswered sends'). Add connection.api (Coupa Supplier Portal API)."
        ]

    def can_lookup(self, profile: PortalProfile) -> bool:
        settings: CoupaConnection = self.settings(profile)
        return settings.api is not None

    def __init__(self, context: Any):
        super().__init__(context)
        # A cache, not state: losing it costs one token request.
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._token_lock = threading.Lock()

    # --- submission: CxmlConnector.submit posts the document; this reads Coupa's answer --------------------
    def _classify(self, response: httpx.Response, secrets: tuple[str, ...] = ()) -> Receipt:
        http_status = response.status_code
        # A portal may quote the document back (parse errors do): its SharedSecret must not be kept.
        body = redact(response.text, secrets)
        if http_status == 429:
            raise TransientPortalError(
                "Coupa is throttling requests (HTTP 429)",
                retry_after=retry_after_seconds(response, self.context.now()),
                http_status=http_status,
            )
        try:
            status = parse_response(response.content)
        except MappingError as exc:
            self._unreadable(http_status, body, exc)
        words = redact(status.words, secrets)
        facts: dict[str, Any] = {
            "portal_code": str(status.code),
            "portal_text": words,
            "http_status": http_status,
            "response_body": body,
        }
        verdict = classify_status(status)
        if verdict.outcome is Outcome.ACCEPTED:
            found = _INVOICE_ID.search(words)
            return Receipt(portal_invoice_id=found.group(1) if found else None, **facts)
        message = f"Coupa {status.code}: {words}"
        if verdict.outcome is Outcome.AUTH:
            raise PortalAuthError(message, **facts)
        if verdict.outcome is Outcome.TRANSIENT:
            raise TransientPortalError(
                message, retry_after=retry_after_seconds(response, self.context.now()), **facts
            )
        if verdict.outcome is Outcome.IN_DOUBT:
            raise InDoubtError(message, response_body=body, http_status=http_status)
        assert verdict.category is not None
        raise PermanentPortalError(message, category=verdict.category, duplicate=verdict.duplicate, **facts)

    @staticmethod
    def _unreadable(http_status: int, body: str, exc: Exception) -> None:
        """No cXML in the answer: decide by the HTTP status what the portal can have done."""
        snippet = body[:300]
        if http_status in _GATEWAY:
            raise TransientPortalError(
                f"Coupa unavailable (HTTP {http_status})", http_status=http_status, response_body=snippet
            )
        if http_status in (401, 403):
            raise PortalAuthError(
                f"Coupa refused access (HTTP {http_status})", http_status=http_status, response_body=snippet
            )
        if 400 <= http_status < 500:
            category = RejectionCategory.CONFIG if http_status in (404, 405) else RejectionCategory.OTHER
            raise PermanentPortalError(
                f"Coupa answered HTTP {http_status} without a cXML status (check invoice_url)",
                category=category,
                http_status=http_status,
                response_body=snippet,
            )
        # 2xx or 5xx with a body we cannot read: the invoice may have been created.
        raise InDoubtError(
            f"Coupa answered HTTP {http_status} with an unreadable body: {exc}",
            response_body=snippet,
            http_status=http_status,
        )

    # --- status API ---------------------------------------------------------------------------------------
    def _api(self, profile: PortalProfile) -> CoupaApiSettings:
        settings: CoupaConnection = self.settings(profile)
        if settings.api is None:
            raise ConfigError(
                f"profile {profile.id} has no connection.api section: Coupa status cannot be read"
            )
        return settings.api

    def _token(self, api: CoupaApiSettings, refresh: bool = False) -> str:
        key = (api.token_url, api.client_id)
        with self._token_lock:
            cached = self._tokens.get(key)
            if cached is not None and not refresh and cached.expires_at > time.monotonic() + 30:
                return cached.value
            response = send_read(
                self.context.http,
                "POST",
                api.token_url,
                sleep=self.context.sleep,
                data={
                    "grant_type": "client_credentials",
                    "client_id": api.client_id,
                    "client_secret": self.secret(api.client_secret),
                    "scope": api.scope,
                },
            )
            if response.status_code in (400, 401, 403):
                raise PortalAuthError(
                    f"Coupa API refused the client credentials (HTTP {response.status_code})"
                )
            try:
                payload = response.json()
                token = _Token(
                    payload["access_token"], time.monotonic() + float(payload.get("expires_in", 3600))
                )
            except (ValueError, KeyError) as exc:
                raise TransientPortalError(f"Coupa token endpoint answered without a token: {exc}") from exc
            self._tokens[key] = token
            return token.value

    def _get(self, api: CoupaApiSettings, params: dict[str, Any]) -> list[dict[str, Any]]:
        for refresh in (False, True):
            response = send_read(
                self.context.http,
                "GET",
                api.invoices_url,
                params=params,
                sleep=self.context.sleep,
                headers={
                    "Authorization": f"Bearer {self._token(api, refresh)}",
                    "Accept": "application/json",
                },
            )
            if response.status_code != 401:
                break
        if response.status_code in (401, 403):
            raise PortalAuthError(
                f"Coupa API refused access (HTTP {response.status_code})", http_status=response.status_code
            )
        if response.status_code in (400, 404, 405):
            raise ConfigError(
                f"Coupa API answered HTTP {response.status_code} at {api.invoices_url}: check connection.api"
            )
        if response.status_code != 200:
            raise TransientPortalError(
                f"Coupa API answered HTTP {response.status_code}", http_status=response.status_code
            )
        records = _records(response)
        if not isinstance(records, list):
            raise TransientPortalError("Coupa API answered with something other than a list of invoices")
        return records

    def lookup(self, profile: PortalProfile, invoice_number: str) -> PortalRecord | None:
        api = self._api(profile)
        # Newest first: a voided invoice's number can be reused; the live invoice is the one to report.
        params = {
            **api.filters,
            "invoice-number": invoice_number,
            "fields": API_FIELDS,
            "limit": 1,
            "order_by": "id",
            "dir": "desc",
        }
        records = self._get(api, params)
        return parse_invoice_record(records[0]) if records else None

    def poll(self, profile: PortalProfile, cursor: str | None) -> PollResult:
        api = self._api(profile)
        base: dict[str, Any] = {
            **api.filters,
            "fields": API_FIELDS,
            "limit": api.page_size,
            "order_by": "updated-at",
            "dir": "asc",
        }

        def pages(since: datetime | None) -> Iterator[Sequence[Any]]:
            params = base if since is None else {**base, "updated-at[gt]": since.isoformat()}

            def fetch(offset: int) -> tuple[list[dict[str, Any]], bool]:
                page = self._get(api, {**params, "offset": offset})
                return page, len(page) >= api.page_size

            return offset_pages(fetch)

        return poll_changes(
            pages,
            parse_invoice_record,
            cursor,
            id_key="id",
            overlap=timedelta(seconds=api.overlap_seconds),
        )


def _records(response: httpx.Response) -> Any:
    """The answer's records: JSON as asked, or Coupa's default XML when the Accept header was not honoured."""
    if "xml" in response.headers.get("content-type", "").lower():
        try:
            return records_from_xml(response.content)
        except MappingError as exc:
            raise TransientPortalError(f"Coupa API answered with unreadable XML: {exc}") from exc
    try:
        return response.json()
    except json.JSONDecodeError as exc:
        raise TransientPortalError(f"Coupa API answered with malformed JSON: {exc}") from exc
