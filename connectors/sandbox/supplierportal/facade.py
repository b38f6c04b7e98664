"""The wizard supplier portal behind the shape every family shares (connectors/sandbox/facade.py)."""

from __future__ import annotations

from typing import Any

from connectors.sandbox import facade
from connectors.sandbox.supplierportal.app import SupplierPortalSandbox
from connectors.sandbox.supplierportal.config import SupplierPortalConfig


class SandboxPortal(facade.OneServerPortal):
    family = "supplierportal"
    config_model = SupplierPortalConfig
    portal_class = SupplierPortalSandbox

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
