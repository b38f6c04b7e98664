"""JSON, cXML and UBL exports through the files adapter: what each becomes, and what is refused and why.

cXML is checked by round trips through the hub's own renderer (every golden document, and any invoice
hypothesis draws), UBL against hand-written Peppol-shaped documents whose figures are worked out here."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.ar.files import FilesSettings
from hub.ar.files.common import Export, FileProblem
from hub.ar.files.cxml_format import invoice_from_cxml
from hub.ar.files.xml_format import read_xml
from hub.model import ChargeKind, Invoice, InvoicePurpose
from mappings.cxml_invoice import render
from tests.ar.support import EXPORTS, by_key, drop, drop_fixture, files_adapter, files_in, pull
from tests.factories import SUPPLIER
from tests.mappings.test_cxml_invoice import ENVELOPE, GOLDEN_CASES, GOLDEN_DIR, ORIGINAL_PAYLOAD, invoices

SETTINGS = FilesSettings.model_validate(
    {"folder": "unused", "customers": {"C-1": {"ids": ["DUNS:987654321"]}}}
)


# --- JSON ------------------------------------------------------------------------------------------------
def test_a_json_invoice_takes_the_hubs_supplier_and_exact_decimals(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "invoice-INV-3201.json")
    drop_fixture(tmp_path, "invoices.jsonl")
    records = by_key(pull(files_adapter(tmp_path)))
    assert sorted(records) == ["INV-3201", "INV-3301", "INV-3302"]
    invoice = records["INV-3201"].invoice
    assert invoice is not None and invoice.supplier == SUPPLIER and invoice.total == Decimal("50.00")
    floaty = records["INV-3302"].invoice  # money as JSON numbers: read exactly, never through a float
    assert floaty is not None and floaty.lines[0].unit_price == Decimal("12.50")
    assert str(floaty.total) == "25.00"


def test_json_lines_are_held_back_one_at_a_time_with_their_line_number(tmp_path: Path) -> None:
    good = json.loads((EXPORTS / "invoice-INV-3201.json").read_text())
    lines = [
        json.dumps(good),
        '{"invoice_number": "INV-2", "broken',
        json.dumps({**good, "invoice_number": "INV-3", "currency": "usd"}),
        json.dumps({**good, "invoice_number": "INV-4", "total": "0.1e2"}),
        json.dumps([1, 2]),
    ]
    drop(tmp_path, "batch.jsonl", "\n".join(lines) + "\n")
    records = by_key(pull(files_adapter(tmp_path)))
    assert records["INV-3201"].invoice is not None
    assert (records["batch.jsonl:line 2"].error or "").startswith("batch.jsonl line 2: not valid JSON:")
    assert records["INV-3"].error == (
        "batch.jsonl line 3: currency: currency must be an ISO 4217 code of three capital letters, got 'usd'"
    )
    assert (records["INV-4"].error or "").startswith(
        "batch.jsonl line 4: invoice: total 1E+1 is not subtotal"
    )
    assert records["batch.jsonl:line 5"].error == "batch.jsonl line 5: expected an invoice object, found list"
    report = (tmp_path / "error" / "batch.jsonl.error.txt").read_text()
    assert "line 3 (INV-3): currency: currency must be an ISO 4217 code" in report


def test_a_json_file_that_is_not_json_is_a_file_problem(tmp_path: Path) -> None:
    drop(tmp_path, "x.json", "{'single': 'quotes'}")
    [record] = pull(files_adapter(tmp_path))
    assert record.key == "file:x.json"
    assert (record.error or "").startswith("x.json is not valid JSON: Expecting property name")
    assert files_in(tmp_path) == ["error/x.json", "error/x.json.error.txt"]


# --- cXML ------------------------------------------------------------------------------------------------
def test_an_ar_systems_own_cxml_is_retargeted_and_its_credentials_are_dropped(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "cxml-INV-3401.xml")
    [record] = pull(files_adapter(tmp_path))
    invoice = record.invoice
    assert invoice is not None and invoice.customer_id == "C-1"  # To DUNS:987654321, mapped
    assert invoice.total == Decimal("286.87") and invoice.currency == "USD"
    assert invoice.payment_terms is not None and invoice.payment_terms.discount_days == 10
    assert invoice.ship_to is not None and invoice.ship_to.name == "ACME Plant 2"
    assert invoice.extrinsics == {"CostCenter": "CC-4410"}
    assert invoice.supplier == SUPPLIER
    assert "the-ar-systems-own-network-secret" not in json.dumps(record.raw) + invoice.model_dump_json()


def test_an_unmapped_buyer_is_the_sold_to_address_id(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "cxml-INV-3401.xml")
    [record] = pull(files_adapter(tmp_path, customers={}))
    assert record.invoice is not None and record.invoice.customer_id == "987654321"


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_every_golden_cxml_document_reads_back_as_the_invoice_it_was_rendered_from(name: str) -> None:
    original, _ = GOLDEN_CASES[name]()
    imported = invoice_from_cxml(_parse((GOLDEN_DIR / f"{name}.xml").read_bytes()), SETTINGS, SUPPLIER)
    # cXML has no due date, and carries attachments beside the document (MIME), not in it.
    assert imported == original.model_copy(update={"due_date": None, "attachments": []})


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(invoice=invoices())
def test_any_invoice_rendered_to_cxml_reads_back_unchanged(invoice: Invoice) -> None:
    document = render(
        invoice, ENVELOPE.__class__(**{**ENVELOPE.__dict__, "original_payload_id": ORIGINAL_PAYLOAD})
    )
    assert invoice_from_cxml(_parse(document), SETTINGS, SUPPLIER) == invoice


def test_cxml_that_is_not_an_invoice_or_not_safe_is_refused_with_the_reason(tmp_path: Path) -> None:
    drop(tmp_path, "order.xml", '<cXML payloadID="x"><Request><OrderRequest/></Request></cXML>')
    drop(
        tmp_path,
        "bomb.xml",
        '<?xml version="1.0"?><!DOCTYPE cXML [<!ENTITY a "aaaaaaaaaa">]><cXML>&a;</cXML>',
    )
    drop(tmp_path, "note.xml", "<note>hello</note>")
    drop(tmp_path, "half.xml", "<cXML><Request>")
    records = {r.key: r.error for r in pull(files_adapter(tmp_path))}
    assert (
        records["order.xml"]
        == "order.xml: the cXML document holds a OrderRequest, not an InvoiceDetailRequest"
    )
    assert records["file:bomb.xml"] == (
        "bomb.xml cannot be read as XML: the document declares entities in its DOCTYPE; refused"
    )
    assert records["file:note.xml"] == (
        "note.xml is not a cXML InvoiceDetailRequest or a UBL 2.1 Invoice/CreditNote (its root element is <note>)"
    )
    assert (records["file:half.xml"] or "").startswith("half.xml cannot be read as XML: not well-formed XML")
    assert sorted(p for p in files_in(tmp_path) if not p.endswith(".txt")) == [
        "error/bomb.xml",
        "error/half.xml",
        "error/note.xml",
        "error/order.xml",
    ]


# --- UBL -------------------------------------------------------------------------------------------------
def test_a_ubl_invoice_with_document_level_tax_and_freight(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "ubl-INV-3501.xml")
    [record] = pull(files_adapter(tmp_path))
    invoice = record.invoice
    assert invoice is not None, record.error
    assert (invoice.invoice_number, invoice.customer_id, invoice.currency) == ("INV-3501", "C-1", "USD")
    assert invoice.po_number == "PO-100001" and invoice.due_date == date(2026, 12, 20)
    assert invoice.payment_terms is not None and invoice.payment_terms.net_days == 30
    assert invoice.payment_terms.description == "Net 30"
    # 10 x 12.50 + 100 seals at 30.50 per 100 = 155.50; freight 15.00; tax 8.25 % of 170.50 = 14.07
    assert [(line.quantity, line.unit_price, line.amount) for line in invoice.lines] == [
        (Decimal("10"), Decimal("12.50"), Decimal("125.00")),
        (Decimal("100"), Decimal("0.305"), Decimal("30.50")),
    ]
    assert [(c.kind, c.amount, c.description) for c in invoice.charges] == [
        (ChargeKind.SHIPPING, Decimal("15.00"), "Freight")
    ]
    assert [(t.category, t.rate_percent, t.taxable_amount, t.amount) for t in invoice.taxes] == [
        ("vat", Decimal("8.25"), Decimal("170.50"), Decimal("14.07"))
    ]
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("155.50"),
        Decimal("14.07"),
        Decimal("184.57"),
    )
    assert invoice.buyer.tax_id == "75-9876543" and invoice.buyer.email == "ap@acme.example"
    assert invoice.buyer.address is not None and invoice.buyer.address.city == "Dallas"
    assert invoice.ship_to is not None and invoice.ship_to.party_id == "ACME-P2"
    assert invoice.extrinsics == {"CostCenter": "CC-4410"}
    assert invoice.lines[1].description == "Shaft seal 22 mm"  # no Description: the item's Name


def test_a_ubl_credit_note_becomes_a_negative_credit_memo(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "ubl-CN-3502.xml")
    [record] = pull(files_adapter(tmp_path, customers={}))  # SupplierAssignedAccountID names C-1 itself
    invoice = record.invoice
    assert invoice is not None, record.error
    assert invoice.purpose is InvoicePurpose.CREDIT_MEMO and invoice.customer_id == "C-1"
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("-25.00"),
        Decimal("-2.06"),
        Decimal("-27.06"),
    )
    assert (invoice.lines[0].quantity, invoice.lines[0].unit_price) == (Decimal("-2"), Decimal("12.50"))
    assert (invoice.original_invoice_number, invoice.original_invoice_date) == (
        "INV-3501",
        date(2026, 11, 20),
    )


def _ubl(tmp_path: Path, name: str, old: str, new: str) -> str:
    text = (EXPORTS / "ubl-INV-3501.xml").read_text().replace(old, new)
    drop(tmp_path, name, text)
    return name


def test_ubl_documents_portalhub_cannot_send_say_why(tmp_path: Path) -> None:
    _ubl(tmp_path, "self.xml", "<cbc:InvoiceTypeCode>380", "<cbc:InvoiceTypeCode>389")
    _ubl(tmp_path, "eur.xml", '<cbc:Amount currencyID="USD">15.00', '<cbc:Amount currencyID="EUR">15.00')
    _ubl(
        tmp_path,
        "sum.xml",
        '<cbc:TaxInclusiveAmount currencyID="USD">184.57',
        '<cbc:TaxInclusiveAmount currencyID="USD">184.75',
    )
    _ubl(
        tmp_path,
        "ns.xml",
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
        "urn:oasis:names:specification:ubl:schema:xsd:Order-2",
    )
    errors = {r.key: r.error for r in pull(files_adapter(tmp_path))}
    assert errors["file:ns.xml"] == (
        "ns.xml is not a cXML InvoiceDetailRequest or a UBL 2.1 Invoice/CreditNote (its root element is "
        "<Invoice> in namespace urn:oasis:names:specification:ubl:schema:xsd:Order-2)"
    )
    # Three documents with one invoice number: each is quarantined under it with its own reason.
    messages = sorted(
        p.read_text().splitlines()[-1]
        for p in (tmp_path / "error").glob("*.xml.error.txt")
        if p.name != "ns.xml.error.txt"
    )
    assert messages == [
        "document (INV-3501): cbc:Amount is in EUR, the document in USD",
        "document (INV-3501): cbc:InvoiceTypeCode 389 is a self-billed invoice (issued by the buyer); it is not sent",
        "document (INV-3501): invoice: total 184.75 is not subtotal 155.50 + tax 14.07 + charges 15.00 = 184.57",
    ]


def _parse(document: bytes) -> etree._Element:
    from mappings.xml_safety import parse_untrusted

    return parse_untrusted(document)


def test_a_json_nested_too_deeply_is_refused_not_a_crash(tmp_path: Path) -> None:
    good = (EXPORTS / "invoice-INV-3201.json").read_text().replace("\n", " ")
    deep = "[" * 100_000 + "]" * 100_000
    drop(tmp_path, "deep.jsonl", f"{deep}\n{good}\n")
    drop(tmp_path, "deep.json", deep)
    records = by_key(pull(files_adapter(tmp_path)))
    assert records["INV-3201"].invoice is not None
    too_deep = "it nests arrays or objects too deeply to be an invoice"
    assert records["deep.jsonl:line 1"].error == f"deep.jsonl line 1: not valid JSON: {too_deep}"
    assert records["file:deep.json"].error == f"deep.json is not valid JSON: {too_deep}"


def test_an_empty_tax_amount_in_cxml_is_named(tmp_path: Path) -> None:
    text = (EXPORTS / "cxml-INV-3401.xml").read_text()
    amount = '<TaxAmount><Money currency="USD">6.19</Money></TaxAmount>'
    assert text.count(amount) == 1
    drop(tmp_path, "tax.xml", text.replace(amount, '<TaxAmount><Money currency="USD"></Money></TaxAmount>'))
    [record] = pull(files_adapter(tmp_path))
    assert record.error == "tax.xml: line 1 Tax/TaxDetail/TaxAmount/Money is empty (document line 3)"


_DOCUMENTS = {
    name: (EXPORTS / name).read_bytes()
    for name in ("cxml-INV-3401.xml", "ubl-INV-3501.xml", "ubl-CN-3502.xml")
}
_VALUES = ["", " ", "x", "0", "-1", "1e5", "NaN", "2026-02-30", "12,5", "9" * 30, "EUR"]


@st.composite
def _mangled(draw: st.DrawFn) -> bytes:
    """A sample document with a few elements removed, texts replaced or attributes changed or removed."""
    root = etree.fromstring(_DOCUMENTS[draw(st.sampled_from(sorted(_DOCUMENTS)))])
    for _ in range(draw(st.integers(1, 4))):
        nodes = list(root.iter())
        node = nodes[draw(st.integers(0, len(nodes) - 1))]
        change = draw(st.sampled_from(["remove", "text", "attribute"]))
        if change == "remove" and node.getparent() is not None:
            node.getparent().remove(node)
        elif change == "text":
            node.text = draw(st.sampled_from(_VALUES))
        elif node.attrib:
            name = draw(st.sampled_from(sorted(node.attrib)))
            if draw(st.booleans()):
                del node.attrib[name]
            else:
                node.attrib[name] = draw(st.sampled_from(_VALUES))
    return etree.tostring(root)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_mangled())
def test_a_mangled_document_is_one_record_or_a_file_problem_never_a_crash(document: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mangled.xml"
        path.write_bytes(document)
        try:
            found = list(read_xml(Export((path,), "xml", "0" * 64), SETTINGS, SUPPLIER))
        except FileProblem:
            return
    [one] = found
    assert (one.record.invoice is None) != (one.record.error is None)
