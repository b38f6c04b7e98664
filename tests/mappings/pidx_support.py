"""Builders shared by the PIDX invoice tests: invoices written here, from the canonical model, with
the oil and gas references OpenInvoice buyers ask for."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from decimal import Decimal

from lxml import etree

from hub.model import (
    Address,
    Attachment,
    Charge,
    ChargeKind,
    Invoice,
    InvoiceLine,
    InvoicePurpose,
    Party,
    PaymentTerms,
    ServicePeriod,
    TaxLine,
)
from mappings.pidx_elements import PIDX_NS
from mappings.pidx_invoice import PartyIdentifier, PidxEnvelope
from tests.factories import SUPPLIER

NS = {"pidx": PIDX_NS}
CST = timezone(timedelta(hours=-6), "CST")
ENVELOPE = PidxEnvelope(
    invoice_number="INV-30001",
    seller=PartyIdentifier("123456789"),
    buyer=PartyIdentifier("611222333"),
    timezone=CST,
    attachment_ids={"INV-30001.pdf": "INV-30001.pdf.0123456789ab@portalhub"},
)
BUYER = Party(
    name="Llano Estacado Oil & Gas",
    party_id="611222333",
    tax_id="75-6112223",
    email="ap@llano-og.example",
    address=Address(
        street=["500 W Texas Ave"], city="Midland", state="TX", postal_code="79701", country="US"
    ),
)


def line(
    number: int,
    part: str,
    quantity: str,
    uom: str,
    price: str,
    *,
    taxes: list[TaxLine] | None = None,
    **extra: object,
) -> InvoiceLine:
    return InvoiceLine(
        line_number=number,
        supplier_part_id=part,
        description=f"{part} service",
        quantity=Decimal(quantity),
        unit_of_measure=uom,
        unit_price=Decimal(price),
        amount=Decimal(quantity) * Decimal(price),
        taxes=taxes or [],
        **extra,  # type: ignore[arg-type]
    )


def invoice(lines: list[InvoiceLine], **overrides: object) -> Invoice:
    subtotal = sum((item.amount for item in lines), Decimal(0))
    tax = sum((item.tax_total for item in lines), Decimal(0))
    values: dict[str, object] = {
        "invoice_number": "INV-30001",
        "invoice_date": date(2026, 11, 20),
        "currency": "USD",
        "customer_id": "C-5001",
        "po_number": "4500007001",
        "supplier": SUPPLIER,
        "buyer": BUYER,
        "lines": lines,
        "subtotal": subtotal,
        "tax_total": tax,
        "total": subtotal + tax,
    }
    values.update(overrides)
    return Invoice(**values)  # type: ignore[arg-type]


OIL = {
    "afe_number": "AFE-24-0117",
    "well_id": "42-329-40112",
    "cost_center": "CC-PERMIAN-OPS",
    "field_ticket_number": "FT-8101",
}


def field_service_invoice() -> Invoice:
    """Two lines on one AFE, well and cost center, two field tickets, a service period, sales tax,
    terms with a discount, a PDF, freight and a discount allowance."""
    tax = TaxLine(
        rate_percent=Decimal("8.25"),
        taxable_amount=Decimal("1680.00"),
        amount=Decimal("138.60"),
        jurisdiction="Midland County TX",
    )
    lines = [
        line(
            1,
            "SVC-HOTOIL",
            "12",
            "HUR",
            "140.00",
            taxes=[tax],
            po_line_number=1,
            service_period=ServicePeriod(start=date(2026, 11, 9), end=date(2026, 11, 10)),
            **OIL,
        ),
        line(
            2, "SVC-VAC", "6", "HUR", "115.00", po_line_number=3, **{**OIL, "field_ticket_number": "FT-8102"}
        ),
    ]
    charges = [
        Charge(kind=ChargeKind.SHIPPING, amount=Decimal("85.00"), description="Mobilisation"),
        Charge(kind=ChargeKind.DISCOUNT, amount=Decimal("-25.00")),
    ]
    base = invoice(lines)
    return invoice(
        lines,
        charges=charges,
        total=base.total + Decimal("60.00"),
        payment_terms=PaymentTerms(net_days=30, discount_percent=Decimal("2"), discount_days=10),
        attachments=[Attachment(filename="INV-30001.pdf", content=b"%PDF-1.4 field ticket")],
        comments="Signed field tickets attached",
        extrinsics={"CostCenter": "CC-PERMIAN-OPS", "Approver": "J. Ortega"},
    )


def credit_memo() -> Invoice:
    lines = [line(1, "PIPE-2-78", "-20", "FOT", "6.35", **OIL)]
    return invoice(
        lines,
        invoice_number="CM-30010",
        purpose=InvoicePurpose.CREDIT_MEMO,
        original_invoice_number="INV-30006",
        contract_number="MSA-CAP-2025",
        po_number=None,
    )


def xp(root: etree._Element, path: str) -> list[str]:
    return [
        str(v).strip() if isinstance(v, str) else "".join(v.itertext()).strip()
        for v in root.xpath(path, namespaces=NS)
    ]
