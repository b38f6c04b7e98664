"""cXML documents that come back: the synchronous Response, StatusUpdateRequests, and hostile XML."""

from __future__ import annotations

import threading
import traceback
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.errors import MappingError
from hub.model import InvoiceState, RejectionCategory
from mappings.cxml_response import CxmlStatus, parse_response, parse_status_update, render_response
from mappings.xml_safety import UntrustedXMLError, parse_untrusted

CORE_DOCTYPE = '<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd">'
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def parse(document: bytes) -> etree._Element:
    return etree.fromstring(
        document, etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    )


def assert_valid(dtd: etree.DTD, document: bytes) -> None:
    assert dtd.validate(parse(document)), (
        f"not valid against cXML.dtd 1.2.063:\n{dtd.error_log.filter_from_errors()}"
    )


def response_body(status: str) -> bytes:
    return (
        f'{XML_HEAD}{CORE_DOCTYPE}\n<cXML payloadID="r1@coupa.example" timestamp="2026-11-20T15:00:01+00:00">'
        f"<Response>{status}</Response></cXML>"
    ).encode()


# --- Response ----------------------------------------------------------------------------------------------


def test_cxml_401_inside_an_http_200_body_is_read_from_the_document(cxml_core_dtd: etree.DTD) -> None:
    body = response_body('<Status code="401" text="Unauthorized">Invalid credentials.</Status>')
    assert_valid(cxml_core_dtd, body)
    status = parse_response(body)
    assert (status.code, status.text, status.detail) == (401, "Unauthorized", "Invalid credentials.")
    assert not status.success
    assert status.words == "Unauthorized Invalid credentials."


def test_coupa_success_keeps_the_detail() -> None:
    status = parse_response(
        response_body('<Status code="200" text="OK">Successful - invoice id: 9532</Status>')
    )
    assert status.success
    assert status.detail == "Successful - invoice id: 9532"


def test_words_do_not_repeat_a_detail_equal_to_the_text() -> None:
    assert (
        CxmlStatus(500, "Unexpected server error.", "Unexpected server error.").words
        == "Unexpected server error."
    )
    assert CxmlStatus(406, "Not Acceptable", "").words == "Not Acceptable"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "expected a cXML document"),
        (b"Service Unavailable", "not well-formed"),
        (b"", "empty"),
        (b"   \n ", "empty"),
        (b'<cXML payloadID="x" timestamp="2026-11-20T15:00:00+00:00"><Response/></cXML>', "no <Status>"),
        (
            b'<cXML payloadID="x" timestamp="2026-11-20T15:00:00+00:00"><Header/><Request/></cXML>',
            "no <Status>",
        ),
        (response_body('<Status code="OK" text="OK"/>'), "'OK' is not a number"),
        (response_body('<Status code="" text="OK"/>'), "is not a number"),
        (response_body('<Status text="OK"/>'), "is not a number"),
        (response_body('<Status code="2OO" text="OK"/>'), "is not a number"),
    ],
)
def test_what_is_not_a_cxml_response_is_a_mapping_error(body: bytes, complaint: str) -> None:
    with pytest.raises(MappingError, match=complaint):
        parse_response(body)


def test_rendered_response_validates_and_parses_back(cxml_core_dtd: etree.DTD) -> None:
    body = render_response(
        417, "Expectation Failed", "sandbox.1@portalhub", NOW, detail="Invalid order/document reference."
    )
    assert_valid(cxml_core_dtd, body)
    root = parse(body)
    assert root.get("payloadID") == "sandbox.1@portalhub"
    assert datetime.fromisoformat(root.get("timestamp")) == NOW
    assert parse_response(body) == CxmlStatus(417, "Expectation Failed", "Invalid order/document reference.")


_XML_INVALID = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
xml_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=_XML_INVALID), max_size=40)


@settings(max_examples=60, deadline=None)
@given(code=st.integers(100, 999), text=xml_text, detail=xml_text)
def test_any_rendered_response_round_trips(
    code: int, text: str, detail: str, cxml_core_dtd: etree.DTD
) -> None:
    body = render_response(code, text, "p@portalhub", NOW, detail=detail)
    assert_valid(cxml_core_dtd, body)
    status = parse_response(body)
    assert (status.code, status.text, status.detail) == (code, text, detail.strip())


