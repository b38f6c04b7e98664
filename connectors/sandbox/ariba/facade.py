"""The Ariba Network sandbox behind the shape every family shares (connectors/sandbox/facade.py)."""

from __future__ import annotations

from typing import Any

from connectors.sandbox import facade
from connectors.sandbox.ariba.checks import account_mode
from connectors.sandbox.ariba.config import AribaSandboxConfig
from connectors.sandbox.ariba.network import INVOICE_PATH, LISTING_PATH, AribaSandbox


class SandboxPortal(facade.OneServerPortal):
    family = "ariba"
    config_model = AribaSandboxConfig
    portal_class = AribaSandbox

    def stop(self) -> None:
        self.sandbox.stop()  # the server, and the pusher's client

    def received(self) -> list[facade.HeldInvoice]:
        return [
            facade.HeldInvoice(i.buyer.key, i.number) for i in list(self.sandbox.invoices) if i.payload_id
        ]

    def submit_path(self) -> str:
        return INVOICE_PATH

    def advance(self, hours: float) -> None:
        self.sandbox.advance(hours=hours)  # the buyers act, and the network pushes what they did

    def profile(
        self, buyer: str | None = None, *, customers: tuple[str, ...] = ("C-1",), **connection: Any
    ) -> facade.ReadyProfile:
        """The supplier account is the network's first; statuses by poll (by push too where the buyer
        pushes: then the hub's receiver must be the buyer's `push_url`)."""
        config = self.sandbox.config
        chosen = next(b for b in config.buyers if buyer in (None, b.key))
        supplier, secret = next(iter(config.suppliers.items()))
        block: dict[str, Any] = {
            "invoice_url": f"{self.url}{INVOICE_PATH}",
            "from": {"domain": "NetworkID", "identity": supplier},
            "to": {"domain": "NetworkID", "identity": chosen.network_id},
            "shared_secret": "secret:ariba_shared_secret",
            "deployment_mode": account_mode(supplier),
            "status_mode": "poll" if chosen.status_delivery == "poll" else "both",
        }
        secrets = {"ariba_shared_secret": secret}
        if chosen.status_delivery != "poll":
            block["inbound"] = {
                "sender": dict(config.push_sender),
                "shared_secret": "secret:ariba_push_secret",
            }
            secrets["ariba_push_secret"] = config.push_secret
        if supplier in config.api_keys:
            block["listing"] = {"url": f"{self.url}{LISTING_PATH}", "api_key": "secret:ariba_listing_key"}
            secrets["ariba_listing_key"] = config.api_keys[supplier]
        block.update(connection)
        if block["status_mode"] == "poll":
            block.pop("inbound", None)
            secrets.pop("ariba_push_secret", None)
        spec = facade.rules_file(f"{chosen.key}-ariba", chosen.name, "ariba", block, list(customers))
        return facade.ReadyProfile(spec, secrets)
