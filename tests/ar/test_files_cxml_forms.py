"""Coupa-origin cXML invoices through the files adapter, typed by hand in the shapes InvoiceDetail.dtd
allows and Coupa-origin documents use (each validated against the DTD here, so they are real cXML):
no soldTo where the To credential names the customer, the PO in OrderReference/DocumentReference or
OrderIDInfo, header-level invoices, service items, PaymentTerm, shipping and special handling. A value
that cannot be read is an error naming the element and the document line; an import rendered again by
the hub keeps PO, terms, taxes, shipping and special handling."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from hub.ar.files import FilesSettings
from hub.ar.files.cxml_format import invoice_from_cxml
from hub.model import ChargeKind, Invoice
from mappings.cxml_invoice import render
from mappings.xml_safety import parse_untrusted
from tests.ar.support import drop, files_adapter, pull
from tests.factories import SUPPLIER
from tests.mappings.test_cxml_invoice import ENVELOPE

SETTINGS = FilesSettings.model_validate(
    {"folder": "unused", "customers": {"C-1": {"ids": ["DUNS:987654321"], "name": "ACME Manufacturing"}}}
)
DOCTYPE = '<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.037/InvoiceDetail.dtd">'
HEADER = """<Header>
    <From><Credential domain="DUNS"><Identity>123456789</Identity></Credential></From>
    <To><Credential domain="DUNS"><Identity>987654321</Identity></Credential></To>
    <Sender>
      <Credential domain="DUNS"><Identity>123456789</Identity><SharedSecret>coupa-export-secret</SharedSecret></Credential>
      <UserAgent>Coupa Supplier Portal</UserAgent>
    </Sender>
  </Header>"""

#: Line level, no soldTo, the PO only in OrderReference/DocumentReference, a goods line with its tax,
#: a service line without quantity, PaymentTerm net 30 and 2% in 10, shipping and special handling.
COUPA_LINES = f"""<?xml version="1.0" encoding="UTF-8"?>
{DOCTYPE}
<cXML payloadID="1700000000.123@coupa.example" timestamp="2026-11-20T09:00:00-06:00" xml:lang="en-US">
  {HEADER}
  <Request deploymentMode="production">
    <InvoiceDetailRequest>
      <InvoiceDetailRequestHeader invoiceID="CP-9001" purpose="standard" operation="new" invoiceDate="2026-11-19T00:00:00-06:00">
        <InvoiceDetailHeaderIndicator/>
        <InvoiceDetailLineIndicator isTaxInLine="yes" isShippingInLine="yes" isSpecialHandlingInLine="yes"/>
        <InvoicePartner>
          <Contact role="remitTo" addressID="R-1"><Name xml:lang="en-US">Bluebonnet Industrial Supply LLC</Name></Contact>
        </InvoicePartner>
        <PaymentTerm payInNumberOfDays="30"/>
        <PaymentTerm payInNumberOfDays="10"><Discount><DiscountPercent percent="2"/></Discount></PaymentTerm>
        <Comments xml:lang="en-US">Thank you for your business</Comments>
      </InvoiceDetailRequestHeader>
      <InvoiceDetailOrder>
        <InvoiceDetailOrderInfo>
          <OrderReference orderDate="2026-11-01T00:00:00-06:00">
            <DocumentReference payloadID="PO-4500012345"/>
          </OrderReference>
        </InvoiceDetailOrderInfo>
        <InvoiceDetailItem invoiceLineNumber="1" quantity="4">
          <UnitOfMeasure>EA</UnitOfMeasure>
          <UnitPrice><Money currency="USD">25.00</Money></UnitPrice>
          <InvoiceDetailItemReference lineNumber="1">
            <ItemID><SupplierPartID>BRG-6205</SupplierPartID></ItemID>
            <Description xml:lang="en-US">Bearing 6205</Description>
          </InvoiceDetailItemReference>
          <SubtotalAmount><Money currency="USD">100.00</Money></SubtotalAmount>
          <Tax>
            <Money currency="USD">8.25</Money>
            <Description xml:lang="en-US">sales tax</Description>
            <TaxDetail category="sales" percentageRate="8.25">
              <TaxableAmount><Money currency="USD">100.00</Money></TaxableAmount>
              <TaxAmount><Money currency="USD">8.25</Money></TaxAmount>
              <TaxLocation xml:lang="en-US">TX</TaxLocation>
            </TaxDetail>
          </Tax>
        </InvoiceDetailItem>
        <InvoiceDetailServiceItem invoiceLineNumber="2">
          <InvoiceDetailServiceItemReference lineNumber="2">
            <Description xml:lang="en-US">Field service, November</Description>
          </InvoiceDetailServiceItemReference>
          <SubtotalAmount><Money currency="USD">400.00</Money></SubtotalAmount>
          <Period startDate="2026-11-01T00:00:00-06:00" endDate="2026-11-15T00:00:00-06:00"/>
        </InvoiceDetailServiceItem>
      </InvoiceDetailOrder>
      <InvoiceDetailSummary>
        <SubtotalAmount><Money currency="USD">500.00</Money></SubtotalAmount>
        <Tax>
          <Money currency="USD">8.25</Money>
          <Description xml:lang="en-US">total tax</Description>
        </Tax>
        <SpecialHandlingAmount><Money currency="USD">15.00</Money></SpecialHandlingAmount>
        <ShippingAmount><Money currency="USD">30.00</Money></ShippingAmount>
        <GrossAmount><Money currency="USD">553.25</Money></GrossAmount>
        <NetAmount><Money currency="USD">553.25</Money></NetAmount>
        <DueAmount><Money currency="USD">553.25</Money></DueAmount>
      </InvoiceDetailSummary>
    </InvoiceDetailRequest>
  </Request>
