"""The sandbox web portal behind the shape every family shares (connectors/sandbox/facade.py)."""

from __future__ import annotations

from typing import Self

from connectors.sandbox import facade
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan, SandboxServer
from connectors.sandbox.webportal.app import WebPortalSandbox
from connectors.sandbox.webportal.config import WebPortalSandboxConfig


class SandboxPortal(facade.SandboxPortal):
    family = "webportal"
    config_model = WebPortalSandboxConfig

    def __init__(
        self,
        config: WebPortalSandboxConfig,
        *,
        clock: SandboxClock | None = None,
        faults: FaultPlan | None = None,
        latency: float = 0.0,
    ):
        super().__init__(config, clock=clock, faults=faults, latency=latency)
        self.sandbox = WebPortalSandbox(config, self.clock)

    def start(self, port: int = 0) -> Self:
        self.sandbox.serve(port, faults=self.faults, latency=self.latency)
        return self

    @property
    def servers(self) -> list[SandboxServer]:
        return [self.sandbox.server] if self.sandbox.server is not None else []

    def received(self) -> list[facade.HeldInvoice]:
        return [facade.HeldInvoice(i.buyer, i.number) for i in self.sandbox.received()]

    def submit_path(self) -> str:
        return f"/{self.sandbox.config.buyers[0].slug}/invoices/submit"
