"""The wizard supplier portal behind the shape every family shares (connectors/sandbox/facade.py)."""

from __future__ import annotations

from typing import Self

from connectors.sandbox import facade
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan, SandboxServer
from connectors.sandbox.supplierportal.app import SupplierPortalSandbox
from connectors.sandbox.supplierportal.config import SupplierPortalConfig


class SandboxPortal(facade.SandboxPortal):
    family = "supplierportal"
    config_model = SupplierPortalConfig

    def __init__(
        self,
        config: SupplierPortalConfig,
        *,
        clock: SandboxClock | None = None,
        faults: FaultPlan | None = None,
        latency: float = 0.0,
    ):
        super().__init__(config, clock=clock, faults=faults, latency=latency)
        self.sandbox = SupplierPortalSandbox(config, self.clock)

    def start(self, port: int = 0) -> Self:
        self.sandbox.serve(port, faults=self.faults, latency=self.latency)
        return self

    @property
    def servers(self) -> list[SandboxServer]:
        return [self.sandbox.server] if self.sandbox.server is not None else []

    def received(self) -> list[facade.HeldInvoice]:
        return [facade.HeldInvoice(self.sandbox.config.buyer, i.number) for i in self.sandbox.received()]

    def submit_path(self) -> str:
        return "/submit/"
