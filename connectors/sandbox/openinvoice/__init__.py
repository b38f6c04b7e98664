"""An OpenInvoice-style portal on 127.0.0.1 (refs/PORTALS.md, "OpenInvoice"): one portal, two faces.

- SOAP (`serve_soap`, plain HTTP): the WSDL at `/openinvoice/InvoiceService?wsdl` and the service at
  `/openinvoice/InvoiceService` (SubmitInvoice, GetInvoiceStatus, ListInvoiceChanges); WS-Security.
- REST (`serve_rest`, HTTPS with client certificates): `…/invoices/invoice.submit` with a `mac` header,
  `…/invoices` listing with `$filter`/`$orderby`/`$top`/`$skip`.
- `/_sandbox/invoices` and `POST /_sandbox/clock {"hours": n}` on the SOAP server: inspection and
  control for people exploring the demo.

Both faces share one set of invoices, buyers and clock. Certificates for the REST face come from
`certs.TestCertificateAuthority`, made at run time by the tests and the demo.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.config import load_sandbox_config
from connectors.sandbox.openinvoice.config import (
    ExistingInvoice,
    OpenInvoiceBuyer,
    OpenInvoiceSandboxConfig,
    SupplierAccount,
)
from connectors.sandbox.openinvoice.portal import OpenInvoicePortal, PortalInvoice
from connectors.sandbox.openinvoice.rest import INVOICES_PATH, SUBMIT_PATH, serve_rest
from connectors.sandbox.openinvoice.soap import SOAP_PATH, SoapEndpoint, SoapFault
from connectors.sandbox.server import FaultPlan, Reply, Request, SandboxServer

__all__ = [
    "INVOICES_PATH",
    "SOAP_PATH",
    "SUBMIT_PATH",
    "ExistingInvoice",
    "OpenInvoiceBuyer",
    "OpenInvoiceSandbox",
    "OpenInvoiceSandboxConfig",
    "PortalInvoice",
    "SoapFault",
    "SupplierAccount",
    "load_config",
]


class OpenInvoiceSandbox:
    """The portal and its servers; `serve_soap()` and `serve_rest()` put it on sockets."""

    def __init__(self, config: OpenInvoiceSandboxConfig, clock: SandboxClock | None = None):
        self.portal = OpenInvoicePortal(config, clock)
        self.soap = SoapEndpoint(self.portal)
        self.soap_server: SandboxServer | None = None
        self.rest_server: SandboxServer | None = None

    @property
    def clock(self) -> SandboxClock:
        return self.portal.clock

    @property
    def invoices(self) -> list[PortalInvoice]:
        return self.portal.invoices

    def serve_soap(
        self, port: int = 0, faults: FaultPlan | None = None, latency: float = 0.0
    ) -> SandboxServer:
        self.soap_server = SandboxServer(self._handle_http, port=port, faults=faults, latency=latency).start()
        return self.soap_server

    def serve_rest(
        self, ssl_context: ssl.SSLContext, port: int = 0, faults: FaultPlan | None = None
    ) -> SandboxServer:
        self.rest_server = serve_rest(self.portal, ssl_context, port=port, faults=faults)
        return self.rest_server

    def stop(self) -> None:
        for server in (self.soap_server, self.rest_server):
            if server is not None:
                server.stop()

    def _handle_http(self, request: Request) -> Reply:
        reply = self.soap.handle(request)
        if reply is not None:
            return reply
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["_sandbox"]:
            return self._control(request, parts[1:])
        return Reply(404, b"not found")

    def _control(self, request: Request, parts: list[str]) -> Reply:
        now = self.clock.now()
        if parts == ["invoices"]:
            rows: list[dict[str, Any]] = [
                {**i.record(now), "transport": i.transport, "attachments": i.attachments}
                for i in list(self.invoices)
            ]
            return Reply(200, json.dumps(rows).encode(), "application/json")
        if parts == ["clock"] and request.method == "POST":
            hours = float(json.loads(request.body or b"{}").get("hours", 0))
            return Reply(
                200,
                json.dumps({"now": self.clock.advance(hours=hours).isoformat()}).encode(),
                "application/json",
            )
        return Reply(404, b"no such control")


def load_config(path: Path, secrets: Mapping[str, str]) -> OpenInvoiceSandboxConfig:
    """A sandbox YAML file whose `secret:name` values are taken from `secrets`."""
    return load_sandbox_config(path, secrets, OpenInvoiceSandboxConfig)
