"""Pre-flight cost: the rules engine on a realistic file (~60 rules), and pre-flight against rendering.

Measured per core (one process, one thread), for 1, 10 and 200-line invoices:
- rules only: field, condition and check rules on the canonical invoice (compiled once per profile);
- render only: the cXML document built and serialised with lxml (the floor);
- pre-flight: model validation + rules + render + document rules + DTD check, as the hub runs it.
Targets (issues 3 and 9): rules >= 2,000 invoices/s/core; pre-flight >= 2,000/s/core at 10 lines and
within 3x of rendering alone.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bench.timing import rate, report
from connectors.base import ConnectorContext, Envelope
from hub.model import Invoice
from hub.preflight import DocumentSchemas, PlaceholderSecrets, preflight
from hub.refs import cxml_refs_dir
from hub.registry import ConnectorRegistry
from rules.engine import compiled
from rules.loader import load_profile

HERE = Path(__file__).parent
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
UOMS = ["EA", "HUR", "KGM", "MTR", "GLL"]


def invoices(lines: int, count: int = 50) -> list[dict[str, object]]:
    """Raw invoices (as an AR adapter hands them over) with `lines` lines each."""
    result = []
    for n in range(count):
        rows = []
        for i in range(1, lines + 1):
            quantity, price = Decimal(i % 7 + 1), Decimal("12.50") + i
            amount = quantity * price
            tax = (amount * Decimal("0.0825")).quantize(Decimal("0.01"))
            rows.append(
                {
                    "line_number": i,
                    "po_line_number": i,
                    "supplier_part_id": f"PART-{i:03d}",
                    "description": f"Item {i} of invoice {n}",
                    "quantity": str(quantity),
                    "unit_of_measure": UOMS[i % len(UOMS)],
                    "unit_price": str(price),
                    "amount": str(amount),
                    "taxes": [
                        {
                            "category": "sales",
                            "rate_percent": "8.25",
                            "taxable_amount": str(amount),
                            "amount": str(tax),
                        }
                    ],
                    "cost_center": f"CC-{i % 200}",
                }
            )
        subtotal = sum(Decimal(r["amount"]) for r in rows)
        tax_total = sum(Decimal(r["taxes"][0]["amount"]) for r in rows)
        result.append(
            {
                "invoice_number": f"INV-{10000 + n}",
                "invoice_date": "2026-11-19",
                "due_date": "2026-12-19",
                "currency": "USD",
                "customer_id": "C-1001",
                "po_number": f"PO-{100000 + n}",
                "supplier": {
                    "name": "Bluebonnet Industrial Supply LLC",
                    "party_id": "123456789",
                    "tax_id": "74-1234567",
                },
                "buyer": {"name": "Benchmark Buyer", "party_id": "987654321"},
                "lines": rows,
                "subtotal": str(subtotal),
                "tax_total": str(tax_total),
                "total": str(subtotal + tax_total),
                "extrinsics": {"CostCenter": "CC-1"},
            }
        )
    return result


def main() -> None:
    registry = ConnectorRegistry()
    profile = load_profile(HERE / "realistic-coupa.yaml", registry.check_connection)
    rules = compiled(profile)
    refs = cxml_refs_dir()
    dtd = refs / "1.2.037" / "InvoiceDetail.dtd" if refs else None
    if dtd is None:
        print(
            "note: no cXML DTDs (../shared/refs/cxml): pre-flight is measured without the DTD check",
            file=sys.stderr,
        )
    schemas = DocumentSchemas(dtd)
    import httpx

    connector = registry.get("coupa")(
        ConnectorContext(http=httpx.Client(), secrets=PlaceholderSecrets(), now=lambda: NOW)
    )
    envelope = Envelope(payload_id="bench@portalhub", timestamp=NOW, invoice_number="INV-1")
    rows = []
    for lines in (1, 10, 200):
        raw = invoices(lines, count=20 if lines == 200 else 50)
        models = [Invoice.model_validate(r) for r in raw]
        assert not [v for v in rules.evaluate(models[0], NOW.date()) if v.blocking], (
            "the benchmark invoices must pass"
        )
        rules_rate = rate(lambda inv: rules.evaluate(inv, NOW.date()), models)
        render_rate = rate(lambda inv: connector.render(inv, profile, envelope).body, models)
        full_rate = rate(
            lambda r: preflight(Invoice.model_validate(r), profile, connector, schemas, NOW), raw
        )
        rows.append(
            {
                "lines": lines,
                "rules/s": rules_rate,
                "render/s": render_rate,
                "preflight/s": full_rate,
                "preflight/render": render_rate / full_rate,
                "rules target": "ok" if rules_rate >= 2000 else "MISSED",
                "preflight target": ("ok" if full_rate >= 2000 and render_rate / full_rate <= 3 else "MISSED")
                if lines == 10
                else "",
            }
        )
    print(
        f"rules file: {len(profile.rules)} effective rules; DTD check: {'on' if dtd else 'off'}; one core (pid {os.getpid()})"
    )
    report(
        "rules_engine",
        rows,
        [
            "lines",
            "rules/s",
            "render/s",
            "preflight/s",
            "preflight/render",
            "rules target",
            "preflight target",
        ],
    )


if __name__ == "__main__":
    main()