# --- StatusUpdateRequest -----------------------------------------------------------------------------------

ORIGINAL = "20261120150000.4242.sent@portalhub.test"


def status_update(
    kind: str | None = "InvoiceStatus",
    status_type: str | None = "processing",
    *,
    comments: Sequence[str] = (),
    partial: str | None = None,
    invoice_id: str | None = "INV-24001",
    document_payload_id: str | None = ORIGINAL,
    code: int = 200,
    text: str = "OK",
    timestamp: str | None = "2026-11-21T09:30:00-06:00",
    net_due: str | None = None,
) -> bytes:
    """A StatusUpdateRequest as a buyer's network sends it (built here, independently of the parser)."""
    root = etree.Element("cXML", payloadID="20261121.1.buyer@coupa.example", version="1.2.063")
    if timestamp is not None:
        root.set("timestamp", timestamp)
    header = etree.SubElement(root, "Header")
    for role, identity in (("From", "987654321"), ("To", "123456789"), ("Sender", "987654321")):
        credential = etree.SubElement(etree.SubElement(header, role), "Credential", domain="DUNS")
        etree.SubElement(credential, "Identity").text = identity
    sender_credential = header.find("Sender/Credential")
    etree.SubElement(sender_credential, "SharedSecret").text = "buyer-secret-xyz"
    etree.SubElement(header.find("Sender"), "UserAgent").text = "Coupa"
    request = etree.SubElement(etree.SubElement(root, "Request"), "StatusUpdateRequest")
    if document_payload_id is not None:
        etree.SubElement(request, "DocumentReference", payloadID=document_payload_id)
    etree.SubElement(request, "Status", code=str(code), text=text)
    if kind is not None:
        detail = etree.SubElement(request, kind)
        if status_type is not None:
            detail.set("type", status_type)
        if net_due is not None:
            detail.set("paymentNetDueDate", net_due)
        if kind == "InvoiceStatus":
            if invoice_id is not None:
                etree.SubElement(detail, "InvoiceIDInfo", invoiceID=invoice_id)
            if partial is not None:
                etree.SubElement(
                    etree.SubElement(detail, "PartialAmount"), "Money", currency="USD"
                ).text = partial
        for comment in comments:
            etree.SubElement(
                detail, "Comments", {"{http://www.w3.org/XML/1998/namespace}lang": "en-US"}
            ).text = comment
    return (XML_HEAD + CORE_DOCTYPE + "\n").encode() + etree.tostring(root, encoding="UTF-8")


#: The six InvoiceStatus types of cXML.dtd 1.2.063 and the canonical state each one means.
INVOICE_STATUS_TYPES = {
    "processing": InvoiceState.PENDING_APPROVAL,  # received, being processed: nobody approved it yet
    "reconciled": InvoiceState.APPROVED,  # matched to PO and receipt: accepted for payment
    "paying": InvoiceState.APPROVED,  # payment under way, money not received yet
    "paid": InvoiceState.PAID,
    "rejected": InvoiceState.REJECTED,
    "canceled": InvoiceState.CANCELLED,
}


def test_the_dtd_enumeration_is_the_one_this_table_covers(cxml_refs: Path) -> None:
    dtd_text = (cxml_refs / "1.2.063" / "cXML.dtd").read_text(encoding="utf-8", errors="replace")
    declared = dtd_text.split("<!ATTLIST InvoiceStatus", 1)[1].split(">", 1)[0]
    enumeration = declared.split("(", 1)[1].split(")", 1)[0]
    assert {word.strip() for word in enumeration.split("|")} == set(INVOICE_STATUS_TYPES)


