"""The Coupa sandbox behind the shape every family shares (connectors/sandbox/facade.py)."""

from __future__ import annotations

from typing import Any

from connectors.sandbox import facade
from connectors.sandbox.coupa.config import CoupaSandboxConfig
from connectors.sandbox.coupa.portal import CoupaSandbox


class SandboxPortal(facade.OneServerPortal):
    family = "coupa"
    config_model = CoupaSandboxConfig
    portal_class = CoupaSandbox

    def received(self) -> list[facade.HeldInvoice]:
        # A pre-held invoice has no payloadID: it never came through the cXML endpoint.
        return [facade.HeldInvoice(i.instance, i.number) for i in list(self.sandbox.invoices) if i.payload_id]

    def submit_path(self) -> str:
        return f"/{self.sandbox.config.buyers[0].instance}/"

    def profile(
        self, buyer: str | None = None, *, customers: tuple[str, ...] = ("C-1",), **connection: Any
    ) -> facade.ReadyProfile:
        config = self.sandbox.config
        chosen = next(b for b in config.buyers if buyer in (None, b.instance))
        secret = f"{chosen.instance}_coupa_shared_secret"
        block: dict[str, Any] = {
            "invoice_url": f"{self.url}/{chosen.instance}/cxml/invoices",
            "from": dict(chosen.supplier),
            "to": dict(chosen.to),
            "shared_secret": f"secret:{secret}",
        }
        secrets = {secret: chosen.shared_secret}
        for client_id, client_secret in list(config.api_clients.items())[:1]:
            block["api"] = {
                "invoices_url": f"{self.url}/api/v1/invoices",
                "token_url": f"{self.url}/oauth2/token",
                "client_id": client_id,
                "client_secret": "secret:coupa_api_client_secret",
            }
            secrets["coupa_api_client_secret"] = client_secret
        block.update(connection)
        spec = facade.rules_file(f"{chosen.instance}-coupa", chosen.name, "coupa", block, list(customers))
        return facade.ReadyProfile(spec, secrets)
