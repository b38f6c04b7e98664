"""Invoices for the benchmarks, as an AR adapter hands them over: PO invoices with a tax per line that
pass the demo and the realistic rules files; and the small real PDF a web portal wants with each (the
browser connector's tests attach it too)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

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


def make_pdf(text: str) -> bytes:
    """A small, real, one-page PDF (catalog, page tree, page, content stream, font, xref, trailer)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