</cXML>
"""

#: Header level: the PO in OrderIDInfo, one order summary with its tax, a header-level tax in the summary.
COUPA_HEADER_LEVEL = f"""<?xml version="1.0" encoding="UTF-8"?>
{DOCTYPE}
<cXML payloadID="1700000000.456@coupa.example" timestamp="2026-11-20T09:00:00Z">
  {HEADER}
  <Request>
    <InvoiceDetailRequest>
      <InvoiceDetailRequestHeader invoiceID="CP-9002" invoiceDate="2026-11-19T00:00:00Z">
        <InvoiceDetailHeaderIndicator isHeaderInvoice="yes"/>
        <InvoiceDetailLineIndicator/>
        <InvoicePartner>
          <Contact role="billTo" addressID="ACME-AP"><Name xml:lang="en-US">ACME Accounts Payable</Name></Contact>
        </InvoicePartner>
        <InvoiceDetailPaymentTerm payInNumberOfDays="45" percentageRate="0"/>
      </InvoiceDetailRequestHeader>
      <InvoiceDetailHeaderOrder>
        <InvoiceDetailOrderInfo>
          <OrderIDInfo orderID="PO-77" orderDate="2026-10-15T00:00:00Z"/>
        </InvoiceDetailOrderInfo>
        <InvoiceDetailOrderSummary invoiceLineNumber="1">
          <SubtotalAmount><Money currency="USD">1200.00</Money></SubtotalAmount>
          <Tax>
            <Money currency="USD">60.00</Money>
            <Description xml:lang="en-US">state tax</Description>
            <TaxDetail category="sales" percentageRate="5">
              <TaxAmount><Money currency="USD">60.00</Money></TaxAmount>
            </TaxDetail>
          </Tax>
          <Comments xml:lang="en-US">Monthly maintenance, October</Comments>
        </InvoiceDetailOrderSummary>
      </InvoiceDetailHeaderOrder>
      <InvoiceDetailSummary>
        <SubtotalAmount><Money currency="USD">1200.00</Money></SubtotalAmount>
        <Tax>
          <Money currency="USD">72.00</Money>
          <Description xml:lang="en-US">taxes</Description>
          <TaxDetail category="sales" percentageRate="1">
            <TaxAmount><Money currency="USD">12.00</Money></TaxAmount>
            <Description xml:lang="en-US">county tax</Description>
          </TaxDetail>
        </Tax>
        <NetAmount><Money currency="USD">1272.00</Money></NetAmount>
      </InvoiceDetailSummary>
    </InvoiceDetailRequest>
  </Request>
