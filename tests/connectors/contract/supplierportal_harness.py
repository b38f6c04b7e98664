"""The contract harness for the browser connector on the second sandbox portal (the wizard portal of
connectors/sandbox/supplierportal), driven through its own recipe only; and the helpers its own tests
share. Real headless Chromium over real sockets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from connectors.base import ConnectorContext, Envelope, OutboundDocument, Receipt
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import SandboxServer
from connectors.sandbox.supplierportal import SandboxPortal, SupplierPortalConfig
from connectors.webportal import WebPortalConnector
from connectors.webportal.browser import BrowserPool
from hub.model import Invoice
from rules.schema import Profile
from tests.conftest import require_chromium
from tests.connectors.contract.harness import PortalHarness
from tests.connectors.contract.webportal_harness import (
    PASSWORD,
    RECIPE,
    SECRETS,
    TOTP_SEED,
    contract_pool,
    pdf_invoice,
    write_profile,
)
from tests.connectors.support import DictSecrets
from tests.factories import PO_LINES, T0

SUPPLIER_RECIPE = RECIPE.with_name("sandbox-supplierportal.yaml")
EMAIL = "ar@bluebonnet.example"
#: The portal's own unit codes for the test PO's lines (AR's EA, HUR).
PORTAL_UOM = {"EA": "EACH", "HUR": "HR", "DAY": "DY"}


def supplier_config(page_size: int = 10, **overrides: Any) -> SupplierPortalConfig:
    """The test PO-100001 (and the demo's Northwind POs), the test user (password + TOTP)."""
    spec: dict[str, Any] = {
        "buyer": "ACME Manufacturing",
        "users": [{"email": EMAIL, "password": PASSWORD, "totp_seed": TOTP_SEED}],
        "purchase_orders": [
            {
                "number": "PO-100001",
                "description": "Bearings, seals and field service",
                "lines": [
                    {
                        "line": line,
                        "description": part,
                        "uom": PORTAL_UOM[uom],
                        "unit_price": price,
                        "quantity": qty,
                    }
                    for part, qty, uom, price, line in PO_LINES
                ],
            },
            {
                "number": "PO-100002",
                "description": "Bearings for the PO-100001 rigs",  # names the other PO: one option only must match
                "lines": [
                    {
                        "line": 1,
                        "description": "BRG-6205",
                        "uom": "EACH",
                        "unit_price": "12.50",
                        "quantity": "5",
                    }
                ],
            },
        ],
        "page_size": page_size,
    }
    spec.update(overrides)
    return SupplierPortalConfig.model_validate(spec)


class SupplierPortalCase:
    """The wizard portal on a free port, a connector (pool and evidence folder given), a profile."""

    def __init__(
        self,
        folder: Path,
        pool: BrowserPool,
        *,
        config: SupplierPortalConfig | None = None,
        secrets: Mapping[str, str] = SECRETS,
        recipe: Path = SUPPLIER_RECIPE,
        **connection: Any,
    ):
        self.portal = SandboxPortal(config or supplier_config(), clock=SandboxClock(start=T0)).start()
        self.clock, self.faults, self.sandbox = self.portal.clock, self.portal.faults, self.portal.sandbox
        self.server: SandboxServer = self.portal.servers[0]
        self.evidence = folder / "evidence"
        self.http = httpx.Client()
        self.connector = WebPortalConnector(
            ConnectorContext(
                http=self.http,
                secrets=DictSecrets(secrets),
                now=lambda: T0,
                evidence_dir=self.evidence,
                browser_pool=pool,
            )
        )
        settings = {"username": EMAIL, **connection}
        self.profile: Profile = write_profile(
            folder / "rules.d", self.server.url, recipe, root=True, **settings
        )

    def render(self, invoice: Invoice, number: str | None = None) -> OutboundDocument:
        envelope = Envelope(
            f"{invoice.invoice_number}.1@portalhub.test", T0, number or invoice.invoice_number
        )
        return self.connector.render(invoice, self.profile, envelope)

    def submit(self, invoice: Invoice) -> Receipt:
        return self.connector.submit(self.render(invoice), self.profile)

    def evidence_files(self, suffix: str = "") -> list[Path]:
        return sorted(p for p in self.evidence.rglob(f"*{suffix}") if p.is_file())

    def close(self) -> None:
        self.http.close()
        self.portal.stop()


class SupplierPortalHarness(PortalHarness):
    """The same connector and contract on the wizard portal, through its own recipe only."""

    name = "webportal"
    family = "supplierportal"
    supports_faults = frozenset({"drop_after", "unavailable_503"})
    repeated_faults = frozenset({"drop_after"})  # as for the first portal: a browser may resend once

    def __init__(self, tmp_path: Path):
        require_chromium()
        self.case = SupplierPortalCase(tmp_path, contract_pool())
        self.portal = self.case.portal
        self.connector = self.case.connector
        self.profile = self.case.profile

    def invoice(self, number: str) -> Invoice:
        return pdf_invoice(number)

    def refused_invoice(self, number: str) -> Invoice:
        return pdf_invoice(number, po="PO-999999")  # the portal's PO search finds nothing

    def close(self) -> None:
        self.case.close()
