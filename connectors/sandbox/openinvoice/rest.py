"""The REST face of the OpenInvoice sandbox, over mutual TLS (refs/PORTALS.md, "OpenInvoice").

- TLS: the server demands a client certificate from the sandbox's CA (`certs.server_context`); a
  connection without one, or with one from another CA, never gets past the handshake.
- The certificate's CN names the supplier account; the `mac` header must be base64 of
  HMAC-SHA256(account mac key, body), else 401.
- `POST …/invoices/invoice.submit`: the PIDX invoice (or multipart/related with its files), answered
  with an InvoiceResponse: 200 (+ Location of the portal's record), 409 duplicate, 422 refused.
- `GET …/invoices`: OData-style `$filter` (`field eq|ne|gt|ge|lt|le value`, joined by `and`),
  `$orderby`, `$top`, `$skip`; JSON `{"value": [...]}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import ssl
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from connectors.sandbox.openinvoice.certs import peer_common_name
from connectors.sandbox.openinvoice.documents import DocumentError, unpack
from connectors.sandbox.openinvoice.portal import OpenInvoicePortal
from connectors.sandbox.openinvoice.response import StatusCode, render_response
from connectors.sandbox.server import FaultPlan, Handler, Reply, Request, SandboxServer

SUBMIT_PATH = "/docp/supply-chain/v1/invoices/invoice.submit"
INVOICES_PATH = "/docp/supply-chain/v1/invoices"
MAX_TOP = 1000
_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|\S+)\s*$", re.IGNORECASE)
_ORDER = re.compile(r"^\s*(\w+)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)
_FIELDS = frozenset({"invoiceId", "invoiceNumber", "status", "lastActionDate", "buyer"})

#: The client certificate of the connection this thread serves (one thread per connection).
_PEER = threading.local()


class PeerAwareServer(SandboxServer):
    """A SandboxServer whose handler knows the TLS client certificate of the connection it serves."""

    def __init__(self, handler: Handler, **options: Any):
        super().__init__(handler, **options)
        base: type[BaseHTTPRequestHandler] = self._httpd.RequestHandlerClass  # type: ignore[assignment]

        class _PeerHandler(base):  # type: ignore[valid-type,misc]
            def setup(self) -> None:
                super().setup()
                connection = self.connection
                _PEER.certificate = (
                    connection.getpeercert() if isinstance(connection, ssl.SSLSocket) else None
                )

        self._httpd.RequestHandlerClass = _PeerHandler


def _json(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(payload).encode(), "application/json")


def _compare(left: Any, op: str, right: Any) -> bool:
    return {
        "eq": left == right,
        "ne": left != right,
        "gt": left > right,
        "ge": left >= right,
        "lt": left < right,
        "le": left <= right,
    }[op]


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text} has no time zone")
    return value


def filter_rows(rows: list[dict[str, Any]], expression: str) -> list[dict[str, Any]]:
    """Rows meeting an OData-style `$filter`; ValueError when the expression is outside the subset."""
    for clause in re.split(r"\s+and\s+", expression.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if match is None or match.group(1) not in _FIELDS:
            raise ValueError(f"unsupported $filter clause {clause!r}")
        name, op, literal = match.group(1), match.group(2).lower(), match.group(3)
        text = literal[1:-1].replace("''", "'") if literal.startswith("'") else literal
        if name == "lastActionDate":
            bound = _instant(text)
            rows = [r for r in rows if _compare(_instant(r[name]), op, bound)]
        else:
            rows = [r for r in rows if _compare(str(r.get(name)), op, text)]
    return rows


def order_rows(rows: list[dict[str, Any]], expression: str) -> list[dict[str, Any]]:
    keys = []
    for part in expression.split(","):
        match = _ORDER.match(part)
        if match is None or match.group(1) not in _FIELDS:
            raise ValueError(f"unsupported $orderby {part!r}")
        keys.append((match.group(1), (match.group(2) or "asc").lower() == "desc"))
    for name, descending in reversed(keys):  # stable sorts, least significant key first
        rows = sorted(rows, key=lambda r, n=name: str(r.get(n) or ""), reverse=descending)  # type: ignore[misc]
    return rows


class RestEndpoint:
    def __init__(self, portal: OpenInvoicePortal):
        self.portal = portal

    def handle(self, request: Request) -> Reply:
        supplier = self.portal.supplier_by_cn(peer_common_name(getattr(_PEER, "certificate", None)))
        if supplier is None:
            return _json(
                403, {"error": "unknown_client", "message": "No supplier account has this certificate."}
            )
        if request.method == "POST" and request.path == SUBMIT_PATH:
            given = request.headers.get("mac", "")
            expected = base64.b64encode(
                hmac.new(supplier.mac_key.encode(), request.body, hashlib.sha256).digest()
            ).decode()
            if not given:
                return _json(401, {"error": "missing_mac", "message": "The mac header is required."})
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return _json(
                    401, {"error": "invalid_mac", "message": "The mac header does not match the body."}
                )
            return self._submit(supplier, request)
        if request.method == "GET" and request.path == INVOICES_PATH:
            return self._list(supplier, request)
        return _json(404, {"error": "not_found"})

    def _submit(self, supplier: Any, request: Request) -> Reply:
        try:
            xml, parts = unpack(request.headers.get("content-type", ""), request.body)
        except DocumentError as exc:
            return _json(400, {"error": "bad_request", "message": str(exc)})
        verdict = self.portal.receive(supplier, xml, parts, "rest")
        body = render_response(verdict.response(self.portal.response_number(), self.portal.clock.now()))
        if verdict.invoice is not None:
            location = f"{INVOICES_PATH}/{verdict.invoice.id}"
            return Reply(200, body, "application/xml; charset=utf-8", {"Location": location})
        status = 409 if verdict.status is StatusCode.REJECT and verdict.duplicate else 422
        return Reply(status, body, "application/xml; charset=utf-8")

    def _list(self, supplier: Any, request: Request) -> Reply:
        rows = self.portal.records(supplier)
        try:
            if request.param("$filter"):
                rows = filter_rows(rows, request.param("$filter") or "")
            rows = order_rows(rows, request.param("$orderby") or "lastActionDate asc,invoiceId asc")
            top = min(int(request.param("$top") or "100"), MAX_TOP)
            skip = int(request.param("$skip") or "0")
        except ValueError as exc:
            return _json(400, {"error": "bad_request", "message": str(exc)})
        return _json(200, {"value": rows[skip : skip + top]})


def serve_rest(
    portal: OpenInvoicePortal, ssl_context: ssl.SSLContext, port: int = 0, faults: FaultPlan | None = None
) -> SandboxServer:
    return PeerAwareServer(
        RestEndpoint(portal).handle, port=port, faults=faults, ssl_context=ssl_context
    ).start()