</cXML>
"""


def parse(text: str) -> etree._Element:
    return parse_untrusted(text.encode())


def valid(dtd: etree.DTD, document: str | bytes) -> None:
    data = document.encode() if isinstance(document, str) else document
    root = etree.fromstring(data, etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False))
    assert dtd.validate(root), dtd.error_log.filter_from_errors()


def imported(text: str) -> Invoice:
    return invoice_from_cxml(parse(text), SETTINGS, SUPPLIER)


def test_the_hand_written_documents_are_valid_cxml(invoice_dtd: etree.DTD, cxml_refs: Path) -> None:
    coupas_version = etree.DTD(
        str(cxml_refs / "1.2.020" / "InvoiceDetail.dtd")
    )  # what Coupa's samples declare
    for document in (COUPA_LINES, COUPA_HEADER_LEVEL, ORDER_ID_INFO_LINES):
        valid(invoice_dtd, document)
        valid(coupas_version, document)


def test_a_coupa_invoice_without_sold_to_and_its_po_in_document_reference() -> None:
    invoice = imported(COUPA_LINES)
    assert invoice.customer_id == "C-1"  # the To credential, mapped
    assert (invoice.buyer.name, invoice.buyer.party_id) == ("ACME Manufacturing", "987654321")
    assert (invoice.po_number, invoice.po_date) == ("PO-4500012345", date(2026, 11, 1))
    assert "SupplierOrderID" not in invoice.extrinsics
    terms = invoice.payment_terms
    assert terms is not None
    assert (terms.net_days, terms.discount_days, terms.discount_percent) == (30, 10, Decimal(2))
    goods, service = invoice.lines
    assert (goods.quantity, goods.unit_price, goods.amount) == (
        Decimal(4),
        Decimal("25.00"),
        Decimal("100.00"),
    )
    assert [(t.amount, t.rate_percent, t.jurisdiction) for t in goods.taxes] == [
        (Decimal("8.25"), Decimal("8.25"), "TX")
    ]
    assert (service.quantity, service.unit_price, service.unit_of_measure) == (
        Decimal(1),
        Decimal("400.00"),
        "EA",
    )
    assert service.service_period is not None and service.service_period.end == date(2026, 11, 15)
    assert invoice.taxes == []  # the summary total only adds up the line tax
    charges = {c.kind: c.amount for c in invoice.charges}
    assert charges == {ChargeKind.SHIPPING: Decimal("30.00"), ChargeKind.SPECIAL_HANDLING: Decimal("15.00")}
    assert invoice.total == Decimal("553.25")


ORDER_ID_INFO_LINES = COUPA_LINES.replace(
    """<OrderReference orderDate="2026-11-01T00:00:00-06:00">
            <DocumentReference payloadID="PO-4500012345"/>
          </OrderReference>""",
    '<OrderIDInfo orderID="PO-4500012346" orderDate="2026-11-02T00:00:00-06:00"/>',
)


def test_the_po_in_order_id_info() -> None:
    assert ORDER_ID_INFO_LINES != COUPA_LINES
    invoice = imported(ORDER_ID_INFO_LINES)
    assert (invoice.po_number, invoice.po_date) == ("PO-4500012346", date(2026, 11, 2))


def test_order_id_wins_over_the_document_reference_payload_id() -> None:
    text = COUPA_LINES.replace("<OrderReference orderDate=", '<OrderReference orderID="PO-1" orderDate=')
    assert imported(text).po_number == "PO-1"


def test_a_header_level_invoice_is_one_line_per_order_summary() -> None:
    invoice = imported(COUPA_HEADER_LEVEL)
    assert invoice.po_number == "PO-77"
    assert invoice.buyer.name == "ACME Accounts Payable"  # billTo stands in for a missing soldTo
    (line,) = invoice.lines
    assert (line.line_number, line.description, line.quantity, line.amount) == (
        1,
        "Monthly maintenance, October",
        Decimal(1),
        Decimal("1200.00"),
    )
    assert [t.amount for t in line.taxes] == [Decimal("60.00")]
    assert [(t.amount, t.description) for t in invoice.taxes] == [(Decimal("12.00"), "county tax")]
    assert invoice.payment_terms is not None and invoice.payment_terms.net_days == 45


def test_the_supplier_order_number_is_kept() -> None:
    text = ORDER_ID_INFO_LINES.replace(
        '<OrderIDInfo orderID="PO-4500012346" orderDate="2026-11-02T00:00:00-06:00"/>',
        '<OrderIDInfo orderID="PO-4500012346"/><SupplierOrderInfo orderID="SO-5521"/>',
    )
    assert imported(text).extrinsics["SupplierOrderID"] == "SO-5521"


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            '<NetAmount><Money currency="USD">553.25</Money></NetAmount>',
            '<NetAmount><Money currency="USD"></Money></NetAmount>',
            "InvoiceDetailSummary/NetAmount/Money is empty (document line {n})",
        ),
        (
            '<ShippingAmount><Money currency="USD">30.00</Money></ShippingAmount>',
            '<ShippingAmount><Money currency="USD"> </Money></ShippingAmount>',
            "InvoiceDetailSummary/ShippingAmount/Money is empty (document line {n})",
        ),
        (
            '<UnitPrice><Money currency="USD">25.00</Money></UnitPrice>',
            '<UnitPrice><Money currency="USD">25,00</Money></UnitPrice>',
            "line 1 UnitPrice/Money (document line {n}) '25,00' is not a number",
        ),
        (
            '<DocumentReference payloadID="PO-4500012345"/>',
            '<DocumentReference payloadID=""/>',
            "OrderReference names no order: neither orderID nor a DocumentReference payloadID",
        ),
        (
            '<PaymentTerm payInNumberOfDays="10"><Discount><DiscountPercent percent="2"/></Discount></PaymentTerm>',
            '<PaymentTerm payInNumberOfDays="10"><Discount><DiscountAmount><Money currency="USD">5</Money></DiscountAmount></Discount></PaymentTerm>',
            "PaymentTerm (document line {n}) gives its discount as an amount",
        ),
        (
            '<PaymentTerm payInNumberOfDays="30"/>',
            '<PaymentTerm payInNumberOfDays="thirty"/>',
            "PaymentTerm payInNumberOfDays 'thirty' is not a number of days (document line {n})",
        ),
    ],
    ids=["empty-net", "blank-shipping", "comma-price", "order-reference", "discount-amount", "days"],
)
def test_a_value_that_cannot_be_read_names_the_element_and_line(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    assert COUPA_LINES.count(old) == 1
    text = COUPA_LINES.replace(old, new)
    drop(tmp_path, "coupa.xml", text)
    [record] = pull(files_adapter(tmp_path))
    expected = said.format(n=line_of(text, new.split(">")[0] if "Money" not in new else new))
    assert record.error is not None and expected in record.error, record.error
    assert record.error.startswith("coupa.xml: ")


@pytest.mark.parametrize("document", [COUPA_LINES, ORDER_ID_INFO_LINES, COUPA_HEADER_LEVEL])
def test_import_then_render_keeps_po_terms_taxes_and_charges(document: str, invoice_dtd: etree.DTD) -> None:
    first = imported(document)

    rendered = render(first, replace(ENVELOPE, payload_id="roundtrip.1@portalhub.test"))

    valid(invoice_dtd, rendered)
    root = parse_untrusted(rendered)
    order_ref = root.find(".//InvoiceDetailOrderInfo/OrderReference")
    assert order_ref is not None and order_ref.get("orderID") == first.po_number
    assert root.find(".//SupplierOrderInfo") is None  # the invoice number is not sent as the order
    assert invoice_from_cxml(root, SETTINGS, SUPPLIER) == first
    if document is COUPA_LINES:
        summary = root.find(".//InvoiceDetailSummary")
        assert summary is not None
        assert summary.findtext("ShippingAmount/Money") == "30.00"
        assert summary.findtext("SpecialHandlingAmount/Money") == "15.00"
        terms = sorted(
            (t.get("payInNumberOfDays"), t.get("percentageRate"))
            for t in root.iter("InvoiceDetailPaymentTerm")
        )
        assert terms == [("10", "2"), ("30", "0")]
    if document is COUPA_HEADER_LEVEL:
        assert [
            t.findtext("TaxAmount/Money") for t in root.findall(".//InvoiceDetailSummary/Tax/TaxDetail")
        ] == ["12.00"]
