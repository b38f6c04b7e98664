"""Canonical invoice -> cXML InvoiceDetailRequest: golden files, DTD validity, round trips.

Golden files live in tests/golden/. They are compared byte for byte; after an intended change of the
rendering, regenerate them with

    PORTALHUB_REGENERATE_GOLDEN=1 .venv/bin/pytest -q tests/mappings/test_cxml_invoice.py

and review the diff like code (every golden is also validated against InvoiceDetail.dtd 1.2.037 and
checked with XPath assertions that come from the cXML specification, not from the renderer).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

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
from mappings.cxml_invoice import Credential, CxmlEnvelope, render
from tests.factories import BUYER, SUPPLIER, T0, make_invoice

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"
REGENERATE = os.environ.get("PORTALHUB_REGENERATE_GOLDEN") == "1"
SECRET = "PLACEHOLDER-SECRET-do-not-use"
ORIGINAL_PAYLOAD = "20261101090000.777.original@portalhub.test"
CST = timezone(timedelta(hours=-6), "CST")
CENT = Decimal("0.01")

ENVELOPE = CxmlEnvelope(
    payload_id="20261120150000.4242.golden@portalhub.test",
    timestamp=T0,
    sender=Credential("DUNS", "123456789"),
    from_=Credential("DUNS", "123456789"),
    to=Credential("DUNS", "987654321"),
    shared_secret=SECRET,
    user_agent="portalhub golden tests",
)

#: cXML's names for the canonical purposes (refs/PORTALS.md: InvoiceDetailRequestHeader@purpose).
CXML_PURPOSE = {
    InvoicePurpose.INVOICE: "standard",
    InvoicePurpose.CREDIT_MEMO: "creditMemo",
    InvoicePurpose.DEBIT_MEMO: "debitMemo",
}
PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")


# --- helpers ---------------------------------------------------------------------------------------------


def parse(document: bytes) -> etree._Element:
    # The default lxml parser neither loads the DTD named in the DOCTYPE nor touches the network.
    return etree.fromstring(
        document, etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    )


def assert_valid(dtd: etree.DTD, root: etree._Element) -> None:
    assert dtd.validate(root), (
        f"not valid against InvoiceDetail.dtd 1.2.037:\n{dtd.error_log.filter_from_errors()}"
    )


def one(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath)
    assert len(found) == 1, f"{xpath}: expected exactly one match, found {len(found)}"
    return found[0]


def money(root: etree._Element, xpath: str) -> Decimal:
    return Decimal(one(root, xpath).text)


def header(root: etree._Element) -> etree._Element:
    return one(root, "/cXML/Request/InvoiceDetailRequest/InvoiceDetailRequestHeader")


def pretty(document: bytes) -> list[str]:
    return etree.tostring(parse(document), pretty_print=True, encoding="unicode").splitlines()


def compare_with_golden(name: str, rendered: bytes) -> bytes:
    path = GOLDEN_DIR / f"{name}.xml"
    if REGENERATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_bytes(rendered)
    assert path.exists(), f"{path} is missing; create it with PORTALHUB_REGENERATE_GOLDEN=1 and review it"
    golden = path.read_bytes()
    if golden != rendered:
        diff = "\n".join(
            difflib.unified_diff(pretty(golden), pretty(rendered), "golden", "rendered", lineterm="")
        )
        pytest.fail(
            f"{path.name} differs from the rendered document (diff of the pretty-printed forms below; "
            f"regenerate with PORTALHUB_REGENERATE_GOLDEN=1 if the change is intended):\n{diff}"
        )
    return golden


# --- the golden cases ------------------------------------------------------------------------------------

SHIP_TO = Party(
    name="ACME Plant 4 - Receiving Dock B",
    party_id="ACME-PLANT-4",
    address=Address(
        street=["4000 Refinery Rd", "Dock B"], city="Pasadena", state="TX", postal_code="77506", country="US"
    ),
)
BILL_TO = Party(name="ACME Accounts Payable", party_id="ACME-AP", email="ap@acme.example")


def po_invoice() -> tuple[Invoice, CxmlEnvelope]:
    invoice = make_invoice(
        "INV-24001",
        lines=(("BRG-6205", "40", "EA", "12.50"), ("SEAL-22", "60", "EA", "4.20")),
        tax_rate="8.25",
        po_date=date(2026, 10, 15),
        due_date=date(2026, 12, 20),
        payment_terms=PaymentTerms(net_days=30, discount_percent=Decimal("2"), discount_days=10),
        bill_to=BILL_TO,
        ship_to=SHIP_TO,
    )
    return invoice, ENVELOPE


def service_invoice() -> tuple[Invoice, CxmlEnvelope]:
    base = make_invoice("INV-24002", lines=(("SVC-FIELD", "16", "HUR", "95.00"),))
    line = base.lines[0].model_copy(
        update={
            "description": "Field service technician, pump station 7",
            "service_period": ServicePeriod(start=date(2026, 11, 2), end=date(2026, 11, 6)),
        }
    )
    invoice = Invoice.model_validate({**base.model_dump(), "lines": [line.model_dump()]})
    return invoice, replace(ENVELOPE, timezone=CST)


def contract_invoice() -> tuple[Invoice, CxmlEnvelope]:
    return make_invoice("INV-24003", po=None, contract_number="MSA-1"), ENVELOPE


def credit_memo() -> tuple[Invoice, CxmlEnvelope]:
    invoice = make_invoice(
        "CM-24004",
        purpose=InvoicePurpose.CREDIT_MEMO,
        lines=(("BRG-6205", "-4", "EA", "12.50"),),
        tax_rate="8.25",
        original_invoice_number="INV-24001",
        original_invoice_date=date(2026, 11, 1),
        comments="Credit for 4 bearings returned damaged",
    )
    return invoice, replace(ENVELOPE, original_payload_id=ORIGINAL_PAYLOAD)


def cancel() -> tuple[Invoice, CxmlEnvelope]:
    invoice = make_invoice(
        "INV-24001",
        purpose=InvoicePurpose.CANCEL,
        lines=(("BRG-6205", "40", "EA", "12.50"), ("SEAL-22", "60", "EA", "4.20")),
        original_invoice_number="INV-24001",
        original_invoice_date=date(2026, 11, 1),
    )
    return invoice, replace(ENVELOPE, original_payload_id=ORIGINAL_PAYLOAD)


PDF = b"%PDF-1.4\n% portalhub golden test attachment\n%%EOF\n"


def attachment_invoice() -> tuple[Invoice, CxmlEnvelope]:
    invoice = make_invoice(
        "INV-24005",
        comments="Signed delivery ticket attached",
        attachments=[Attachment(filename="INV-24005.pdf", content=PDF)],
    )
    return invoice, replace(ENVELOPE, attachment_ids={"INV-24005.pdf": "INV-24005.pdf@portalhub.test"})


def extrinsics_invoice() -> tuple[Invoice, CxmlEnvelope]:
    base = make_invoice(
        "INV-24006", lines=(("SVC-FIELD", "8", "HUR", "95.00"), ("SEAL-22", "6", "EA", "4.20"))
    )
    first = base.lines[0].model_copy(
        update={
            "afe_number": "AFE-2026-0142",
            "well_id": "42-501-20130-0000",
            "cost_center": "CC-7710",
            "field_ticket_number": "FT-88213",
            "extrinsics": {"Rig": "Nabors X29"},
        }
    )
    invoice = Invoice.model_validate(
        {
            **base.model_dump(),
            "lines": [first.model_dump(), base.lines[1].model_dump()],
            "extrinsics": {"CostCenter": "CC-7700", "Division": "Permian & Delaware <West>"},
        }
    )
    return invoice, ENVELOPE


GOLDEN_CASES: dict[str, Callable[[], tuple[Invoice, CxmlEnvelope]]] = {
    "cxml_po_invoice_taxes_terms_shipto": po_invoice,
    "cxml_service_period": service_invoice,
    "cxml_contract_no_po": contract_invoice,
    "cxml_credit_memo": credit_memo,
    "cxml_cancel": cancel,
    "cxml_attachment": attachment_invoice,
    "cxml_extrinsics_oil_gas": extrinsics_invoice,
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_rendering_matches_the_golden_file_and_both_validate(name: str, invoice_dtd: etree.DTD) -> None:
    invoice, envelope = GOLDEN_CASES[name]()
    rendered = render(invoice, envelope)
    assert_valid(invoice_dtd, parse(rendered))
    golden = compare_with_golden(name, rendered)
    assert_valid(invoice_dtd, parse(golden))


def test_every_golden_file_has_a_case_and_validates(invoice_dtd: etree.DTD) -> None:
    files = {path.stem: path for path in GOLDEN_DIR.glob("cxml_*.xml")}
    assert set(files) == set(GOLDEN_CASES), "golden files without a case (stale) or cases without a file"
    for path in files.values():
        document = path.read_bytes()
        assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE cXML SYSTEM ')
        assert b"/1.2.037/InvoiceDetail.dtd" in document.split(b"\n")[1]
        assert_valid(invoice_dtd, parse(document))


def test_rendering_is_deterministic() -> None:
    invoice, envelope = po_invoice()
    assert render(invoice, envelope) == render(invoice, envelope)


# --- what each golden must say, from the cXML specification -----------------------------------------------


def test_po_invoice_carries_line_taxes_payment_terms_and_ship_to() -> None:
    invoice, envelope = po_invoice()
    root = parse(render(invoice, envelope))
    head = header(root)
    assert (head.get("invoiceID"), head.get("purpose"), head.get("operation")) == (
        "INV-24001",
        "standard",
        "new",
    )
    assert head.get("invoiceDate") == "2026-11-20T00:00:00+00:00"
    assert one(head, "InvoiceDetailLineIndicator").get("isTaxInLine") == "yes"
    terms = [
        (t.get("payInNumberOfDays"), Decimal(t.get("percentageRate")))
        for t in head.xpath("InvoiceDetailPaymentTerm")
    ]
    assert terms == [("10", Decimal(2)), ("30", Decimal(0))]
    ship_to = one(head, "InvoiceDetailShipping/Contact[@role='shipTo']")
    assert one(ship_to, "Name").text == "ACME Plant 4 - Receiving Dock B"
    assert [s.text for s in ship_to.xpath("PostalAddress/Street")] == ["4000 Refinery Rd", "Dock B"]
    assert one(head, "InvoiceDetailShipping/Contact[@role='shipFrom']/Name").text == SUPPLIER.name
    assert one(head, "InvoicePartner/Contact[@role='billTo']/Email").text == "ap@acme.example"
    assert one(head, "InvoicePartner/IdReference[@domain='supplierTaxID']").get("identifier") == "74-1234567"
    order = one(root, "//InvoiceDetailOrderInfo/OrderReference")
    assert (order.get("orderID"), order.get("orderDate")) == ("PO-100001", "2026-10-15T00:00:00+00:00")
    items = root.xpath("//InvoiceDetailItem")
    # 40 x 12.50 = 500.00, tax 8.25% = 41.25; 60 x 4.20 = 252.00, tax 20.79
    assert [money(i, "Tax/Money") for i in items] == [Decimal("41.25"), Decimal("20.79")]
    assert [one(i, "InvoiceDetailItemReference").get("lineNumber") for i in items] == ["1", "2"]
    assert [one(i, "InvoiceDetailItemReference/ItemID/SupplierPartID").text for i in items] == [
        "BRG-6205",
        "SEAL-22",
    ]
    assert money(root, "//InvoiceDetailSummary/SubtotalAmount/Money") == Decimal("752.00")
    assert money(root, "//InvoiceDetailSummary/Tax/Money") == Decimal("62.04")
    assert money(root, "//InvoiceDetailSummary/NetAmount/Money") == Decimal("814.04")


def test_service_line_carries_its_period_in_the_supplier_zone() -> None:
    invoice, envelope = service_invoice()
    root = parse(render(invoice, envelope))
    item = one(root, "//InvoiceDetailOrder/InvoiceDetailServiceItem")
    assert not root.xpath("//InvoiceDetailOrder/InvoiceDetailItem")
    period = one(item, "Period")
    assert (period.get("startDate"), period.get("endDate")) == (
        "2026-11-02T00:00:00-06:00",
        "2026-11-06T00:00:00-06:00",
    )
    assert one(item, "UnitOfMeasure").text == "HUR"
    assert money(item, "UnitPrice/Money") == Decimal("95.00")
    assert money(item, "SubtotalAmount/Money") == Decimal("1520.00")
    assert (
        one(item, "InvoiceDetailServiceItemReference/Description").text
        == "Field service technician, pump station 7"
    )


def test_contract_invoice_references_the_agreement_and_no_order() -> None:
    invoice, envelope = contract_invoice()
    root = parse(render(invoice, envelope))
    # refs/PORTALS.md: Coupa takes the contract number in MasterAgreementReference.
    assert one(root, "//InvoiceDetailOrderInfo/MasterAgreementReference").get("agreementID") == "MSA-1"
    assert not root.xpath("//OrderReference | //OrderIDInfo | //SupplierOrderInfo")


def test_credit_memo_is_negative_and_refers_to_the_original() -> None:
    invoice, envelope = credit_memo()
    root = parse(render(invoice, envelope))
    head = header(root)
    assert head.get("purpose") == "creditMemo"
    assert head.get("operation") == "new"
    assert one(head, "DocumentReference").get("payloadID") == ORIGINAL_PAYLOAD
    info = one(head, "InvoiceIDInfo")
    assert (info.get("invoiceID"), info.get("invoiceDate")) == ("INV-24001", "2026-11-01T00:00:00+00:00")
    assert Decimal(one(root, "//InvoiceDetailItem").get("quantity")) == Decimal(-4)
    for path in ("SubtotalAmount", "Tax", "NetAmount", "DueAmount"):
        assert money(root, f"//InvoiceDetailSummary/{path}/Money") < 0, path
    assert money(root, "//InvoiceDetailSummary/NetAmount/Money") == Decimal("-54.13")  # -50.00 - 4.13


def test_cancel_deletes_the_original_by_document_reference() -> None:
    invoice, envelope = cancel()
    root = parse(render(invoice, envelope))
    head = header(root)
    assert head.get("operation") == "delete"
    assert head.get("purpose") == "standard"
    assert one(head, "DocumentReference").get("payloadID") == ORIGINAL_PAYLOAD
    assert one(head, "InvoiceIDInfo").get("invoiceID") == "INV-24001"


def test_cancel_of_an_invoice_never_sent_is_a_mapping_error() -> None:
    invoice, envelope = cancel()
    with pytest.raises(MappingError, match="INV-24001"):
        render(invoice, replace(envelope, original_payload_id=None))


def test_credit_memo_without_a_known_original_payload_has_no_document_reference(
    invoice_dtd: etree.DTD,
) -> None:
    invoice, envelope = credit_memo()
    root = parse(render(invoice, replace(envelope, original_payload_id=None)))
    assert_valid(invoice_dtd, root)
    assert not header(root).xpath("DocumentReference")
    assert one(header(root), "InvoiceIDInfo").get("invoiceID") == "INV-24001"


def test_attachment_is_referenced_by_content_id_in_comments() -> None:
    invoice, envelope = attachment_invoice()
    root = parse(render(invoice, envelope))
    comments = one(header(root), "Comments")
    assert comments.text == "Signed delivery ticket attached"
    assert [u.text for u in comments.xpath("Attachment/URL")] == ["cid:INV-24005.pdf@portalhub.test"]
    assert PDF not in render(invoice, envelope)  # the file travels as a MIME part, not inside the XML


def test_header_and_line_extrinsics() -> None:
    invoice, envelope = extrinsics_invoice()
    root = parse(render(invoice, envelope))
    head = {e.get("name"): e.text for e in header(root).xpath("Extrinsic")}
    assert head == {"CostCenter": "CC-7700", "Division": "Permian & Delaware <West>"}
    first, second = root.xpath("//InvoiceDetailOrder/InvoiceDetailItem")
    assert {e.get("name"): e.text for e in first.xpath("Extrinsic")} == {
        "AFENumber": "AFE-2026-0142",
        "WellID": "42-501-20130-0000",
        "CostCenter": "CC-7710",
        "FieldTicketNumber": "FT-88213",
        "Rig": "Nabors X29",
    }
    assert not second.xpath("Extrinsic")


def test_renumbered_resubmission_sends_the_portal_number() -> None:
    invoice, envelope = po_invoice()
    root = parse(render(invoice, replace(envelope, invoice_number="INV-24001-R1")))
    assert header(root).get("invoiceID") == "INV-24001-R1"


def test_amounts_are_plain_decimals_never_exponents() -> None:
    line = InvoiceLine(
        line_number=1,
        supplier_part_id="P",
        description="d",
        quantity=Decimal("1E+2"),
        unit_of_measure="EA",
        unit_price=Decimal("1.5"),
        amount=Decimal("150.0"),
    )
    invoice = make_invoice().model_copy(
        update={"lines": [line], "subtotal": Decimal("1.5E+2"), "total": Decimal("1.5E+2")}
    )
    root = parse(render(invoice, ENVELOPE))
    assert one(root, "//InvoiceDetailItem").get("quantity") == "100"
    assert one(root, "//InvoiceDetailSummary/NetAmount/Money").text == "150"


@pytest.mark.parametrize("bad", ["tab\x0bvertical", "nul\x00byte", "escape\x1b[0m", "nonchar\ufffe"])
def test_text_xml_cannot_carry_is_a_mapping_error_that_names_no_secret(bad: str) -> None:
    invoice = make_invoice(comments=f"Delivered {bad}")
    with pytest.raises(MappingError) as caught:
        render(invoice, ENVELOPE)
    assert "Comments" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_secret_with_a_control_character_is_refused_without_echoing_it() -> None:
    secret = "hunter2\x07bell"
    with pytest.raises(MappingError) as caught:
        render(make_invoice(), replace(ENVELOPE, shared_secret=secret))
    assert "hunter2" not in str(caught.value)
    assert "SharedSecret" in str(caught.value)


def test_blank_extrinsics_are_not_sent() -> None:
    base = make_invoice()
    line = base.lines[0].model_copy(update={"extrinsics": {"Rig": "", "Pad": "7"}})
    invoice = base.model_copy(update={"extrinsics": {"CostCenter": "", "Division": "West"}, "lines": [line]})
    root = parse(render(invoice, ENVELOPE))
    assert [e.get("name") for e in header(root).xpath("Extrinsic")] == ["Division"]
    assert [e.get("name") for e in root.xpath("//InvoiceDetailItem/Extrinsic")] == ["Pad"]


# --- property: any valid invoice renders to a valid document that says what the invoice says ---------------

_XML_INVALID = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
xml_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=_XML_INVALID), min_size=1, max_size=30
)
descriptions = st.one_of(
    xml_text,
    st.sampled_from(
        [
            'Bearings & seals <6205> "2RS"',
            "it's a 1/2\" fitting > spec",
            "Ölfeldservice \u2013 Bohrung Nr. 7 für Ölförderung",
            "配管部品 (ステンレス)",
            "Förderpumpe 🛢️ ∑ ≤ ≥",
            "tab\tand\nnewline and \r return",
        ]
    ),
).filter(lambda text: text.strip() != "")
invoice_numbers = st.text(
    st.sampled_from("ABCINVXYZ0123456789-/_.&<>\"'üé#"), min_size=1, max_size=20
).filter(lambda text: text.strip() != "")
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999"), places=3)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
tax_rates = st.sampled_from([None, Decimal("0"), Decimal("5"), Decimal("8.25"), Decimal("20")])


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    purpose = draw(
        st.sampled_from([InvoicePurpose.INVOICE, InvoicePurpose.CREDIT_MEMO, InvoicePurpose.DEBIT_MEMO])
    )
    sign = Decimal(-1) if purpose is InvoicePurpose.CREDIT_MEMO else Decimal(1)
    lines = []
    for number in range(1, draw(st.integers(1, 30)) + 1):
        quantity = sign * draw(quantities)
        price = draw(prices)
        amount = (quantity * price).quantize(CENT, ROUND_HALF_UP)
        rate = draw(tax_rates)
        taxes = []
        if rate is not None:
            tax = (amount * rate / 100).quantize(CENT, ROUND_HALF_UP)
            taxes.append(
                TaxLine(
                    category=draw(st.sampled_from(["sales", "vat", "gst"])),
                    rate_percent=rate,
                    taxable_amount=amount,
                    amount=tax,
                )
            )
        period = None
        if draw(st.booleans()):
            start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)))
            period = ServicePeriod(start=start, end=start + timedelta(days=draw(st.integers(0, 90))))
        lines.append(
            InvoiceLine(
                line_number=number,
                po_line_number=draw(st.none() | st.integers(1, 999)),
                supplier_part_id=draw(st.none() | st.text("ABCDEFXYZ0123456789-", min_size=1, max_size=12)),
                description=draw(descriptions),
                quantity=quantity,
                unit_of_measure=draw(st.sampled_from(["EA", "HUR", "KGM", "MTR", "LTR"])),
                unit_price=price,
                amount=amount,
                taxes=taxes,
                service_period=period,
                afe_number=draw(st.none() | st.just("AFE-1 & <2>")),
            )
        )
    header_taxes = []
    if draw(st.booleans()):
        header_taxes.append(TaxLine(category="freight tax", amount=sign * draw(prices)))
    charges = []
    if purpose is not InvoicePurpose.CREDIT_MEMO and draw(st.booleans()):
        charges = [
            Charge(kind=ChargeKind.SHIPPING, amount=draw(prices)),
            Charge(kind=ChargeKind.SPECIAL_HANDLING, amount=draw(prices)),
        ]
    subtotal = sum((line.amount for line in lines), Decimal(0))
    tax_total = sum((t.amount for line in lines for t in line.taxes), Decimal(0)) + sum(
        (t.amount for t in header_taxes), Decimal(0)
    )
    total = subtotal + tax_total + sum((c.amount for c in charges), Decimal(0))
    if purpose is not InvoicePurpose.CREDIT_MEMO and draw(st.booleans()):
        discount = -min(draw(prices), total)
        charges.append(Charge(kind=ChargeKind.DISCOUNT, amount=discount))
        total += discount
    with_po = draw(st.booleans())
    return Invoice(
        invoice_number=draw(invoice_numbers),
        invoice_date=draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))),
        purpose=purpose,
        currency=draw(st.sampled_from(["USD", "EUR", "CAD", "JPY", "GBP"])),
        customer_id="C-1",
        po_number="PO-100001" if with_po else None,
        contract_number=None if with_po else "MSA-1",
        original_invoice_number="INV-0" if purpose is InvoicePurpose.CREDIT_MEMO else None,
        supplier=SUPPLIER,
        buyer=BUYER,
        lines=lines,
        taxes=header_taxes,
        charges=charges,
        subtotal=subtotal,
        tax_total=tax_total,
        total=total,
        comments=draw(st.none() | descriptions),
        extrinsics=draw(
            st.dictionaries(st.sampled_from(["CostCenter", "Division", "Note"]), descriptions, max_size=3)
        ),
    )


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(invoice=invoices())
def test_any_valid_invoice_renders_valid_and_round_trips(invoice: Invoice, invoice_dtd: etree.DTD) -> None:
    document = render(invoice, replace(ENVELOPE, original_payload_id=ORIGINAL_PAYLOAD))
    root = parse(document)
    assert_valid(invoice_dtd, root)
    head = header(root)
    assert head.get("invoiceID") == invoice.invoice_number
    assert head.get("purpose") == CXML_PURPOSE[invoice.purpose]
    items = root.xpath(
        "//InvoiceDetailOrder/InvoiceDetailItem | //InvoiceDetailOrder/InvoiceDetailServiceItem"
    )
    assert len(items) == len(invoice.lines)
    for item, line in zip(items, invoice.lines, strict=True):
        assert item.tag == ("InvoiceDetailServiceItem" if line.service_period else "InvoiceDetailItem")
        assert item.get("invoiceLineNumber") == str(line.line_number)
        assert Decimal(item.get("quantity")) == line.quantity
        assert money(item, "UnitPrice/Money") == line.unit_price
        assert money(item, "SubtotalAmount/Money") == line.amount
        assert one(item, "UnitOfMeasure").text == line.unit_of_measure
        assert (
            one(
                item,
                "*[self::InvoiceDetailItemReference or self::InvoiceDetailServiceItemReference]/Description",
            ).text
            == line.description
        )
        if line.taxes:
            assert money(item, "Tax/Money") == line.tax_total
        else:
            assert not item.xpath("Tax")
    assert money(root, "//InvoiceDetailSummary/SubtotalAmount/Money") == invoice.subtotal
    assert money(root, "//InvoiceDetailSummary/Tax/Money") == invoice.tax_total
    assert money(root, "//InvoiceDetailSummary/NetAmount/Money") == invoice.total
    assert money(root, "//InvoiceDetailSummary/DueAmount/Money") == invoice.total
    discount = root.xpath("//InvoiceDetailSummary/InvoiceDetailDiscount/Money")
    gross = money(root, "//InvoiceDetailSummary/GrossAmount/Money")
    assert gross - (Decimal(discount[0].text) if discount else 0) == invoice.total
    monies = root.xpath("//Money")
    assert monies
    for node in monies:
        assert node.get("currency") == invoice.currency
        assert PLAIN_DECIMAL.fullmatch(node.text), node.text
    if invoice.comments:
        assert one(head, "Comments").text == invoice.comments
    assert {e.get("name"): e.text for e in head.xpath("Extrinsic")} == {
        k: v for k, v in invoice.extrinsics.items() if v
    }
    assert_secret_only_in_shared_secret(root, document, SECRET)


def assert_secret_only_in_shared_secret(root: etree._Element, document: bytes, secret: str) -> None:
    holders = root.xpath("//SharedSecret")
    assert [h.text for h in holders] == [secret]
    escaped = secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert document.count(escaped.encode()) == 1
    for element in root.iter():
        texts = [element.text or "", element.tail or "", *element.attrib.values()]
        if element.tag == "SharedSecret":
            texts = texts[1:]
        assert not any(secret in text for text in texts), f"secret leaked into <{element.tag}>"


@pytest.mark.parametrize("secret", ["s3cr&t<\"x>'", "plain-secret-123", "ünïcødé-Geheimnis"])
def test_shared_secret_appears_only_inside_shared_secret(secret: str, invoice_dtd: etree.DTD) -> None:
    invoice, envelope = extrinsics_invoice()
    document = render(invoice, replace(envelope, shared_secret=secret))
    root = parse(document)
    assert_valid(invoice_dtd, root)
    assert one(root, "/cXML/Header/Sender/Credential/SharedSecret").text == secret
    assert not root.xpath("/cXML/Header/From//SharedSecret | /cXML/Header/To//SharedSecret")
    assert_secret_only_in_shared_secret(root, document, secret)
