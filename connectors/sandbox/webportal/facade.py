"""The sandbox web portal behind the shape every family shares (connectors/sandbox/facade.py)."""

from __future__ import annotations

from typing import Any

from connectors.sandbox import facade
from connectors.sandbox.webportal.app import WebPortalSandbox
from connectors.sandbox.webportal.config import WebPortalSandboxConfig


class SandboxPortal(facade.OneServerPortal):
    family = "webportal"
    config_model = WebPortalSandboxConfig
    portal_class = WebPortalSandbox

    def received(self) -> list[facade.HeldInvoice]:
        return [facade.HeldInvoice(i.buyer, i.number) for i in self.sandbox.received()]

    def submit_path(self) -> str:
        return f"/{self.sandbox.config.buyers[0].slug}/invoices/submit"

    def profile(
        self, buyer: str | None = None, *, customers: tuple[str, ...] = ("C-1",), **connection: Any
    ) -> facade.ReadyProfile:
        """As the buyer's first user; give the `recipe` that drives this portal (a path)."""
        chosen = next(b for b in self.sandbox.config.buyers if buyer in (None, b.slug))
        user = chosen.users[0]
        block: dict[str, Any] = {
            "base_url": f"{self.url}/{chosen.slug}",
            "username": user.username,
            "password": "secret:webportal_password",
            "totp_seed": "secret:webportal_totp_seed",
            **connection,
        }
        secrets = {"webportal_password": user.password, "webportal_totp_seed": user.totp_seed}
        spec = facade.rules_file(
            f"{chosen.slug}-webportal", chosen.name, "webportal", block, list(customers), []
        )
        return facade.ReadyProfile(spec, secrets)
