"""The contract harness for the browser connector, and the helpers its own tests share: the sandbox web
portal with a test buyer, a profile using the sandbox's recipe, a connector with an evidence folder, and
invoices carrying a small real PDF. Everything runs in real headless Chromium over real sockets."""

from __future__ import annotations

import atexit
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.invoices import make_pdf
from connectors.base import ConnectorContext, Envelope, OutboundDocument, Receipt
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import SandboxServer
from connectors.sandbox.webportal import SandboxPortal, WebPortalSandboxConfig
from connectors.webportal import WebPortalConnector
from connectors.webportal.browser import BrowserPool
from hub.model import Attachment, Invoice
from hub.registry import ConnectorRegistry
from rules.loader import load_profile
from rules.schema import Profile
from tests.conftest import require_chromium
from tests.connectors.contract.harness import PortalHarness
from tests.connectors.support import DictSecrets
from tests.factories import PO_LINES, T0, make_invoice

ROOT = Path(__file__).resolve().parents[3]
RECIPE = ROOT / "fixtures" / "rules" / "recipes" / "sandbox-webportal.yaml"
USERNAME = "bluebonnet-ar"
PASSWORD = "portal-Passw0rd-8472"
TOTP_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32, as a portal shows it at MFA set-up
SECRETS = {"secret:portal_password": PASSWORD, "secret:portal_totp": TOTP_SEED}
PROFILE_ID = "acme-webportal"


def pdf_invoice(number: str, **overrides: Any) -> Invoice:
    """`make_invoice` with the invoice's PDF attached."""
    pdf = Attachment(filename=f"{number}.pdf", content=make_pdf(f"Invoice {number}"))
    return make_invoice(number, attachments=[pdf], **overrides)


def sandbox_config(page_size: int = 10, **buyer: Any) -> WebPortalSandboxConfig:
    """One buyer `acme` with the test PO-100001, the test user (password + TOTP)."""
    spec: dict[str, Any] = {
        "slug": "acme",
        "name": "ACME Manufacturing",
        "users": [{"username": USERNAME, "password": PASSWORD, "totp_seed": TOTP_SEED}],
        "purchase_orders": [
            {
                "number": "PO-100001",
                "lines": [
                    {"line": line, "part": part, "uom": uom, "unit_price": price, "quantity": qty}
                    for part, qty, uom, price, line in PO_LINES
                ],
            }
        ],
        "review_after_hours": 24,
        "pay_after_hours": 48,
    }
    spec.update(buyer)
    return WebPortalSandboxConfig.model_validate({"buyers": [spec], "page_size": page_size})


def write_profile(
    folder: Path, base_url: str, recipe: Path = RECIPE, root: bool = False, **connection: Any
) -> Profile:
    """A web-portal rules file for the sandbox buyer (under `/acme`, or at the `root` of the portal's
    address), loaded the way the hub loads it."""
    settings: dict[str, Any] = {
        "base_url": base_url if root else f"{base_url}/acme",
        "recipe": str(recipe),
        "username": USERNAME,
        "password": "secret:portal_password",
        "totp_seed": "secret:portal_totp",
        # Generous for a loaded CI machine; tests of missing elements set a short step timeout.
        "step_timeout_seconds": 6,
        "navigation_timeout_seconds": 10,
        "task_timeout_seconds": 90,
        "overlap_seconds": 0,
    }
    settings.update(connection)
    spec = {
        "id": PROFILE_ID,
        "buyer": "ACME Manufacturing",
        "connector": "webportal",
        "match": {"customer_id": ["C-1"]},
        "connection": settings,
        "rules": [],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{PROFILE_ID}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return load_profile(path, ConnectorRegistry().check_connection)


class WebPortalCase:
    """A sandbox web portal on a free port, a connector (pool and evidence folder given), a profile."""

    def __init__(
        self,
        folder: Path,
        pool: BrowserPool,
        *,
        buyer: Mapping[str, Any] | None = None,
        page_size: int = 10,
        secrets: Mapping[str, str] = SECRETS,
        recipe: Path = RECIPE,
        **connection: Any,
    ):
        self.portal = SandboxPortal(
            sandbox_config(page_size, **(buyer or {})), clock=SandboxClock(start=T0)
        ).start()
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
        self.profile = write_profile(folder / "rules.d", self.server.url, recipe, **connection)

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


def assert_no_secrets(files: Sequence[Path], secrets: Sequence[str] = (PASSWORD, TOTP_SEED)) -> None:
    for path in files:
        blob = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in blob, f"{secret[:3]}... is in {path}"


_POOL: BrowserPool | None = None


def contract_pool() -> BrowserPool:
    """One browser for the whole contract suite (each case has its own portal and profile)."""
    global _POOL
    if _POOL is None:
        _POOL = BrowserPool()
        atexit.register(_POOL.close)
    return _POOL


class WebPortalHarness(PortalHarness):
    name = "webportal"
    family = "webportal"
    supports_faults = frozenset({"drop_after", "unavailable_503"})
    # (One lost answer that Chromium recovers from on its own is
    # test_one_dropped_answer_never_makes_two_invoices_nor_a_rejection.)
    repeated_faults = frozenset({"drop_after"})

    def __init__(self, tmp_path: Path):
        require_chromium()
        self.case = WebPortalCase(tmp_path, contract_pool())
        self.portal = self.case.portal
        self.connector = self.case.connector
        self.profile = self.case.profile

    def invoice(self, number: str) -> Invoice:
        return pdf_invoice(number)

    def refused_invoice(self, number: str) -> Invoice:
        return pdf_invoice(number, po="PO-999999")  # the portal's PO lookup does not know it

    def close(self) -> None:
        self.case.close()
