"""Every PIDX invoice the renderer can make is valid PIDX 1.61: the edge cases (several lines and
taxes, header tax, every charge, discount terms, parties without ids, attachments, references, debit
memo) and generated invoices are validated against the official SCHEMA_PIDX_1.61_Invoice.xsd, and the
codes they carry come from the schema's code lists (docs/pidx.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.errors import MappingError
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
from mappings.pidx_invoice import render, render_tree
from mappings.xml_safety import parse_untrusted
from tests.conftest import schema_problems
from tests.factories import SUPPLIER
from tests.mappings.pidx_support import (
    ENVELOPE,
    NS,
    OIL,
    credit_memo,
    field_service_invoice,
    invoice,
    line,
    xp,
)


def _edge(lines: list[InvoiceLine], **overrides: object) -> Invoice:
    """An invoice whose totals add up whatever the lines, header taxes and charges are."""
    base = invoice(lines)
    header_taxes = overrides.get("taxes") or []
    charges = overrides.get("charges") or []
    tax_total = base.tax_total + sum((t.amount for t in header_taxes), Decimal(0))  # type: ignore[attr-defined]
    total = base.subtotal + tax_total + sum((c.amount for c in charges), Decimal(0))  # type: ignore[attr-defined]
    return invoice(lines, tax_total=tax_total, total=total, **overrides)


def several_lines_and_taxes() -> Invoice:
    state = TaxLine(category="state", rate_percent=Decimal("6.25"), amount=Decimal("6.25"), description="TX")
    city = TaxLine(category="city", rate_percent=Decimal("2"), amount=Decimal("2.00"), jurisdiction="Midland")
    return _edge(
        [
            line(1, "A", "1", "EA", "100.00", taxes=[state, city]),
            line(2, "B", "2", "EA", "50.00", taxes=[TaxLine(amount=Decimal("8.25"))]),
            line(
                3,
                "C",
                "1",
                "DAY",
                "10.00",
                taxes=[TaxLine(category="WellServiceTax", amount=Decimal("0.50"))],
            ),
        ]
    )


def header_tax() -> Invoice:
    tax = TaxLine(
        category="vat", rate_percent=Decimal("20"), taxable_amount=Decimal("10.00"), amount=Decimal("2.00")
    )
    return _edge([line(1, "A", "1", "EA", "10.00")], taxes=[tax])


def charges_of_every_kind() -> Invoice:
    return _edge(
        [line(1, "A", "1", "EA", "500.00")],
        charges=[
            Charge(kind=ChargeKind.SHIPPING, amount=Decimal("40.00")),
            Charge(kind=ChargeKind.SPECIAL_HANDLING, amount=Decimal("15.00"), description="Hot shot"),
            Charge(kind=ChargeKind.DISCOUNT, amount=Decimal("-10.00"), description="Volume"),
        ],
    )


def discount_terms_and_parties() -> Invoice:
    """Terms with a discount and words; bill-to and ship-to without ids; two street lines."""
    place = Address(
        street=["Yard 4", "CR 1250"], city="Odessa", state="TX", postal_code="79766", country="US"
    )
    return _edge(
        [line(1, "A", "1", "EA", "10.00")],
        payment_terms=PaymentTerms(
            net_days=45, discount_percent=Decimal("1.5"), discount_days=15, description="1.5% 15, net 45"
        ),
        bill_to=Party(name="LEOG Accounts Payable", email="ap@llano-og.example"),
        ship_to=Party(name="LEOG Odessa Yard", address=place),
        po_date=date(2026, 11, 1),
        due_date=date(2026, 12, 20),
    )


def attachments_and_references() -> Invoice:
    return _edge(
        [line(1, "A", "1", "EA", "10.00", extrinsics={"Rig": "Patterson 301"}, **OIL)],
        attachments=[
            Attachment(filename="INV-30001.pdf", content=b"%PDF-1.4 a"),
            Attachment(filename="ticket.png", content_type="image/png", content=b"\x89PNG"),
        ],
        contract_number="MSA-1",
        extrinsics={"Approver": "J. Ortega"},
    )


def debit_memo() -> Invoice:
    return _edge(
        [line(1, "A", "1", "EA", "5.00")], purpose=InvoicePurpose.DEBIT_MEMO, original_invoice_number="INV-1"
    )


EDGE_CASES = {
    "field_service": field_service_invoice,
    "credit_memo": credit_memo,
    "several_lines_and_taxes": several_lines_and_taxes,
    "header_tax": header_tax,
    "charges": charges_of_every_kind,
    "discount_terms_and_parties": discount_terms_and_parties,
    "attachments_and_references": attachments_and_references,
    "debit_memo": debit_memo,
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_every_edge_case_is_valid_pidx_1_61(name: str, pidx_invoice_schema: etree.XMLSchema) -> None:
    envelope = replace(ENVELOPE, attachment_ids={"INV-30001.pdf": "a@portalhub", "ticket.png": "b@portalhub"})
    assert schema_problems(pidx_invoice_schema, render(EDGE_CASES[name](), envelope)) == []


def test_tax_codes_come_from_the_schemas_code_list() -> None:
    root = render_tree(several_lines_and_taxes(), ENVELOPE)
    assert xp(root, "//pidx:InvoiceLineItem/pidx:Tax/pidx:TaxTypeCode") == [
        "StateSalesTax",
        "CitySalesTax",
        "StateAndLocalSalesTax",
        "WellServiceTax",
    ]
    assert xp(root, "//pidx:InvoiceLineItem[1]/pidx:Tax[1]/pidx:TaxReference") == ["TX"]
    summary = {
        code: amount
        for code, amount in zip(
            xp(root, "//pidx:InvoiceSummary/pidx:Tax/pidx:TaxTypeCode"),
            xp(root, "//pidx:InvoiceSummary/pidx:Tax/pidx:TaxAmount/pidx:MonetaryAmount"),
            strict=True,
        )
    }
    assert summary == {
        "StateSalesTax": "6.25",
        "CitySalesTax": "2.00",
        "StateAndLocalSalesTax": "8.25",
        "WellServiceTax": "0.50",
    }


def test_header_taxes_appear_in_full_in_the_summary() -> None:
    root = render_tree(header_tax(), ENVELOPE)
    assert xp(root, "//pidx:InvoiceLineItem/pidx:Tax") == []
    assert xp(root, "//pidx:InvoiceSummary/pidx:Tax/pidx:TaxTypeCode") == ["ValueAddedTax"]
    assert xp(root, "//pidx:InvoiceSummary/pidx:Tax/pidx:TaxBasisAmount/pidx:MonetaryAmount") == ["10.00"]


def test_special_handling_is_the_schemas_special_handling_service() -> None:
    root = render_tree(charges_of_every_kind(), ENVELOPE)
    assert xp(root, "//pidx:AllowanceOrCharge/pidx:AllowanceOrChargeTypeCode") == [
        "Freight",
        "SpecialHandlingService",
        "Discount",
    ]
    assert xp(root, "//pidx:AllowanceOrCharge/pidx:AllowanceOrChargeDescription") == ["Hot shot", "Volume"]


def test_every_partner_has_an_identifier_and_contacts_say_their_role_in_words() -> None:
    root = render_tree(discount_terms_and_parties(), ENVELOPE)
    partners = root.xpath("//pidx:InvoiceProperties/pidx:PartnerInformation", namespaces=NS)
    assert [p.get("partnerRoleIndicator") for p in partners] == [
        "Seller",
        "SoldTo",
        "RemitTo",
        "BillTo",
        "ShipToParty",
    ]
    assert all(p.xpath("pidx:PartnerIdentifier", namespaces=NS) for p in partners)
    # A bill-to or ship-to without its own id belongs to the buyer: the buyer's routing id names it.
    assert xp(
        root, "//pidx:PartnerInformation[@partnerRoleIndicator='ShipToParty']/pidx:PartnerIdentifier"
    ) == ["611222333"]
    assert xp(root, "//pidx:PartnerInformation[@partnerRoleIndicator='ShipToParty']//pidx:StreetName") == [
        "Yard 4"
    ]
    assert xp(root, "//pidx:PartnerInformation[@partnerRoleIndicator='ShipToParty']//pidx:AddressLine") == [
        "CR 1250"
    ]
    assert xp(
        root,
        "//pidx:PartnerInformation[@partnerRoleIndicator='BillTo']/pidx:ContactInformation/pidx:ContactDescription",
    ) == ["Accounts Payable"]
    assert root.xpath("//@contactInformationIndicator") == []
    assert xp(
        root,
        "//pidx:PartnerInformation[@partnerRoleIndicator='Seller']/pidx:TaxInformation/pidx:TaxIdentifierNumber",
    ) == [SUPPLIER.tax_id]
    assert xp(root, "//pidx:PurchaseOrderInformation/pidx:PurchaseOrderIssuedDate") == ["2026-11-01"]
    assert xp(root, "//pidx:PaymentTerms/pidx:Description") == ["1.5% 15, net 45"]
    assert xp(root, "//pidx:PaymentTerms/pidx:Discounts/pidx:DaysDue") == ["15"]


def test_a_use_tax_has_no_pidx_code_and_is_a_mapping_error() -> None:
    taxed = line(1, "A", "1", "EA", "10.00", taxes=[TaxLine(category="use", amount=Decimal("1.00"))])
    with pytest.raises(MappingError, match=r"'use'.*no PIDX 1\.61 TaxTypeCode"):
        render_tree(invoice([taxed]), ENVELOPE)


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=20
).filter(str.strip)
_MONEY = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2)
_TAX_CATEGORIES = st.sampled_from(["sales", "state", "city", "county", "local", "vat", "gst", "hst", "pst"])


@st.composite
def _taxes(draw: st.DrawFn) -> list[TaxLine]:
    return [
        TaxLine(
            category=draw(_TAX_CATEGORIES),
            rate_percent=draw(st.none() | st.decimals(min_value=0, max_value=30, places=2)),
            amount=draw(_MONEY),
            description=draw(st.none() | _TEXT),
            jurisdiction=draw(st.none() | _TEXT),
        )
        for _ in range(draw(st.integers(min_value=0, max_value=2)))
    ]


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    count = draw(st.integers(min_value=1, max_value=4))
    lines = []
    for n in range(1, count + 1):
        quantity = draw(st.integers(min_value=1, max_value=500))
        price = draw(_MONEY)
        refs = {key: draw(st.none() | _TEXT) for key in OIL}
        start = draw(st.none() | st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 11, 1)))
        lines.append(
            InvoiceLine(
                line_number=n,
                supplier_part_id=draw(st.none() | _TEXT),
                buyer_part_id=draw(st.none() | _TEXT),
                description=draw(_TEXT),
                quantity=Decimal(quantity),
                unit_of_measure=draw(st.sampled_from(["EA", "HUR", "FOT", "DAY", "GLL"])),
                unit_price=price,
                amount=Decimal(quantity) * price,
                taxes=draw(_taxes()),
                po_line_number=draw(st.none() | st.integers(min_value=1, max_value=99)),
                service_period=ServicePeriod(start=start, end=start + timedelta(days=2)) if start else None,
                **refs,
            )
        )
    charges = [
        Charge(kind=kind, amount=-amount if kind is ChargeKind.DISCOUNT else amount)
        for kind, amount in draw(st.lists(st.tuples(st.sampled_from(list(ChargeKind)), _MONEY), max_size=2))
    ]
    # An invoice total cannot be negative: keep only discounts smaller than the lines' sum.
    room = sum((item.amount for item in lines), Decimal(0))
    kept = []
    for charge in charges:
        if charge.kind is ChargeKind.DISCOUNT:
            if -charge.amount >= room:
                continue
            room += charge.amount
        kept.append(charge)
    charges = kept
    terms = draw(
        st.none()
        | st.builds(
            PaymentTerms,
            net_days=st.integers(min_value=0, max_value=90),
            discount_percent=st.none() | st.decimals(min_value=Decimal("0.5"), max_value=5, places=1),
            discount_days=st.none() | st.integers(min_value=0, max_value=30),
        )
    )
    return _edge(
        lines,
        comments=draw(st.none() | _TEXT),
        po_number=draw(st.none() | _TEXT),
        taxes=draw(_taxes()),
        charges=charges,
        payment_terms=terms,
        ship_to=draw(st.none() | st.builds(Party, name=_TEXT, party_id=st.none() | _TEXT)),
        extrinsics=draw(st.dictionaries(_TEXT, _TEXT, max_size=2)),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invoices())
def test_every_generated_invoice_is_valid_pidx_and_keeps_every_line(
    pidx_invoice_schema: etree.XMLSchema, source: Invoice
) -> None:
    rendered = render(source, ENVELOPE)
    assert schema_problems(pidx_invoice_schema, rendered) == []
    root = parse_untrusted(rendered)
    totals = [Decimal(t) for t in xp(root, "//pidx:InvoiceLineItem/pidx:LineItemTotal/pidx:MonetaryAmount")]
    assert totals == [item.amount for item in source.lines]
    assert Decimal(xp(root, "//pidx:InvoiceSummary/pidx:InvoiceTotal/pidx:MonetaryAmount")[0]) == source.total
    for item in source.lines:
        found = xp(
            root,
            f"//pidx:InvoiceLineItem[pidx:LineItemNumber='{item.line_number}']/pidx:ReferenceInformation[@referenceInformationIndicator='AFENumber']/pidx:ReferenceNumber",
        )
        assert found == ([item.afe_number.strip()] if item.afe_number else [])
