"""The demo's Coupa sandbox: three buyers (ACME, Permian Basin Energy, Gulf Coast Logistics)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox, load_config
from connectors.sandbox.server import FaultPlan

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


class CoupaDemoPortal:
    name: str = "coupa"
    secret_names: tuple[str, ...] = (
        "acme_coupa_shared_secret",
        "pbe_coupa_shared_secret",
        "gcl_coupa_shared_secret",
        "coupa_api_client_secret",
    )
    placeholder: str = "http://sandbox.invalid"
    faults: bool = True

    def __init__(self) -> None:
        self.sandbox: CoupaSandbox | None = None

    def start(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> str:
        # The portal validates against the DTD each document names, from the folder of official DTDs.
        refs = dtd.parent.parent if dtd else None
        self.sandbox = CoupaSandbox(
            load_config(FIXTURES / "demo" / "coupa_buyers.yaml", secrets), SandboxClock(), cxml_refs=refs
        )
        return self.sandbox.serve(faults=self._faults() if self.faults else None).url

    @staticmethod
    def _faults() -> FaultPlan:
        """A few things real networks do, on ACME's endpoint: the hub must neither lose nor double anything."""
        plan = FaultPlan(seed=7)
        plan.at_request(2, "unavailable_503", path_prefix="/acme/")  # gateway down: retried with backoff
        plan.at_request(5, "drop_after", path_prefix="/acme/")  # created, then dropped: IN_DOUBT, reconciled
        plan.at_request(9, "throttle_429", path_prefix="/acme/", retry_after=1)  # Retry-After honoured
        return plan

    def configure(self, config: dict[str, Any]) -> None:
        pass

    def advance(self, hours: float) -> None:
        assert self.sandbox is not None
        self.sandbox.clock.advance(hours=hours)

    def correct(self, ar_path: Path) -> list[str]:
        ar = sqlite3.connect(ar_path)
        with ar:
            # INV-24017: Coupa refused the UOM (BX) that does not match the PO line (EA).
            ar.execute(
                "UPDATE ar_invoice_lines SET uom = 'EA' "
                "WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-24017')"
            )
            # INV-24018: ACME disputed the price (13.10 over the PO's 12.50); rebill at the PO price.
            ar.execute(
                "UPDATE ar_invoice_lines SET unit_price = '12.50', amount = '125.00', tax_amount = '10.63' "
                "WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-24018')"
            )
            ar.execute(
                "UPDATE ar_invoices SET subtotal = '125.00', tax_total = '10.63', total = '135.63' "
                "WHERE invoice_number = 'INV-24018'"
            )
        ar.close()
        return ["INV-24017", "INV-24018"]

    def sent_numbers(self) -> list[tuple[str, str]]:
        assert self.sandbox is not None
        return [(i.instance, i.number) for i in self.sandbox.invoices if i.payload_id]

    def faults_injected(self) -> dict[str, int]:
        assert self.sandbox is not None and self.sandbox.server is not None
        return dict(self.sandbox.server.faults.injected)

    def stop(self) -> None:
        if self.sandbox is not None and self.sandbox.server is not None:
            self.sandbox.server.stop()
