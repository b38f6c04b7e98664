"""StatusUpdateRequests as buyer networks write them, typed by hand from cXML.dtd 1.2.063 (not made by
the hub's renderer): every way the DTD lets a document name the invoice, every InvoiceStatus type,
comments kept verbatim, and timestamps in the shapes real senders use (named US zones, offsets, Z,
fractions, no zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from hub.errors import MappingError
from hub.model import InvoiceState
from mappings.cxml_response import parse_status_update, read_status_update
from mappings.cxml_time import US_ZONE_OFFSETS, parse_cxml_datetime

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

HEADER = """<Header>
    <From><Credential domain="NetworkID"><Identity>AN01000000147</Identity></Credential></From>
    <To><Credential domain="NetworkID"><Identity>AN01000000001</Identity></Credential></To>
    <Sender>
      <Credential domain="NetworkID">
        <Identity>AN01000000147</Identity>
        <SharedSecret>abracadabra</SharedSecret>
      </Credential>
      <UserAgent>Buyer 14s2</UserAgent>
    </Sender>
  </Header>"""

#: DocumentInfo naming the invoice by its number, as SAP Ariba Network sends it (no DocumentReference).
BY_DOCUMENT_INFO = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd">
<cXML payloadID="1484810117123.2081390416@ariba.example" timestamp="2017-01-19T01:11:57-CST" xml:lang="en-US">
  {HEADER}
  <Request deploymentMode="production">
    <StatusUpdateRequest>
      <Status code="200" text="OK"/>
      <DocumentStatus type="rejected">
        <DocumentInfo documentID="INV-24001" documentType="InvoiceDetailRequest" documentDate="2017-01-12T00:00:00-06:00"/>
        <Comments xml:lang="en-US">INV-143: Cannot create a non-PO invoice
with pricing details.</Comments>
      </DocumentStatus>
    </StatusUpdateRequest>
  </Request>
</cXML>
"""

#: DocumentReference to our payloadID, the form of the cXML User's Guide.
BY_PAYLOAD_ID = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd">
<cXML payloadID="9949494@buyer.example" timestamp="2026-11-21T09:30:00.123-06:00">
  {HEADER}
  <Request>
    <StatusUpdateRequest>
      <DocumentReference payloadID="1763800000.42.INV-24001@portalhub.example"/>
      <Status code="200" text="OK"/>
      <InvoiceStatus type="processing"/>
    </StatusUpdateRequest>
  </Request>
</cXML>
"""

#: InvoiceIDInfo with the invoice date, no DocumentReference.
BY_INVOICE_ID = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd">
<cXML payloadID="77@buyer.example" timestamp="2026-11-21T15:30:00Z">
  {HEADER}
  <Request>
    <StatusUpdateRequest>
      <Status code="200" text="OK"/>
      <InvoiceStatus type="paid" paymentNetDueDate="2026-12-20T00:00:00-06:00">
        <InvoiceIDInfo invoiceID="INV-24001" invoiceDate="2026-11-02T00:00:00-06:00"/>
        <PartialAmount><Money currency="USD">814.04</Money></PartialAmount>
        <Comments xml:lang="en-US" type="remittance">Paid by ACH, trace 0021.</Comments>
      </InvoiceStatus>
    </StatusUpdateRequest>
  </Request>
</cXML>
"""


def invoice_status(status_type: str, timestamp: str = "2026-11-21T09:30:00-06:00") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd">
<cXML payloadID="s-{status_type}@buyer.example" timestamp="{timestamp}">
  {HEADER}
  <Request>
    <StatusUpdateRequest>
      <Status code="200" text="OK"/>
      <InvoiceStatus type="{status_type}">
        <InvoiceIDInfo invoiceID="INV-24001"/>
      </InvoiceStatus>
    </StatusUpdateRequest>
  </Request>
