"""Canonical invoice -> PIDX 1.61 Invoice: golden files, where each field travels, oil and gas
references, errors (edge cases and generated invoices against the schema: test_pidx_schema_validity.py).

Golden files live in tests/golden/ (pidx_*.xml) and are compared byte for byte; after an intended change
of the rendering, regenerate them with

    PORTALHUB_REGENERATE_GOLDEN=1 .venv/bin/pytest -q tests/mappings/test_pidx_invoice.py

and review the diff. Every golden is validated against the official SCHEMA_PIDX_1.61_Invoice.xsd (the
`pidx_invoice_schema` fixture; it fails instead of skipping in CI), and the XPath assertions below come from refs/PORTALS.md and the
schema's element names and code lists, not from the renderer.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from hub.errors import MappingError
from hub.model import Attachment, InvoicePurpose, TaxLine
from mappings.pidx_elements import PIDX_NS
from mappings.pidx_invoice import PartyIdentifier, PidxEnvelope, render, render_tree, serialize
from mappings.xml_safety import parse_untrusted
from tests.conftest import schema_problems
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

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
REGENERATE = os.environ.get("PORTALHUB_REGENERATE_GOLDEN") == "1"


def compare_with_golden(name: str, rendered: bytes) -> None:
    path = GOLDEN_DIR / f"{name}.xml"
    if REGENERATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_bytes(rendered)
    assert path.exists(), f"{path} is missing; create it with PORTALHUB_REGENERATE_GOLDEN=1 and review it"
    golden = path.read_bytes()
    if golden != rendered:
        diff = "\n".join(
            difflib.unified_diff(
                golden.decode().splitlines(),
                rendered.decode().splitlines(),
                "golden",
                "rendered",
                lineterm="",
            )
        )
        pytest.fail(f"{path.name} differs from the rendered document:\n{diff}")


@pytest.mark.parametrize(
    ("name", "build", "number"),
    [
        ("pidx_field_service", field_service_invoice, "INV-30001"),
        ("pidx_credit_memo", credit_memo, "CM-30010"),
    ],
)
def test_rendered_documents_match_their_golden_files_and_the_official_schema(
    name: str, build: object, number: str, pidx_invoice_schema: etree.XMLSchema
) -> None:
    envelope = replace(ENVELOPE, invoice_number=number)
    rendered = render(build(), envelope)  # type: ignore[operator]
    compare_with_golden(name, rendered)
    root = parse_untrusted(rendered)
    assert schema_problems(pidx_invoice_schema, rendered) == []
    assert root.tag == f"{{{PIDX_NS}}}Invoice"
    assert root.get(f"{{{PIDX_NS}}}version") == "1.61"
    assert root.get(f"{{{PIDX_NS}}}transactionPurposeIndicator") == "Original"
    assert rendered.count(b"xmlns:pidx=") == 1  # one namespace declaration, on the root


def test_header_carries_what_portals_md_lists_in_order() -> None:
    root = render_tree(field_service_invoice(), ENVELOPE)
    properties = root.find("pidx:InvoiceProperties", NS)
    assert properties is not None
    names = [etree.QName(child).localname for child in properties]
    # refs/PORTALS.md: InvoiceNumber, InvoiceDate, PartnerInformation*, InvoiceTypeCode?, ...,
    # PurchaseOrderInformation?, FieldTicketInformation?, PrimaryCurrency?, ..., PaymentTerms?,
    # ReferenceInformation*, Attachment*, Comment?
    expected_order = [
        "InvoiceNumber",
        "InvoiceDate",
        "PartnerInformation",
        "PurchaseOrderInformation",
        "PrimaryCurrency",
        "PaymentTerms",
        "ReferenceInformation",
        "Attachment",
        "Comment",
    ]
    positions = [names.index(name) for name in expected_order]
    assert positions == sorted(positions)
    assert xp(root, "//pidx:InvoiceProperties/pidx:InvoiceNumber") == ["INV-30001"]
    assert xp(root, "//pidx:InvoiceProperties/pidx:InvoiceDate") == ["2026-11-20"]  # xs:date
    assert xp(root, "//pidx:PrimaryCurrency/pidx:CurrencyCode") == ["USD"]
    assert xp(root, "//pidx:PurchaseOrderInformation/pidx:PurchaseOrderNumber") == ["4500007001"]
    roles = root.xpath(
        "//pidx:InvoiceProperties/pidx:PartnerInformation/@partnerRoleIndicator", namespaces=NS
    )
    assert roles == ["Seller", "SoldTo", "RemitTo"]
    # Routing identities come from the profile, not from the AR system's party ids.
    assert xp(
        root,
        "//pidx:PartnerInformation[@partnerRoleIndicator='SoldTo']/pidx:PartnerIdentifier[@partnerIdentifierIndicator='DUNSNumber']",
    ) == ["611222333"]
    assert xp(
        root,
        "//pidx:PartnerInformation[@partnerRoleIndicator='Seller']/pidx:PartnerIdentifier[@partnerIdentifierIndicator='DUNSNumber']",
    ) == ["123456789"]
    assert xp(root, "//pidx:PaymentTerms/pidx:TermsNetDays") == ["30"]
    assert xp(root, "//pidx:PaymentTerms/pidx:Discounts/pidx:DaysDue") == ["10"]
    assert xp(root, "//pidx:PaymentTerms/pidx:Discounts/pidx:PercentDiscount") == ["2"]
    assert xp(root, "//pidx:Attachment/pidx:AttachmentLocation") == [
        "cid:INV-30001.pdf.0123456789ab@portalhub"
    ]
    assert xp(root, "//pidx:InvoiceProperties/pidx:Comment") == ["Signed field tickets attached"]
    assert xp(root, "//pidx:InvoiceProperties/pidx:InvoiceTypeCode") == []  # a standard invoice has none


def test_oil_and_gas_references_on_lines_and_shared_ones_in_the_header() -> None:
    root = render_tree(field_service_invoice(), ENVELOPE)
    header = "//pidx:InvoiceProperties/pidx:ReferenceInformation"
    assert xp(root, f"{header}[@referenceInformationIndicator='AFENumber']/pidx:ReferenceNumber") == [
        "AFE-24-0117"
    ]
    assert xp(root, f"{header}[@referenceInformationIndicator='CostCenter']/pidx:ReferenceNumber") == [
        "CC-PERMIAN-OPS"
    ]
    assert xp(
        root,
        f"{header}[@referenceInformationIndicator='Other'][pidx:Description='Approver']/pidx:ReferenceNumber",
    ) == ["J. Ortega"]
    assert xp(
        root, "//pidx:InvoiceProperties/pidx:JobLocationInformation/pidx:WellInformation/pidx:WellIdentifier"
    ) == ["42-329-40112"]
    # Two lines, two field tickets: no single ticket for the whole invoice.
    assert xp(root, "//pidx:InvoiceProperties/pidx:FieldTicketInformation") == []
    # The schema has no field-ticket reference code: a line's ticket is its FieldTicketInformation.
    assert xp(root, "//pidx:ReferenceInformation[@referenceInformationIndicator='FieldTicketNumber']") == []
    for number, ticket in (("1", "FT-8101"), ("2", "FT-8102")):
        item = f"//pidx:InvoiceLineItem[pidx:LineItemNumber='{number}']"
        assert xp(root, f"{item}/pidx:FieldTicketInformation/pidx:FieldTicketNumber") == [ticket]
        assert xp(
            root,
            f"{item}/pidx:ReferenceInformation[@referenceInformationIndicator='AFENumber']/pidx:ReferenceNumber",
        ) == ["AFE-24-0117"]
        assert xp(root, f"{item}/pidx:JobLocationInformation/pidx:WellInformation/pidx:WellIdentifier") == [
            "42-329-40112"
        ]


def test_one_field_ticket_for_every_line_goes_in_the_header() -> None:
    root = render_tree(
        invoice([line(1, "A", "1", "EA", "1.00", **OIL), line(2, "B", "1", "EA", "2.00", **OIL)]), ENVELOPE
    )
    assert xp(root, "//pidx:InvoiceProperties/pidx:FieldTicketInformation/pidx:FieldTicketNumber") == [
        "FT-8101"
    ]


def test_a_value_only_some_lines_have_is_not_put_in_the_header() -> None:
    lines = [line(1, "A", "1", "EA", "1.00", afe_number="AFE-1"), line(2, "B", "1", "EA", "2.00")]
    root = render_tree(invoice(lines), ENVELOPE)
    assert (
        xp(
            root,
            "//pidx:InvoiceProperties/pidx:ReferenceInformation[@referenceInformationIndicator='AFENumber']",
        )
        == []
    )
    assert xp(root, "//pidx:InvoiceLineItem[1]/pidx:ReferenceInformation/pidx:ReferenceNumber") == ["AFE-1"]


def test_lines_carry_quantity_unit_price_taxes_total_and_service_dates() -> None:
    root = render_tree(field_service_invoice(), ENVELOPE)
    item = "//pidx:InvoiceLineItem[pidx:LineItemNumber='1']"
    assert xp(root, f"{item}/pidx:InvoiceQuantity/pidx:Quantity") == ["12"]
    assert xp(root, f"{item}/pidx:InvoiceQuantity/pidx:UnitOfMeasureCode") == ["HUR"]
    assert xp(
        root,
        f"{item}/pidx:LineItemInformation/pidx:LineItemIdentifier[@identifierIndicator='AssignedBySeller']",
    ) == ["SVC-HOTOIL"]
    assert xp(root, f"{item}/pidx:PurchaseOrderLineItemNumber") == ["1"]
    assert xp(root, f"{item}/pidx:Pricing/pidx:UnitPrice/pidx:MonetaryAmount") == ["140.00"]
    assert xp(root, f"{item}/pidx:Tax/pidx:TaxTypeCode") == ["StateAndLocalSalesTax"]
    assert xp(root, f"{item}/pidx:Tax/pidx:TaxLocation/pidx:LocationName") == ["Midland County TX"]
    assert xp(root, f"{item}/pidx:Tax/pidx:TaxRate") == ["8.25"]
    assert xp(root, f"{item}/pidx:Tax/pidx:TaxAmount/pidx:MonetaryAmount") == ["138.60"]
    assert xp(root, f"{item}/pidx:LineItemTotal/pidx:MonetaryAmount") == ["1680.00"]
    assert xp(root, f"{item}/pidx:ServiceDateTime[@dateTypeIndicator='ServicePeriodStart']") == [
        "2026-11-09T00:00:00-06:00"
    ]
    assert xp(root, f"{item}/pidx:ServiceDateTime[@dateTypeIndicator='ServicePeriodEnd']") == [
        "2026-11-10T00:00:00-06:00"
    ]


def test_summary_totals_add_up_exactly() -> None:
    source = field_service_invoice()
    root = render_tree(source, ENVELOPE)
    summary = "//pidx:InvoiceSummary"
    assert xp(root, f"{summary}/pidx:TotalLineItems") == ["2"]
    assert xp(root, f"{summary}/pidx:InvoiceTotal/pidx:MonetaryAmount") == [str(source.total)]
    assert xp(root, f"{summary}/pidx:SubTotalAmount/pidx:MonetaryAmount") == ["2370.00"]
    assert xp(root, f"{summary}/pidx:Tax/pidx:TaxAmount/pidx:MonetaryAmount") == ["138.60"]
    charges = {
        (
            c.get("allowanceOrChargeIndicator"),
            "".join(c.xpath("pidx:AllowanceOrChargeTypeCode/text()", namespaces=NS)),
        ): Decimal(
            "".join(c.xpath("pidx:AllowanceOrChargeTotalAmount/pidx:MonetaryAmount/text()", namespaces=NS))
        )
        for c in root.xpath(f"{summary}/pidx:AllowanceOrCharge", namespaces=NS)
    }
    assert charges == {("Charge", "Freight"): Decimal("85.00"), ("Allowance", "Discount"): Decimal("25.00")}
    # What a portal recomputes: subtotal + taxes + charges - allowances = invoice total.
    assert Decimal("2370.00") + Decimal("138.60") + Decimal("85.00") - Decimal("25.00") == source.total


def test_credit_memo_names_its_type_and_the_original() -> None:
    root = render_tree(credit_memo(), ENVELOPE)
    assert xp(root, "//pidx:InvoiceProperties/pidx:InvoiceTypeCode") == ["CreditMemo"]
    refs = "//pidx:InvoiceProperties/pidx:ReferenceInformation"
    assert xp(
        root, f"{refs}[@referenceInformationIndicator='OriginalInvoiceNumber']/pidx:ReferenceNumber"
    ) == ["INV-30006"]
    assert xp(root, f"{refs}[@referenceInformationIndicator='ContractNumber']/pidx:ReferenceNumber") == [
        "MSA-CAP-2025"
    ]
    assert xp(root, "//pidx:InvoiceSummary/pidx:InvoiceTotal/pidx:MonetaryAmount") == ["-127.00"]
    assert xp(root, "//pidx:PurchaseOrderInformation") == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"purpose": InvoicePurpose.CANCEL, "original_invoice_number": "INV-1"}, "cancel"),
        ({"comments": "bad \x07 bell"}, "<Comment>"),
    ],
)
def test_what_pidx_cannot_carry_is_a_mapping_error(change: dict[str, object], words: str) -> None:
    source = invoice([line(1, "A", "1", "EA", "1.00")], **change)
    with pytest.raises(MappingError, match=words) as raised:
        render_tree(source, ENVELOPE)
    assert "\x07" not in str(raised.value)


def test_an_unknown_tax_category_is_a_mapping_error_naming_it() -> None:
    taxed = line(
        1, "A", "1", "EA", "10.00", taxes=[TaxLine(category="bottle-deposit", amount=Decimal("1.00"))]
    )
    with pytest.raises(MappingError, match="bottle-deposit"):
        render_tree(invoice([taxed]), ENVELOPE)


def test_an_attachment_without_a_content_id_is_a_mapping_error() -> None:
    source = invoice(
        [line(1, "A", "1", "EA", "1.00")], attachments=[Attachment(filename="x.pdf", content=b"%PDF")]
    )
    with pytest.raises(MappingError, match=r"x\.pdf"):
        render_tree(source, PidxEnvelope("INV-30001", PartyIdentifier("1"), PartyIdentifier("2")))


def test_serialized_form_is_the_tree() -> None:
    root = render_tree(field_service_invoice(), ENVELOPE)
    again = parse_untrusted(serialize(root))
    assert etree.tostring(again, method="c14n2", strip_text=True) == etree.tostring(
        root, method="c14n2", strip_text=True
    )
