"""What an OpenInvoice answer means for the invoice, in the hub's error tree; shared by both transports.

- An InvoiceResponse decides when there is one, whatever the HTTP status: Accept or Pending -> Receipt;
  Reject -> PermanentPortalError with the buyer's words and a category (duplicate when they say so);
  Reject with `Routing Error` -> ConfigError: the profile's seller or buyer identifier is wrong, so no
  invoice of the profile can pass until it is fixed (the hub holds them, it does not reject them).
- No InvoiceResponse: the HTTP status decides what the portal can have done (as for Coupa): 401/403
  access; 429 and gateway 502/503/504 not processed; 404/405 the profile's address; other 4xx refused;
  2xx or 5xx with an unreadable body may have created the invoice -> IN_DOUBT.
- A TLS handshake the portal refused because of our client certificate is PortalAuthError: the server
  checks the certificate before it reads a byte of the request, so nothing was processed (with TLS 1.3
  the client only learns this when it reads the answer, which httpx reports as a read error).
"""

from __future__ import annotations

import ssl
from typing import Any, NoReturn

from connectors.base import Receipt
from hub.errors import (
    ConfigError,
    InDoubtError,
    PermanentPortalError,
    PortalAuthError,
    TransientPortalError,
)
from hub.model import RejectionCategory
from mappings.pidx_response import InvoiceResponse, ReasonCode, StatusCode, category_for

_GATEWAY = frozenset({502, 503, 504})
#: OpenSSL reasons meaning "the other side refused a certificate", never "the connection broke".
_CERTIFICATE_REFUSALS = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "CERTIFICATE_VERIFY_FAILED",
    }
)


def _same(a: str | None, b: str) -> bool:
    return " ".join((a or "").split()).lower() == b.lower()


def receipt_or_raise(
    response: InvoiceResponse,
    *,
    portal_invoice_id: str | None,
    http_status: int | None,
    body: str,
) -> Receipt:
    """A Receipt when the portal has the invoice; otherwise the error that says what to do next."""
    words = response.words or None
    if response.received:
        return Receipt(
            portal_invoice_id=portal_invoice_id,
            http_status=http_status,
            portal_code=response.code,
            portal_text=words,
            response_body=body,
        )
    text = words or response.code
    if _same(response.status, StatusCode.REJECT):
        if _same(response.reason_code, ReasonCode.ROUTING_ERROR):
            raise ConfigError(
                f"OpenInvoice could not route the invoice ({text}); check connection.seller and "
                "connection.buyer in the profile"
            )
        category = category_for(response.reason_code, words)
        raise PermanentPortalError(
            f"OpenInvoice {response.code}: {text}",
            category=category,
            duplicate=category is RejectionCategory.DUPLICATE,
            portal_code=response.code,
            portal_text=text,
            http_status=http_status,
            response_body=body,
        )
    # A status outside the vocabulary: the portal answered, but whether it kept the invoice is unknown.
    raise InDoubtError(
        f"OpenInvoice answered with status {response.status!r}, neither accepted nor rejected",
        response_body=body,
        http_status=http_status,
    )


def unreadable_answer(
    http_status: int, snippet: str, reason: str, *, retry_after: float | None = None
) -> NoReturn:
    """A submission answered without an InvoiceResponse: decide by the HTTP status."""
    facts: dict[str, Any] = {"http_status": http_status, "response_body": snippet}
    if http_status in (401, 403):
        raise PortalAuthError(f"OpenInvoice refused access (HTTP {http_status}): {snippet[:200]}", **facts)
    if http_status == 429 or http_status in _GATEWAY:
        raise TransientPortalError(
            f"OpenInvoice unavailable (HTTP {http_status})", retry_after=retry_after, **facts
        )
    if http_status in (404, 405):
        raise ConfigError(f"OpenInvoice answered HTTP {http_status}: check the profile's address")
    if 400 <= http_status < 500:
        raise PermanentPortalError(
            f"OpenInvoice answered HTTP {http_status} without an InvoiceResponse: {snippet[:200]}",
            category=RejectionCategory.OTHER,
            portal_text=snippet[:500] or None,
            **facts,
        )
    raise InDoubtError(
        f"OpenInvoice answered HTTP {http_status} with an unreadable body ({reason})",
        response_body=snippet,
        http_status=http_status,
    )


def tls_refusal(error: BaseException) -> str | None:
    """The TLS reason when `error` (or what caused it) is a refused certificate; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            reason = str(getattr(current, "reason", "") or "")
            if reason in _CERTIFICATE_REFUSALS or isinstance(current, ssl.SSLCertVerificationError):
                return reason or str(current)
        current = current.__cause__ or current.__context__
    return None