@pytest.mark.parametrize(("status_type", "state"), sorted(INVOICE_STATUS_TYPES.items()))
def test_each_invoice_status_type_maps_to_its_canonical_state(
    status_type: str, state: InvoiceState, cxml_core_dtd: etree.DTD
) -> None:
    body = status_update("InvoiceStatus", status_type)
    assert_valid(cxml_core_dtd, body)
    parsed = parse_status_update(body)
    assert (parsed.kind, parsed.status_type) == ("InvoiceStatus", status_type)
    update = parsed.to_update(NOW)
    assert update.state is state
    assert update.raw_status == status_type
    assert update.invoice_number == "INV-24001"
    assert update.payload_id == ORIGINAL
    assert update.occurred_at == datetime(2026, 11, 21, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize("status_type", ["foo_bar", "Awaiting-Supplier-Response", "validation_pending"])
def test_unknown_invoice_status_types_are_kept_verbatim_without_a_state(status_type: str) -> None:
    update = parse_status_update(
        status_update("InvoiceStatus", status_type, comments=["see portal"])
    ).to_update(NOW)
    assert update.state is None
    assert update.raw_status == status_type
    assert update.reason == "see portal"
    assert update.invoice_number == "INV-24001"


def test_type_matching_ignores_case_but_keeps_the_raw_words() -> None:
    update = parse_status_update(status_update("InvoiceStatus", "PAID")).to_update(NOW)
    assert (update.state, update.raw_status) == (InvoiceState.PAID, "PAID")


def test_document_status_with_comments(cxml_core_dtd: etree.DTD) -> None:
    body = status_update(
        "DocumentStatus", "approved", comments=["Approved by J. Ortiz", "Scheduled for the 30th"]
    )
    assert_valid(cxml_core_dtd, body)
    parsed = parse_status_update(body)
    assert parsed.kind == "DocumentStatus"
    assert parsed.comments == ["Approved by J. Ortiz", "Scheduled for the 30th"]
    update = parsed.to_update(NOW)
    assert update.state is InvoiceState.APPROVED
    assert update.reason == "Approved by J. Ortiz | Scheduled for the 30th"


def test_unknown_document_status_type_is_kept(cxml_core_dtd: etree.DTD) -> None:
    body = status_update("DocumentStatus", "sent_to_erp")
    assert_valid(cxml_core_dtd, body)
    update = parse_status_update(body).to_update(NOW)
    assert (update.state, update.raw_status) == (None, "sent_to_erp")


def test_paid_with_partial_amount_and_net_due_date(cxml_core_dtd: etree.DTD) -> None:
    body = status_update("InvoiceStatus", "paid", partial="814.04", net_due="2026-12-20T00:00:00-06:00")
    assert_valid(cxml_core_dtd, body)
    parsed = parse_status_update(body)
    assert parsed.partial_amount == Decimal("814.04")
    assert parsed.payment_net_due_date == "2026-12-20T00:00:00-06:00"
    update = parsed.to_update(NOW)
    assert update.state is InvoiceState.PAID
    assert update.paid_amount == Decimal("814.04")


def test_partial_amount_is_not_a_payment_until_paid() -> None:
    update = parse_status_update(status_update("InvoiceStatus", "paying", partial="100.00")).to_update(NOW)
    assert update.state is InvoiceState.APPROVED
    assert update.paid_amount is None


def test_partial_amount_that_is_not_a_number_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="PartialAmount"):
        parse_status_update(status_update("InvoiceStatus", "paid", partial="eight hundred"))


def test_ariba_rejection_comment_gives_code_reason_and_category(cxml_core_dtd: etree.DTD) -> None:
    comment = "INV-143: Cannot create a non-PO invoice with pricing details."
    body = status_update("InvoiceStatus", "rejected", comments=[comment])
    assert_valid(cxml_core_dtd, body)
    update = parse_status_update(body).to_update(NOW)
    assert update.state is InvoiceState.REJECTED
    assert update.reason == comment
    assert update.reason_code == "INV-143"
    assert update.category is RejectionCategory.PO


@pytest.mark.parametrize(
    ("comment", "code", "category"),
    [
        ("INV-98: Tax ID missing", "INV-98", RejectionCategory.TAX),
        (
            "INVOICE_DUPLICATE: An invoice with the same ID has already been received",
            "INVOICE_DUPLICATE",
            RejectionCategory.DUPLICATE,
        ),
        ("Wrong quantity billed on line 2", None, RejectionCategory.PRICE_QUANTITY),
        ("Rejected by AP team: call us", None, RejectionCategory.OTHER),
    ],
)
def test_rejection_reasons(comment: str, code: str | None, category: RejectionCategory) -> None:
    update = parse_status_update(status_update("InvoiceStatus", "rejected", comments=[comment])).to_update(
        NOW
    )
    assert (update.reason, update.reason_code, update.category) == (comment, code, category)