</cXML>
"""


def valid(dtd: etree.DTD, text: str) -> None:
    document = etree.fromstring(
        text.encode(), etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    )
    assert dtd.validate(document), dtd.error_log.filter_from_errors()


def test_document_info_names_the_invoice_and_a_named_zone_is_read(cxml_core_dtd: etree.DTD) -> None:
    valid(cxml_core_dtd, BY_DOCUMENT_INFO)
    parsed = parse_status_update(BY_DOCUMENT_INFO.encode())
    assert (parsed.document_id, parsed.document_type) == ("INV-24001", "InvoiceDetailRequest")
    assert parsed.invoice_number == "INV-24001" and parsed.identification_problem is None
    # -CST is Central Standard Time (UTC-6): the dash is a separator, not a sign.
    assert parsed.timestamp == datetime(2017, 1, 19, 7, 11, 57, tzinfo=UTC)
    update = parsed.to_update(NOW)
    assert update.state is InvoiceState.REJECTED and update.invoice_number == "INV-24001"
    assert update.reason == "INV-143: Cannot create a non-PO invoice\nwith pricing details."


def test_document_reference_names_our_payload_id(cxml_core_dtd: etree.DTD) -> None:
    valid(cxml_core_dtd, BY_PAYLOAD_ID)
    parsed = parse_status_update(BY_PAYLOAD_ID.encode())
    assert parsed.document_payload_id == "1763800000.42.INV-24001@portalhub.example"
    assert parsed.invoice_number is None and parsed.identification_problem is None
    assert parsed.timestamp == datetime(2026, 11, 21, 15, 30, 0, 123000, tzinfo=UTC)
    assert parsed.to_update(NOW).state is InvoiceState.PENDING_APPROVAL


def test_invoice_id_info_with_its_date(cxml_core_dtd: etree.DTD) -> None:
    valid(cxml_core_dtd, BY_INVOICE_ID)
    parsed = parse_status_update(BY_INVOICE_ID.encode())
    assert parsed.invoice_id == "INV-24001"
    assert parsed.invoice_date is not None and parsed.invoice_date.date().isoformat() == "2026-11-02"
    update = parsed.to_update(NOW)
    assert (update.state, str(update.paid_amount)) == (InvoiceState.PAID, "814.04")
    assert update.reason == "Paid by ACH, trace 0021."


def test_document_info_of_another_document_type_does_not_name_an_invoice(cxml_core_dtd: etree.DTD) -> None:
    text = BY_DOCUMENT_INFO.replace('documentType="InvoiceDetailRequest"', 'documentType="OrderRequest"')
    valid(cxml_core_dtd, text)
    parsed = parse_status_update(text.encode())
    assert parsed.invoice_number is None
    assert "OrderRequest" in (parsed.identification_problem or "")


def test_a_status_that_names_nothing_says_so(cxml_core_dtd: etree.DTD) -> None:
    text = BY_PAYLOAD_ID.replace(
        '<DocumentReference payloadID="1763800000.42.INV-24001@portalhub.example"/>', ""
    )
    valid(cxml_core_dtd, text)
    assert "names the invoice" in (parse_status_update(text.encode()).identification_problem or "")


@pytest.mark.parametrize(
    ("status_type", "state"),
    [
        ("processing", InvoiceState.PENDING_APPROVAL),
        ("canceled", InvoiceState.CANCELLED),
        ("reconciled", InvoiceState.APPROVED),
        ("rejected", InvoiceState.REJECTED),
        ("paying", InvoiceState.APPROVED),
        ("paid", InvoiceState.PAID),
    ],
)
def test_every_invoice_status_type_of_1_2_063(
    status_type: str, state: InvoiceState, cxml_core_dtd: etree.DTD
) -> None:
    text = invoice_status(status_type)
    valid(cxml_core_dtd, text)
    parsed = parse_status_update(text.encode())
    assert parsed.type_is_known()
    assert parsed.to_update(NOW).state is state


def test_a_type_outside_the_tables_is_not_known_but_still_read() -> None:
    parsed = parse_status_update(invoice_status("awaiting_receipt").encode())
    assert not parsed.type_is_known() and parsed.to_update(NOW).state is None


def test_comments_keep_their_words_and_line_breaks_without_the_indentation(cxml_core_dtd: etree.DTD) -> None:
    comments = """<Comments xml:lang="en-US">
            Line 2: price  differs from PO (12.50 vs 12.05).
              Please rebill.
        </Comments>
        <Comments xml:lang="en-US">Second   comment<Attachment><URL>cid:x@y</URL></Attachment> ends here.</Comments>"""
    text = BY_DOCUMENT_INFO.replace(
        """<Comments xml:lang="en-US">INV-143: Cannot create a non-PO invoice
