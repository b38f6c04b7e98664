"""The demo's web portal: Northwind Drilling Services' own supplier portal, with no API, driven by the
browser connector in headless Chromium (sign-in with a TOTP code, the invoice keyed line by line, the
PDF uploaded, statuses read back from the portal's list and invoice pages).

Without Chromium on the machine the demo says so, and Northwind's invoices are blocked before sending
with that reason (a demo-only rule added to the workspace's copy of the rules file), instead of waiting
for a browser that will not come.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pyotp
import yaml

from hub.demo.base import FIXTURES, DemoPortal

log = logging.getLogger(__name__)
PROFILE = "northwind-webportal.yaml"
TOTP_SECRET = "northwind_portal_totp_seed"
NO_CHROMIUM_RULE = {
    "id": "demo-no-chromium",
    "field": "invoice_number",
    "forbidden": True,
    "category": "config",
    "message": "this machine has no Chromium, so the demo cannot drive Northwind's web portal",
    "hint": "Install it (Debian: apt-get install -y chromium) and run the demo again.",
}


class WebPortalDemoPortal(DemoPortal):
    name = "webportal"
    secret_names = ("northwind_portal_password", TOTP_SECRET)
    placeholder = "http://webportal-sandbox.invalid"
    corrections = {
        # Northwind's form wants an AFE on every line; the collector found the hauling's.
        "INV-26006": (
            "UPDATE ar_invoice_lines SET afe_number = 'AFE-26-0403' WHERE afe_number IS NULL "
            "AND invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-26006')",
        ),
    }

    def __init__(self) -> None:
        super().__init__()
        self.chromium = shutil.which("chromium")

    def start(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> str:
        # A TOTP seed is base32 (what authenticator apps take), not the demo's generic random text.
        secrets[TOTP_SECRET] = pyotp.random_base32()
        secrets_file = workspace / "secrets.yaml"
        secrets_file.write_text(yaml.safe_dump(secrets), encoding="utf-8")
        secrets_file.chmod(0o600)
        if self.chromium is None:
            log.warning(
                "Chromium is not installed: Northwind's web-portal invoices are blocked with that reason "
                "(apt-get install -y chromium, then run the demo again)"
            )
        return super().start(secrets, workspace, dtd)

    def configure(self, config: dict[str, Any]) -> None:
        # The rules files are in the workspace now: the recipe goes beside them, where the profile says.
        assert self.workspace is not None
        rules_dir = self.workspace / str(config.get("rules_dir", "rules.d"))
        shutil.copytree(FIXTURES / "rules" / "recipes", rules_dir / "recipes", dirs_exist_ok=True)
        config.setdefault("evidence_dir", "evidence")  # screenshots and pages of every submission
        if self.chromium is None:
            profile = rules_dir / PROFILE
            spec = yaml.safe_load(profile.read_text(encoding="utf-8"))
            spec["rules"].append(NO_CHROMIUM_RULE)
            profile.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
