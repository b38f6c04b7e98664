"""The wizard supplier portal behind the shape every family shares (connectors/sandbox/facade.py)."""

from __future__ import annotations

from typing import Any, Self

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

    def profile(
        self, buyer: str | None = None, *, customers: tuple[str, ...] = ("C-1",), **connection: Any
    ) -> facade.ReadyProfile:
        """As the portal's first user; give the `recipe` that drives this portal (a path)."""
        config = self.sandbox.config
        user = config.users[0]
        block: dict[str, Any] = {
            "base_url": self.url,
            "username": user.email,
            "password": "secret:supplierportal_password",
            "totp_seed": "secret:supplierportal_totp_seed",
            **connection,
        }
        secrets = {"supplierportal_password": user.password, "supplierportal_totp_seed": user.totp_seed}
        spec = facade.rules_file("supplierportal", config.buyer, "webportal", block, list(customers), [])
        return facade.ReadyProfile(spec, secrets)
