"""OpenInvoice over SOAP: zeep against the WSDL the sandbox serves, over real sockets.

Covers the WSDL (from the sandbox or a local file; external references forbidden), WS-Security,
SOAP faults (client and server, retryable or not), transport failures, malformed answers,
attachments, lookup and paged incremental polling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sandbox.openinvoice import SOAP_PATH, SoapFault
from connectors.sandbox.openinvoice.soap import wsdl_text
from connectors.sandbox.server import Reply, Request, SandboxServer
from hub.errors import (
    ConfigError,
    InDoubtError,
    PermanentPortalError,
    PortalAuthError,
    TransientPortalError,
)
from hub.model import Attachment, InvoiceState, RejectionCategory
from tests.connectors.openinvoice_support import (
    SOAP_PASSWORD,
    OpenInvoiceWorld,
    make_connector,
    oil_invoice,
    oil_line,
    render,
    send,
)
from tests.factories import T0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[OpenInvoiceWorld]:
    built = OpenInvoiceWorld(tmp_path)
    yield built
    built.close()


def test_submits_through_the_wsdl_the_portal_serves(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap")
    receipt = send(world.connector, profile, oil_invoice("INV-S-1"))
    held = world.sandbox.invoices[0]
    assert receipt.portal_invoice_id == held.id and receipt.portal_code == "Pending"
    assert receipt.portal_text and "Llano" in receipt.portal_text
    assert (held.number, held.transport) == ("INV-S-1", "soap")
    assert world.soap_server.requests[f"GET {SOAP_PATH}"] == 1  # the WSDL, once


def test_the_wsdl_is_parsed_once_per_profile(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap")
    for number in ("INV-S-1", "INV-S-2", "INV-S-3"):
        send(world.connector, profile, oil_invoice(number))
    world.connector.lookup(profile, "INV-S-1")
    assert world.soap_server.requests[f"GET {SOAP_PATH}"] == 1
    assert world.soap_server.requests[f"POST {SOAP_PATH}"] == 4


def test_a_wsdl_from_a_local_file_with_the_service_address_from_the_profile(world: OpenInvoiceWorld) -> None:
    (world.folder / "service.wsdl").write_text(wsdl_text(), encoding="utf-8")
    profile = world.profile(
        "soap", soap={"wsdl": "service.wsdl", "service_url": f"{world.soap_server.url}{SOAP_PATH}"}
    )
    send(world.connector, profile, oil_invoice("INV-S-1"))
    assert len(world.sandbox.invoices) == 1
    assert world.soap_server.requests[f"GET {SOAP_PATH}"] == 0


def test_the_password_travels_as_a_digest_only(world: OpenInvoiceWorld) -> None:
    seen: list[Request] = []

    def recording(request: Request) -> Reply:
        seen.append(request)
        return world.sandbox._handle_http(request)

    with SandboxServer(recording) as spy:
        profile = world.profile("soap", soap={"wsdl": f"{spy.url}{SOAP_PATH}?wsdl"})
        document = render(world.connector, profile, oil_invoice("INV-S-1"))
        world.connector.submit(document, profile)
    posted = [r.body for r in seen if r.method == "POST"]
    assert posted and all(SOAP_PASSWORD.encode() not in body for body in posted)
    assert b"#PasswordDigest" in posted[0]
    assert SOAP_PASSWORD not in document.redacted()


def test_a_wrong_password_is_an_authentication_fault(world: OpenInvoiceWorld) -> None:
    connector = make_connector(world.http, {"secret:oi_password": "not-the-password"})
    profile = world.profile("soap")
    with pytest.raises(PortalAuthError) as raised:
        send(connector, profile, oil_invoice("INV-S-1"))
    assert raised.value.portal_code == "client/AUTHENTICATION"
    assert "not-the-password" not in str(raised.value)
    assert world.sandbox.invoices == []


@pytest.mark.parametrize(
    ("fault", "error", "category"),
    [
        (SoapFault("Server", "Database unavailable, try later.", "UNAVAILABLE", True), TransientPortalError, None),
        (SoapFault("Server", "Internal error."), TransientPortalError, None),
        (SoapFault("Client", "Document rejected: does not follow the schema.", "INVALID", False), PermanentPortalError, RejectionCategory.DOCUMENT),
        (SoapFault("Client", "Duplicate invoice number.", "DUPLICATE", False), PermanentPortalError, RejectionCategory.DUPLICATE),
        (SoapFault("Server", "Supplier profile incomplete.", "PROFILE", False), PermanentPortalError, RejectionCategory.OTHER),
        (SoapFault("Client", "Supplier not enabled.", "NOT_ENABLED", False), PortalAuthError, None),
    ],
)  # fmt: skip
def test_soap_faults_are_classified(
    world: OpenInvoiceWorld,
    fault: SoapFault,
    error: type[Exception],
    category: RejectionCategory | None,
) -> None:
    profile = world.profile("soap")
    world.sandbox.soap.inject_fault(fault)
    with pytest.raises(error) as raised:
        send(world.connector, profile, oil_invoice("INV-S-1"))
    assert type(raised.value) is error
    if category is not None:
        assert isinstance(raised.value, PermanentPortalError)
        assert raised.value.category is category
        assert raised.value.duplicate is (category is RejectionCategory.DUPLICATE)
        assert raised.value.portal_text and fault.text in raised.value.portal_text
    assert world.sandbox.invoices == []


def test_a_routing_fault_points_at_the_profile(world: OpenInvoiceWorld) -> None:
    world.sandbox.soap.inject_fault(SoapFault("Client", "Unknown trading partner.", "ROUTING", False))
    with pytest.raises(ConfigError, match=r"connection\.seller"):
        send(world.connector, world.profile("soap"), oil_invoice("INV-S-1"))


def test_a_server_fault_on_a_read_is_retried(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap")
    send(world.connector, profile, oil_invoice("INV-S-1"))
    world.sandbox.soap.inject_fault(SoapFault("Server", "Busy.", "UNAVAILABLE", True))
    record = world.connector.lookup(profile, "INV-S-1")
    assert record is not None and record.state is InvoiceState.PENDING_APPROVAL


def test_an_unknown_buyer_is_a_routing_error_not_a_rejection(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap", connection={"buyer": {"identifier": "999999999"}})
    with pytest.raises(ConfigError, match="999999999"):
        send(world.connector, profile, oil_invoice("INV-S-1"))
    assert world.sandbox.invoices == []


def test_the_buyers_own_rules_refuse_with_missing_content(world: OpenInvoiceWorld) -> None:
    invoice = oil_invoice("INV-S-1", lines=[oil_line(afe_number=None, field_ticket_number=None)])
    with pytest.raises(PermanentPortalError) as raised:
        send(world.connector, world.profile("soap"), invoice)
    error = raised.value
    assert error.portal_code == "Reject/Missing Content"
    assert error.category is RejectionCategory.MISSING_FIELD
    assert error.portal_text and "an AFE number is required" in error.portal_text
    assert "a field ticket number is required" in error.portal_text


def test_a_cost_center_outside_the_buyers_list_is_refused(world: OpenInvoiceWorld) -> None:
    invoice = oil_invoice("INV-S-1", lines=[oil_line(cost_center="CC-NOWHERE")])
    with pytest.raises(PermanentPortalError, match="CC-NOWHERE is not a valid cost center"):
        send(world.connector, world.profile("soap"), invoice)


def test_attachments_travel_as_base64_and_match_the_document(world: OpenInvoiceWorld) -> None:
    pdf = Attachment(filename="INV-S-1.pdf", content=b"%PDF-1.4 signed ticket")
    send(world.connector, world.profile("soap"), oil_invoice("INV-S-1", attachments=[pdf]))
    assert world.sandbox.invoices[0].attachments == 1


@pytest.mark.parametrize(
    ("fault", "error", "created"),
    [
        ("drop_after", InDoubtError, 1),
        ("malformed_after", InDoubtError, 1),
        ("unavailable_503", TransientPortalError, 0),
        ("throttle_429", TransientPortalError, 0),
        ("error_500", InDoubtError, 0),  # an HTML 500: the service may have processed it
    ],
)
def test_transport_faults_map_by_what_the_portal_can_have_done(
    world: OpenInvoiceWorld, fault: str, error: type[Exception], created: int
) -> None:
    profile = world.profile("soap")
    world.connector.lookup(profile, "warm-up")  # the WSDL is loaded before the fault is armed
    world.faults.queue(fault, path_prefix=SOAP_PATH)  # type: ignore[arg-type]
    with pytest.raises(error):
        send(world.connector, profile, oil_invoice("INV-S-1"))
    assert len(world.sandbox.invoices) == created


def test_a_throttled_call_says_when_to_come_back(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap")
    world.connector.lookup(profile, "warm-up")
    world.faults.queue("throttle_429", path_prefix=SOAP_PATH, retry_after=7)
    with pytest.raises(TransientPortalError) as raised:
        send(world.connector, profile, oil_invoice("INV-S-1"))
    assert raised.value.retry_after == 7


class _WrongAnswers:
    """The real WSDL, then whatever answer a test scripts for the calls."""

    def __init__(self, answer: Reply):
        self.answer = answer

    def __call__(self, request: Request) -> Reply:
        if request.method == "GET":
            host = request.headers["host"]
            return Reply(
                200, wsdl_text().replace("http://openinvoice-sandbox.invalid", f"http://{host}").encode()
            )
        return self.answer


SOAP_OK_WITHOUT_RESPONSE = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<svc:SubmitInvoiceResponse xmlns:svc="urn:portalhub:openinvoice-sandbox:invoice-service:v1">'
    b"<svc:InvoiceId>OI-1</svc:InvoiceId><svc:Response/></svc:SubmitInvoiceResponse></soap:Body></soap:Envelope>"
)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Reply(200, b"<html><body>portal maintenance</body></html>", "text/html"), InDoubtError),
        (Reply(200, b"", "text/xml"), InDoubtError),
        (Reply(200, SOAP_OK_WITHOUT_RESPONSE, "text/xml"), InDoubtError),
        (Reply(401, b"Unauthorized", "text/plain"), PortalAuthError),
        (Reply(404, b"no such service", "text/plain"), ConfigError),
        (Reply(502, b"<html>bad gateway</html>", "text/html"), TransientPortalError),
    ],
)
def test_malformed_answers_to_a_submission(
    world: OpenInvoiceWorld, answer: Reply, error: type[Exception]
) -> None:
    with SandboxServer(_WrongAnswers(answer)) as server:
        profile = world.profile("soap", soap={"wsdl": f"{server.url}{SOAP_PATH}?wsdl"})
        with pytest.raises(error):
            send(world.connector, profile, oil_invoice("INV-S-1"))


def test_a_malformed_answer_to_a_read_is_transient(world: OpenInvoiceWorld) -> None:
    with SandboxServer(_WrongAnswers(Reply(200, b"<nonsense/>", "text/xml"))) as server:
        profile = world.profile("soap", soap={"wsdl": f"{server.url}{SOAP_PATH}?wsdl"})
        with pytest.raises(TransientPortalError):
            world.connector.lookup(profile, "INV-S-1")
        with pytest.raises(TransientPortalError):
            world.connector.poll(profile, None)


IMPORTING_WSDL = wsdl_text().replace(
    "<xsd:schema targetNamespace",
    '<xsd:schema><xsd:import namespace="urn:evil" schemaLocation="http://127.0.0.1:9/evil.xsd"/></xsd:schema>'
    "\n    <xsd:schema targetNamespace",
)
ENTITY_WSDL = (
    '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/hostname">]>\n'
    + wsdl_text().split("?>", 1)[1]
)


@pytest.mark.parametrize(
    ("wsdl", "words"),
    [(IMPORTING_WSDL, "evil.xsd"), (ENTITY_WSDL, "not usable"), ("<definitions", "not usable")],
)
def test_a_wsdl_with_external_references_entities_or_garbage_is_refused(
    world: OpenInvoiceWorld, wsdl: str, words: str
) -> None:
    (world.folder / "hostile.wsdl").write_text(wsdl, encoding="utf-8")
    profile = world.profile(
        "soap", soap={"wsdl": "hostile.wsdl", "service_url": f"{world.soap_server.url}{SOAP_PATH}"}
    )
    with pytest.raises(ConfigError, match=words):
        send(world.connector, profile, oil_invoice("INV-S-1"))
    assert world.sandbox.invoices == []


def test_a_missing_local_wsdl_is_a_configuration_error(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap", soap={"wsdl": "nowhere.wsdl"})
    with pytest.raises(ConfigError, match=r"nowhere\.wsdl"):
        send(world.connector, profile, oil_invoice("INV-S-1"))


def test_an_unreachable_wsdl_is_transient(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap")
    world.soap_server.stop()
    with pytest.raises(TransientPortalError):
        send(world.connector, profile, oil_invoice("INV-S-1"))


def test_poll_pages_through_changes_and_advances_its_watermark(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap", soap={"page_size": 2})
    for n in range(5):
        send(world.connector, profile, oil_invoice(f"INV-S-{n}"))
    first = world.connector.poll(profile, None)
    assert sorted(u.invoice_number for u in first.updates) == [f"INV-S-{n}" for n in range(5)]
    assert first.requests == 3 and first.next_cursor == T0.isoformat()
    world.sandbox.clock.advance(hours=25)
    later = world.connector.poll(profile, first.next_cursor)
    assert {u.raw_status for u in later.updates} == {"approved"}
    assert later.next_cursor is not None and later.next_cursor > first.next_cursor


def test_poll_asks_only_for_changes(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap")
    send(world.connector, profile, oil_invoice("INV-S-OLD"))
    world.sandbox.clock.advance(hours=1)
    send(world.connector, profile, oil_invoice("INV-S-NEW"))
    result = world.connector.poll(profile, world.sandbox.clock.now().isoformat())
    assert [u.invoice_number for u in result.updates] == ["INV-S-NEW"]


def test_lookup_reports_the_dispute_with_the_buyers_words(world: OpenInvoiceWorld) -> None:
    profile = world.profile("soap")
    send(world.connector, profile, oil_invoice("INV-S-1", lines=[oil_line(price="165.00")]))
    world.sandbox.clock.advance(hours=30)
    record = world.connector.lookup(profile, "INV-S-1")
    assert record is not None and record.state is InvoiceState.DISPUTED
    assert record.reason and "above the contract rate 140.00" in record.reason
    assert record.category is RejectionCategory.PRICE_QUANTITY
    assert world.connector.lookup(profile, "INV-S-404") is None
