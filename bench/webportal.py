"""Seconds per invoice through the browser connector, in real headless Chromium against the sandbox web
portals on 127.0.0.1: the classic one (a round trip per line) and the wizard one (a draft made from the
dashboard, a PO found by search, rows added in the page).

The first invoice includes starting Chromium and signing in (password + TOTP); the others reuse the
browser and the session, as the daemon does. Each submission also searches the portal's list for its
number first (reconciliation before any send) and keeps a screenshot and the HTML twice (the filled
form, the confirmation). Then one poll reads every invoice's status back.

    .venv/bin/python -m bench.webportal [--invoices 20] [--lines 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.timing import report
from connectors.webportal.browser import BrowserPool
from tests.connectors.contract.supplierportal_harness import SupplierPortalCase
from tests.connectors.contract.webportal_harness import WebPortalCase, pdf_invoice
from tests.factories import PO_LINES


def run(portal: str, invoices: int, lines: int) -> dict[str, Any]:
    pool = BrowserPool()
    with tempfile.TemporaryDirectory() as folder:
        kind = WebPortalCase if portal == "classic" else SupplierPortalCase
        case = kind(Path(folder), pool)
        try:
            items = tuple((part, "1", uom, str(price)) for part, _, uom, price, _ in PO_LINES[:lines])
            seconds = []
            for n in range(1, invoices + 1):
                started = time.perf_counter()
                case.submit(pdf_invoice(f"BENCH-{n}", lines=items))
                seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            polled = case.connector.poll(case.profile, None)
            poll_seconds = time.perf_counter() - started
            assert len(polled.updates) == invoices and len(case.sandbox.received()) == invoices
        finally:
            case.close()
            pool.close()
    return {
        "portal": portal,
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
    parser.add_argument("--lines", type=int, default=2, help="lines per invoice (at most the test PO's)")
    args = parser.parse_args()
    rows = [
        run("classic", args.invoices, args.lines),
        run("wizard", args.invoices, args.lines),
    ]
    report("webportal", rows, list(rows[0]))


if __name__ == "__main__":
    main()