def test_disputed_document_status_is_a_dispute() -> None:
    update = parse_status_update(
        status_update("DocumentStatus", "disputed", comments=["Price differs from PO"])
    ).to_update(NOW)
    assert update.state is InvoiceState.DISPUTED
    assert update.category is RejectionCategory.PRICE_QUANTITY
    vague = parse_status_update(status_update("DocumentStatus", "disputed", comments=["call me"])).to_update(
        NOW
    )
    assert vague.category is RejectionCategory.DISPUTED


def test_status_without_detail_keeps_the_code_and_words() -> None:
    body = status_update(None, None, code=500, text="Internal Server Error", invoice_id=None)
    parsed = parse_status_update(body)
    assert parsed.kind is None and parsed.status_type is None
    update = parsed.to_update(NOW)
    assert update.state is None
    assert update.raw_status == "status-500"
    assert update.reason == "Internal Server Error"


def test_sender_credentials_are_read_and_the_secret_is_not_in_repr() -> None:
    parsed = parse_status_update(status_update())
    assert (parsed.sender_domain, parsed.sender_identity, parsed.from_identity) == (
        "DUNS",
        "987654321",
        "987654321",
    )
    assert parsed.shared_secret == "buyer-secret-xyz"
    assert "buyer-secret-xyz" not in repr(parsed)


def test_missing_timestamp_falls_back_to_the_time_given() -> None:
    update = parse_status_update(status_update(timestamp=None)).to_update(NOW)
    assert update.occurred_at == NOW


@pytest.mark.parametrize(
    ("timestamp", "complaint"),
    [
        ("yesterday", "not a date-time"),
        ("2026-13-01T09:30:00Z", "not a real date-time"),
        ("2026-11-21T09:30:00 XYZ", "zone 'XYZ'"),
    ],
)
def test_bad_timestamps_are_mapping_errors(timestamp: str, complaint: str) -> None:
    with pytest.raises(MappingError, match=complaint):
        parse_status_update(status_update(timestamp=timestamp))


def test_a_timestamp_without_zone_is_read_in_the_zone_given() -> None:
    from zoneinfo import ZoneInfo

    parsed = parse_status_update(status_update(timestamp="2026-11-21T09:30:00"), ZoneInfo("America/Chicago"))
    assert parsed.timestamp == datetime(2026, 11, 21, 15, 30, tzinfo=UTC)
    assert not parsed.zone_given


@pytest.mark.parametrize(
    "body",
    [
        response_body('<Status code="200" text="OK"/>'),
        b"<Invoice/>",
        b'<cXML payloadID="x" timestamp="2026-11-20T15:00:00+00:00"><Request><StatusUpdateRequest/></Request></cXML>',
    ],
)
def test_what_is_not_a_status_update_is_a_mapping_error(body: bytes) -> None:
    with pytest.raises(MappingError):
        parse_status_update(body)


# --- hostile XML -------------------------------------------------------------------------------------------


@pytest.fixture
def private_file(tmp_path: Path) -> tuple[Path, str]:
    """A local file whose content must never come out of a parser."""
    marker = f"PRIVATE-{uuid.uuid4().hex}"
    path = tmp_path / "private.txt"
    path.write_text(marker, encoding="utf-8")
    return path, marker


