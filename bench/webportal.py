"""Seconds per invoice through the browser connector, in real headless Chromium against the sandbox web
portals on 127.0.0.1: the classic one (a round trip per line) and the wizard one (a draft made from the
dashboard, a PO found by search, rows added in the page).

The first invoice includes starting Chromium and signing in (password + TOTP); the others reuse the
browser and the session, as the daemon does. Each submission also searches the portal's list for its
number first (reconciliation before any send) and keeps a screenshot and the HTML twice (the filled
form, the confirmation). Then one poll reads every invoice's status back.

The hub talks to each portal through the sandbox's ready profile (`SandboxPortal.profile`) and the
portal's recipe in fixtures/rules/recipes/, as a user of `portalhub sandbox` would.

    .venv/bin/python -m bench.webportal [--invoices 20] [--lines 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyotp

from bench.invoices import make_pdf
from bench.scenario import PO_LINES, ROOT, SUPPLIER
from bench.timing import report
from bench.workspace import hub_with_profiles
from connectors.base import Envelope
from connectors.sandbox.facade import SandboxPortal
from connectors.sandbox.supplierportal import SandboxPortal as WizardPortal
from connectors.sandbox.supplierportal import SupplierPortalConfig
from connectors.sandbox.webportal import SandboxPortal as ClassicPortal
from connectors.sandbox.webportal import WebPortalSandboxConfig
from connectors.webportal.browser import BrowserPool
from hub.model import Attachment, Invoice, InvoiceLine, Party

RECIPES = ROOT / "fixtures" / "rules" / "recipes"
PO = "PO-100001"
PASSWORD = "bench-Passw0rd-8472"
#: The wizard portal's own unit codes for the PO's (AR's EA, HUR).
WIZARD_UOM = {"EA": "EACH", "HUR": "HR"}


def classic_portal() -> SandboxPortal:
    lines = [
        {"line": n, "part": part, "uom": uom, "unit_price": price, "quantity": "100000"}
        for n, (part, uom, price) in enumerate(PO_LINES, 1)
    ]
    user = {"username": "bluebonnet-ar", "password": PASSWORD, "totp_seed": pyotp.random_base32()}
    buyer = {"slug": "acme", "name": "ACME Manufacturing", "users": [user]}
    config = {"buyers": [{**buyer, "purchase_orders": [{"number": PO, "lines": lines}]}]}
    return ClassicPortal(WebPortalSandboxConfig.model_validate(config))


def wizard_portal() -> SandboxPortal:
    lines = [
        {"line": n, "description": part, "uom": WIZARD_UOM[uom], "unit_price": price, "quantity": "100000"}
        for n, (part, uom, price) in enumerate(PO_LINES, 1)
    ]
    user = {"email": "ar@bluebonnet.example", "password": PASSWORD, "totp_seed": pyotp.random_base32()}
    po = {"number": PO, "description": "Bearings, seals and field service", "lines": lines}
    config = {"buyer": "ACME Manufacturing", "users": [user], "purchase_orders": [po]}
    return WizardPortal(SupplierPortalConfig.model_validate(config))


def invoice(number: str, lines: int) -> Invoice:
    """One of each of the PO's first `lines` lines, its PDF attached."""
    items = [
        InvoiceLine(
            line_number=n,
            po_line_number=n,
            supplier_part_id=part,
            description=part,
            quantity=Decimal(1),
            unit_of_measure=uom,
            unit_price=Decimal(price),
            amount=Decimal(price),
        )
        for n, (part, uom, price) in enumerate(PO_LINES[:lines], 1)
    ]
    total = sum((line.amount for line in items), Decimal(0))
    return Invoice(
        invoice_number=number,
        invoice_date=time.strftime("%Y-%m-%d"),
        currency="USD",
        customer_id="C-1",
        po_number=PO,
        supplier=SUPPLIER,
        buyer=Party(name="ACME Manufacturing", party_id="987654321"),
        lines=items,
        subtotal=total,
        tax_total=Decimal(0),
        total=total,
        attachments=[Attachment(filename=f"{number}.pdf", content=make_pdf(f"Invoice {number}"))],
    )


def run(kind: str, invoices: int, lines: int) -> dict[str, Any]:
    pool = BrowserPool()
    portal = (classic_portal() if kind == "classic" else wizard_portal()).start()
    with tempfile.TemporaryDirectory() as folder:
        recipe = RECIPES / ("sandbox-webportal.yaml" if kind == "classic" else "sandbox-supplierportal.yaml")
        ready = portal.profile(recipe=str(recipe))
        hub = hub_with_profiles(Path(folder), [ready], evidence_dir=str(Path(folder) / "evidence"))
        hub.extras["browser_pool"] = pool  # a fresh browser per portal: the first invoice starts it
        try:
            profile = hub.profile(ready.id)
            connector = hub.connector(profile)
            seconds = []
            for n in range(1, invoices + 1):
                started = time.perf_counter()
                envelope = Envelope(f"BENCH-{n}.1@portalhub.bench", hub.clock.now(), f"BENCH-{n}")
                connector.submit(connector.render(invoice(f"BENCH-{n}", lines), profile, envelope), profile)
                seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            polled = connector.poll(profile, None)
            poll_seconds = time.perf_counter() - started
            assert len(polled.updates) == invoices and len(portal.received()) == invoices
        finally:
            hub.close()
            portal.stop()
            pool.close()
    return {
        "portal": kind,
        "invoices": invoices,
        "lines": lines,
        "first s": seconds[0],
        "next median s": statistics.median(seconds[1:]) if invoices > 1 else None,
        "next max s": max(seconds[1:]) if invoices > 1 else None,
        "poll s": poll_seconds,
        "list pages": polled.requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=20)
    parser.add_argument("--lines", type=int, default=2, help="lines per invoice (at most the PO's 3)")
    args = parser.parse_args()
    rows = [
        run("classic", args.invoices, args.lines),
        run("wizard", args.invoices, args.lines),
    ]
    report("webportal", rows, list(rows[0]))


if __name__ == "__main__":
    main()
