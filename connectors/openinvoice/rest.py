"""OpenInvoice over REST (refs/PORTALS.md): HTTPS POST of the PIDX document to
`…/docp/supply-chain/v1/invoices/invoice.submit` with a client certificate (mutual TLS) and a `mac`
header, base64 of the HMAC-SHA256 of the body under the profile's mac key; status by OData-style
listing, `$filter` on lastActionDate, `$top`/`$skip` paging.

The client certificate is the profile's, not the hub's: httpx fixes certificates per client, so each
profile gets a client of its own (the hub's shared client has none). It is rebuilt when the
certificate files change on disk, so a renewed certificate needs no restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx

from connectors.base import OutboundDocument, Receipt
from connectors.http import retry_after_seconds, send_read, send_submission
from connectors.openinvoice.outcome import receipt_or_raise, tls_refusal, unreadable_answer
from connectors.openinvoice.settings import OpenInvoiceConnection, RestSettings, local_path
from hub.errors import (
    ConfigError,
    InDoubtError,
    MappingError,
    PortalAuthError,
    PortalError,
    TransientPortalError,
)
from mappings.pidx_response import parse_invoice_response


def mac(key: str, body: bytes) -> str:
    """The `mac` header: base64 of HMAC-SHA256(key, body), the key taken as UTF-8."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def odata_string(value: str) -> str:
    """An OData string literal: single quotes, inner quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def odata_instant(value: datetime) -> str:
    """An OData date-time literal in UTC (`2026-11-20T15:00:00Z`)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _no_prompt() -> str:
    # Without a passphrase callback, OpenSSL would prompt on the terminal for an encrypted key and a
    # daemon would hang; an empty answer makes loading fail with an error instead.
    return ""


class RestGateway:
    """One profile's REST API: its own TLS client (the profile's certificate), submission and listing."""

    def __init__(
        self,
        connection: OpenInvoiceConnection,
        folder: Path | None,
        secret: Callable[[str], str],
        sleep: Callable[[float], None],
        now: Callable[[], datetime],
    ):
        assert connection.rest is not None
        self.connection = connection
        self.rest: RestSettings = connection.rest
        self.folder = folder
        self.secret = secret
        self.sleep = sleep
        self.now = now
        self._client: httpx.Client | None = None
        self._stamp: tuple[float, ...] = ()
        self._lock = threading.Lock()

    # --- TLS ------------------------------------------------------------------------------------------
    def _files(self) -> tuple[Path, Path, Path | None]:
        rest = self.rest
        return (
            local_path(rest.client_cert_file, self.folder),
            local_path(rest.client_key_file, self.folder),
            local_path(rest.ca_file, self.folder) if rest.ca_file else None,
        )

    def _ssl_context(self, cert: Path, key: Path, ca: Path | None) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(cafile=str(ca) if ca else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the portal CA file {ca} (rest.ca_file): {exc}") from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        passphrase = self.rest.client_key_passphrase
        try:
            context.load_cert_chain(cert, key, password=self.secret(passphrase) if passphrase else _no_prompt)
        except FileNotFoundError as exc:
            raise ConfigError(f"client certificate or key file missing: {exc.filename}") from exc
        except (OSError, ssl.SSLError) as exc:
            # Never the passphrase itself: only which files and what to check.
            raise ConfigError(
                f"cannot load the client certificate {cert} with its key {key}: wrong or missing "
                f"rest.client_key_passphrase, or the key does not belong to the certificate ({type(exc).__name__})"
            ) from None
        return context

    def _http(self) -> httpx.Client:
        files = self._files()
        try:
            stamp = tuple(path.stat().st_mtime for path in files if path is not None)
        except OSError as exc:
            raise ConfigError(f"cannot read {exc.filename} (OpenInvoice rest settings)") from exc
        with self._lock:
            if self._client is None or stamp != self._stamp:
                if self._client is not None:
                    self._client.close()
                timeout = self.connection.timeout_seconds
                self._client = httpx.Client(
                    verify=self._ssl_context(*files),
                    timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
                )
                self._stamp = stamp
            return self._client

    @staticmethod
    def _refused(exc: PortalError | InDoubtError) -> None:
        reason = tls_refusal(exc)
        if reason is not None:
            raise PortalAuthError(
                f"OpenInvoice refused the TLS handshake ({reason}): check rest.client_cert_file, "
                "rest.client_key_file and rest.ca_file"
            ) from exc

    # --- submission -----------------------------------------------------------------------------------
    def submit(self, document: OutboundDocument) -> Receipt:
        """POST the document with its mac; the InvoiceResponse (or, lacking one, the HTTP status) decides."""
        url = self.rest.url(self.rest.submit_path)
        headers = {
            "Content-Type": document.content_type,
            "Accept": "application/xml",
            "mac": mac(self.secret(self.rest.mac_key), document.body),
        }
        client = self._http()
        try:
            response = send_submission(client, "POST", url, content=document.body, headers=headers)
        except (TransientPortalError, InDoubtError) as exc:
            self._refused(exc)
            raise
        body = response.text
        try:
            answer = parse_invoice_response(response.content)
        except MappingError as exc:
            unreadable_answer(
                response.status_code,
                body[:300],
                str(exc),
                retry_after=retry_after_seconds(response, self.now()),
            )
        location = response.headers.get("Location", "")
        return receipt_or_raise(
            answer,
            portal_invoice_id=location.rstrip("/").rsplit("/", 1)[-1] or None,
            http_status=response.status_code,
            body=body,
        )

    # --- status ---------------------------------------------------------------------------------------
    def _list(self, params: dict[str, str]) -> list[dict[str, Any]]:
        url = self.rest.url(self.rest.invoices_path)
        client = self._http()
        try:
            response = send_read(
                client, "GET", url, params=params, sleep=self.sleep, headers={"Accept": "application/json"}
            )
        except TransientPortalError as exc:
            self._refused(exc)
            raise
        if response.status_code != 200:
            _status_error(response.status_code, url)
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TransientPortalError(f"OpenInvoice listing is not JSON: {exc}") from exc
        records = payload.get("value") if isinstance(payload, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise TransientPortalError("OpenInvoice listing has no `value` array of invoices")
        return records

    def lookup(self, invoice_number: str) -> dict[str, Any] | None:
        """The newest record under this number, or None."""
        # Newest first: a cancelled invoice's number can be used again; the live one is the one to report.
        records = self._list(
            {
                "$filter": f"invoiceNumber eq {odata_string(invoice_number)}",
                "$orderby": "lastActionDate desc",
                "$top": "1",
            }
        )
        return records[0] if records else None

    def changes(self, since: datetime | None, skip: int, top: int) -> tuple[list[dict[str, Any]], bool]:
        """One page of records whose last action is at or after `since`, oldest first."""
        params = {"$orderby": "lastActionDate asc,invoiceId asc", "$top": str(top), "$skip": str(skip)}
        if since is not None:
            params["$filter"] = f"lastActionDate ge {odata_instant(since)}"
        records = self._list(params)
        return records, len(records) >= top

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _status_error(status: int, url: str) -> NoReturn:
    if status in (401, 403):
        raise PortalAuthError(f"OpenInvoice listing refused access (HTTP {status})", http_status=status)
    if status in (400, 404, 405):
        raise ConfigError(f"OpenInvoice listing answered HTTP {status} at {url}: check rest.base_url")
    raise TransientPortalError(f"OpenInvoice listing answered HTTP {status}", http_status=status)