def hostile_documents(path: Path) -> dict[str, bytes]:
    url = path.as_uri()
    status = '<cXML payloadID="x" timestamp="2026-11-20T15:00:00+00:00"><Response>{}</Response></cXML>'
    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)
    )
    return {
        "xxe in text": f'<!DOCTYPE cXML [<!ENTITY x SYSTEM "{url}">]>'
        + status.format('<Status code="200" text="OK">&x;</Status>'),
        "xxe in attribute": f'<!DOCTYPE cXML [<!ENTITY x SYSTEM "{url}">]>'
        + status.format('<Status code="200" text="&x;"/>'),
        "xxe parameter entity": f'<!DOCTYPE cXML [<!ENTITY % p SYSTEM "{url}"> %p;]>'
        + status.format('<Status code="200" text="OK"/>'),
        "billion laughs": f"<!DOCTYPE cXML [{laughs}]>"
        + status.format('<Status code="200" text="OK">&lol9;</Status>'),
        "quadratic blowup": f'<!DOCTYPE cXML [<!ENTITY a "{"A" * 50_000}">]>'
        + status.format(f'<Status code="200" text="OK">{"&a;" * 2_000}</Status>'),
    }


HOSTILE = ["xxe in text", "xxe in attribute", "xxe parameter entity", "billion laughs", "quadratic blowup"]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", HOSTILE)
def test_entity_tricks_are_refused_and_leak_nothing(name: str, private_file: tuple[Path, str]) -> None:
    path, marker = private_file
    document = hostile_documents(path)[name].encode()
    for parser in (parse_untrusted, parse_response, parse_status_update):
        with pytest.raises(UntrustedXMLError) as caught:
            parser(document)
        told = "".join(traceback.format_exception(caught.value))
        assert marker not in told
        assert "lol" * 20 not in told


def test_hostname_is_not_read_through_an_external_entity() -> None:
    hostname = Path("/etc/hostname")
    document = f'<!DOCTYPE cXML [<!ENTITY h SYSTEM "file://{hostname}">]><cXML><Response><Status code="200" text="OK">&h;</Status></Response></cXML>'
    with pytest.raises(UntrustedXMLError, match="entities") as caught:
        parse_untrusted(document)
    if hostname.exists() and len(hostname.read_text().strip()) >= 4:
        assert hostname.read_text().strip() not in "".join(traceback.format_exception(caught.value))


def test_xinclude_is_not_processed(private_file: tuple[Path, str]) -> None:
    path, marker = private_file
    document = f'<cXML xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{path.as_uri()}" parse="text"/></cXML>'
    root = parse_untrusted(document)
    assert marker not in etree.tostring(root, encoding="unicode")


@pytest.fixture
def dtd_server(private_file: tuple[Path, str]) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that serves a DTD declaring an entity, and records every request."""
    _, marker = private_file
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = f'<!ENTITY leak "{marker}">'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml-dtd")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cXML.dtd", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_doctype_system_url_parses_without_fetching_it(
    dtd_server: tuple[str, list[str]], private_file: tuple[Path, str]
) -> None:
    url, requests = dtd_server
    _, marker = private_file
    plain = f'<?xml version="1.0"?><!DOCTYPE cXML SYSTEM "{url}"><cXML payloadID="x" timestamp="2026-11-20T15:00:00+00:00"><Response><Status code="200" text="OK">fine</Status></Response></cXML>'
    assert parse_response(plain.encode()) == CxmlStatus(200, "OK", "fine")
    leaking = plain.replace(">fine<", ">&leak;<")
    status = parse_response(leaking.encode())
    assert status.code == 200
    assert marker not in status.detail
    assert requests == [], "the parser fetched the DTD over the network"


def test_doctype_system_file_is_not_read(private_file: tuple[Path, str], tmp_path: Path) -> None:
    _, marker = private_file
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak "{marker}">', encoding="utf-8")
    document = f'<!DOCTYPE cXML SYSTEM "{dtd.as_uri()}"><cXML><Response><Status code="200" text="OK">&leak;</Status></Response></cXML>'
    root = parse_untrusted(document)
    assert marker not in etree.tostring(root, encoding="unicode")


@pytest.mark.parametrize(
    ("comment", "code"),
    [
        ("INV-143: Cannot create a non-PO invoice with pricing details.", "INV-143"),
        ("INVOICE_DUPLICATE: an invoice with the same ID has already been received", "INVOICE_DUPLICATE"),
        ("Note: please call AP", None),
        ("URGENT: fix", None),
        ("no code here", None),
    ],
)
def test_only_real_codes_are_taken_as_reason_codes(comment: str, code: str | None) -> None:
    from mappings.cxml_response import _reason_code

    assert _reason_code(comment) == code
