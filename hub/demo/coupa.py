"""The demo's Coupa sandbox: three buyers (ACME, Permian Basin Energy, Gulf Coast Logistics)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.sandbox.server import FaultPlan
from hub.demo.base import DemoPortal


class CoupaDemoPortal(DemoPortal):
    name = "coupa"
    secret_names = (
        "acme_coupa_shared_secret",
        "pbe_coupa_shared_secret",
        "gcl_coupa_shared_secret",
        "coupa_api_client_secret",
    )
    placeholder = "http://sandbox.invalid"
    corrections = {
        # Coupa refused the UOM (BX) that does not match the PO line (EA).
        "INV-24017": (
            "UPDATE ar_invoice_lines SET uom = 'EA' "
            "WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-24017')",
        ),
        # ACME disputed the price (13.10 over the PO's 12.50); rebill at the PO price.
        "INV-24018": (
            "UPDATE ar_invoice_lines SET unit_price = '12.50', amount = '125.00', tax_amount = '10.63' "
            "WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-24018')",
            "UPDATE ar_invoices SET subtotal = '125.00', tax_total = '10.63', total = '135.63' "
            "WHERE invoice_number = 'INV-24018'",
        ),
    }

    def options(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> dict[str, Any]:
        # The portal validates against the DTD each document names, from the folder of official DTDs.
        return {"cxml_refs": dtd.parent.parent if dtd else None}

    def fault_plan(self) -> FaultPlan:
        """A few things real networks do, on ACME's endpoint: the hub must neither lose nor double anything."""
        plan = FaultPlan(seed=7)
        plan.at_request(2, "unavailable_503", path_prefix="/acme/")  # gateway down: retried with backoff
        plan.at_request(5, "drop_after", path_prefix="/acme/")  # created, then dropped: IN_DOUBT, reconciled
        plan.at_request(9, "throttle_429", path_prefix="/acme/", retry_after=1)  # Retry-After honoured
        return plan