with pricing details.</Comments>""",
        comments,
    ).replace('type="rejected"', 'type="disputed"')
    valid(cxml_core_dtd, text)
    parsed = parse_status_update(text.encode())
    assert parsed.comments == [
        "Line 2: price  differs from PO (12.50 vs 12.05).\n  Please rebill.",
        "Second   comment ends here.",
    ]
    assert parsed.to_update(NOW).state is InvoiceState.DISPUTED


def test_item_status_comments_are_kept_with_their_line(cxml_core_dtd: etree.DTD) -> None:
    text = BY_DOCUMENT_INFO.replace(
        "<Comments xml:lang",
        '<ItemStatus type="rejected"><ReferenceDocumentInfo lineNumber="2"/>'
        '<Comments xml:lang="en-US">Quantity above PO.</Comments></ItemStatus><Comments xml:lang',
    )
    valid(cxml_core_dtd, text)
    parsed = parse_status_update(text.encode())
    assert parsed.comments[-1] == "line 2 rejected: Quantity above PO."
    assert parsed.comments[0].startswith("INV-143:")


def test_no_zone_is_read_in_the_profiles_zone() -> None:
    text = invoice_status("paid", timestamp="2026-07-01T08:00:00")
    assert parse_status_update(text.encode()).timestamp == datetime(2026, 7, 1, 8, tzinfo=UTC)
    chicago = parse_status_update(text.encode(), ZoneInfo("America/Chicago"))
    assert chicago.timestamp == datetime(2026, 7, 1, 13, tzinfo=UTC)  # CDT in July
    again = read_status_update(text.encode())[1]
    assert again is not None and not again.zone_given
    assert again.in_zone(ZoneInfo("America/Los_Angeles")).timestamp == datetime(2026, 7, 1, 15, tzinfo=UTC)


def test_a_timestamp_with_a_zone_ignores_the_profiles_zone() -> None:
    text = invoice_status("paid", timestamp="2026-07-01T08:00:00-CDT")
    parsed = parse_status_update(text.encode(), ZoneInfo("Asia/Tokyo"))
    assert parsed.timestamp == datetime(2026, 7, 1, 13, tzinfo=UTC) and parsed.zone_given


def test_a_status_it_cannot_read_still_gives_its_sender() -> None:
    text = invoice_status("paid", timestamp="last tuesday")
    envelope, request, problem = read_status_update(text.encode())
    assert request is None and "last tuesday" in (problem or "")
    assert (envelope.sender_domain, envelope.sender_identity) == ("NetworkID", "AN01000000147")
    assert envelope.shared_secret == "abracadabra" and "abracadabra" not in repr(envelope)


def test_a_document_that_is_not_a_status_update_is_refused() -> None:
    with pytest.raises(MappingError):
        read_status_update(b"<cXML><Request><OrderRequest/></Request></cXML>")
    with pytest.raises(MappingError):
        read_status_update(b"this is not XML")


# --- the timestamp rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2017-01-19T01:11:57-CST", "2017-01-19T07:11:57"),
        ("2017-01-19T01:11:57CST", "2017-01-19T07:11:57"),
        ("2017-01-19T01:11:57 CST", "2017-01-19T07:11:57"),
        ("2017-01-19T01:11:57+CST", "2017-01-19T07:11:57"),
        ("2017-01-19 01:11:57 est", "2017-01-19T06:11:57"),
        ("2026-07-01T08:00:00-PDT", "2026-07-01T15:00:00"),
        ("2026-01-01T08:00:00-AKST", "2026-01-01T17:00:00"),
        ("2026-01-01T08:00:00-HST", "2026-01-01T18:00:00"),
        ("2026-01-01T08:00:00-0600", "2026-01-01T14:00:00"),
        ("2026-01-01T08:00:00+05:30", "2026-01-01T02:30:00"),
        ("2026-01-01T08:00:00-06", "2026-01-01T14:00:00"),
        ("2026-01-01T08:00:00Z", "2026-01-01T08:00:00"),
        ("2026-01-01T08:00:00.1234567Z", "2026-01-01T08:00:00.123456"),
        ("2026-01-01T08:00Z", "2026-01-01T08:00:00"),
        ("2026-01-01T08:00:00 UTC", "2026-01-01T08:00:00"),
    ],
)
def test_timestamp_shapes(written: str, utc: str) -> None:
    read = parse_cxml_datetime(written, ZoneInfo("Asia/Tokyo"))
    assert read.zone_given
    assert read.value.astimezone(UTC).replace(tzinfo=None).isoformat() == utc


@pytest.mark.parametrize("name", sorted(US_ZONE_OFFSETS))
def test_every_named_zone_is_its_offset(name: str) -> None:
    read = parse_cxml_datetime(f"2026-03-01T12:00:00-{name}", UTC)
    assert read.value.utcoffset() == timedelta(hours=US_ZONE_OFFSETS[name])


def test_no_zone_and_a_date_alone_take_the_default_zone() -> None:
    zone = timezone(timedelta(hours=-6))
    read = parse_cxml_datetime("2026-01-01T08:00:00", zone)
    assert not read.zone_given and read.value == datetime(2026, 1, 1, 14, tzinfo=UTC)
    assert parse_cxml_datetime("2026-01-01", zone).value == datetime(2026, 1, 1, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    "written", ["", "yesterday", "2026-02-30T08:00:00Z", "2026-01-01T25:00:00Z", "2026-01-01T08:00:00 CET"]
)
def test_what_is_not_a_timestamp_is_named(written: str) -> None:
    with pytest.raises(MappingError, match=repr(written).replace("(", r"\(")):
        parse_cxml_datetime(written, UTC)


@given(
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
    minutes=st.integers(-14 * 60, 14 * 60),
    sep=st.sampled_from(["T", " "]),
    compact=st.booleans(),
)
def test_any_iso_timestamp_with_an_offset_reads_back_as_the_same_instant(
    moment: datetime, minutes: int, sep: str, compact: bool
) -> None:
    zone = timezone(timedelta(minutes=minutes))
    aware = moment.replace(tzinfo=zone)
    written = aware.isoformat(sep=sep)
    if compact and aware.utcoffset():
        written = written[:-3] + written[-2:]  # -06:00 -> -0600
    assert parse_cxml_datetime(written, ZoneInfo("Asia/Tokyo")).value == aware
