"""The OpenInvoice sandbox's two faces on sockets: SOAP (plain HTTP, with `/_sandbox/...` control) and
REST (mutual TLS), over one portal."""

from __future__ import annotations

import ssl
from typing import Any

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.control import control_reply
from connectors.sandbox.openinvoice.config import OpenInvoiceSandboxConfig
from connectors.sandbox.openinvoice.portal import OpenInvoicePortal, PortalInvoice
from connectors.sandbox.openinvoice.rest import serve_rest
from connectors.sandbox.openinvoice.soap import SoapEndpoint
from connectors.sandbox.server import FaultPlan, Reply, Request, SandboxServer


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
        return control_reply(
            request,
            parts,
            invoices=self._held,
            advance=lambda hours: self.clock.advance(hours=hours),
            server=self.soap_server,
        )

    def _held(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [
            {**i.record(now), "transport": i.transport, "attachments": i.attachments}
            for i in list(self.invoices)
        ]
