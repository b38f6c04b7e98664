"""OpenInvoice over REST: real TLS with certificates made by these tests, the mac header, OData paging.

Every mutual-TLS failure is proved against the sandbox's real handshake: no client certificate, a
certificate from another CA, a portal certificate we do not trust; and the mac: missing key, wrong key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from connectors.base import OutboundDocument
from connectors.http import send_submission
from connectors.openinvoice.outcome import tls_refusal
from connectors.openinvoice.rest import RestGateway, mac, odata_string
from connectors.sandbox.openinvoice import INVOICES_PATH, SUBMIT_PATH, ExistingInvoice
from connectors.sandbox.openinvoice.certs import TestCertificateAuthority
from connectors.sandbox.server import Reply, Request, SandboxServer
from hub.errors import (
    ConfigError,
    InDoubtError,
    PermanentPortalError,
    PortalAuthError,
    TransientPortalError,
)
from hub.model import Attachment, InvoiceState, RejectionCategory
from mappings.pidx_elements import PIDX_NS
from tests.conftest import require_pidx_refs
from tests.connectors.openinvoice_support import (
    KEY_PASSPHRASE,
    MAC_KEY,
    SECRETS,
    OpenInvoiceWorld,
    make_connector,
    oil_invoice,
    oil_line,
    render,
    sandbox_config,
    send,
)
from tests.factories import T0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[OpenInvoiceWorld]:
    built = OpenInvoiceWorld(tmp_path)
    yield built
    built.close()


def test_mac_is_base64_of_hmac_sha256_of_the_body() -> None:
    # RFC 4231-style known answer, computed outside portalhub: HMAC-SHA256("key", "The quick brown fox...").
    assert mac("key", b"The quick brown fox jumps over the lazy dog") == (
        "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
    )


def test_odata_string_literals_double_their_quotes() -> None:
    assert odata_string("O'Neil's INV-1") == "'O''Neil''s INV-1'"


def test_submits_over_mutual_tls_with_a_mac(world: OpenInvoiceWorld) -> None:
    profile = world.profile("rest")
    receipt = send(world.connector, profile, oil_invoice("INV-R-1"))
    held = world.sandbox.invoices[0]
    assert receipt.portal_invoice_id == held.id and receipt.http_status == 200
    assert (held.number, held.transport) == ("INV-R-1", "rest")


def test_the_mac_covers_the_exact_bytes_posted(world: OpenInvoiceWorld) -> None:
    seen: list[Request] = []
    original = world.rest_server.handler

    def recording(request: Request) -> Reply:
        seen.append(request)
        return original(request)

    world.rest_server.handler = recording
    profile = world.profile("rest")
    pdf = Attachment(filename="ticket.pdf", content=b"%PDF-1.4 signed ticket")
    document = render(world.connector, profile, oil_invoice("INV-R-1", attachments=[pdf]))
    world.connector.submit(document, profile)
    (posted,) = [r for r in seen if r.method == "POST"]
    expected = base64.b64encode(hmac.new(MAC_KEY.encode(), posted.body, hashlib.sha256).digest()).decode()
    assert posted.headers["mac"] == expected and posted.body == document.body
    assert posted.headers["content-type"].startswith("multipart/related")
    assert world.sandbox.invoices[0].attachments == 1
    assert MAC_KEY not in document.redacted() and MAC_KEY.encode() not in posted.body


def test_no_client_certificate_never_gets_past_the_handshake(world: OpenInvoiceWorld) -> None:
    """A profile always names a certificate, so this goes through the HTTP boundary the connector uses
    with a client that has none: the handshake is refused, and that is an access problem, not IN_DOUBT."""
    context = ssl.create_default_context(cafile=str(world.folder / "tls" / "ca.pem"))
    with httpx.Client(verify=context, timeout=2) as bare, pytest.raises(InDoubtError) as raised:
        send_submission(bare, "POST", f"{world.rest_server.url}{SUBMIT_PATH}", content=b"<x/>")
    assert tls_refusal(raised.value) in ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE")
    with pytest.raises(PortalAuthError, match="TLS handshake"):
        RestGateway._refused(raised.value)
    assert world.sandbox.portal.received == 0


def test_a_profile_without_a_usable_client_certificate_is_refused(world: OpenInvoiceWorld) -> None:
    other = TestCertificateAuthority("somebody else's CA")
    other.issue_client("bluebonnet-industrial").write(
        world.folder / "tls" / "other.pem", world.folder / "tls" / "other.key"
    )
    profile = world.profile(
        "rest",
        rest={
            "client_cert_file": "tls/other.pem",
            "client_key_file": "tls/other.key",
            "client_key_passphrase": None,
        },
    )
    with pytest.raises(PortalAuthError, match="TLS handshake") as raised:
        send(world.connector, profile, oil_invoice("INV-R-1"))
    assert "UNKNOWN_CA" in str(raised.value) or "CERTIFICATE" in str(raised.value)
    assert world.sandbox.portal.received == 0
    with pytest.raises(PortalAuthError, match="TLS handshake"):
        world.connector.lookup(profile, "INV-R-1")


def test_a_portal_certificate_we_do_not_trust_is_refused(world: OpenInvoiceWorld) -> None:
    TestCertificateAuthority("not the portal's CA").write_cert(world.folder / "tls" / "wrong-ca.pem")
    profile = world.profile("rest", rest={"ca_file": "tls/wrong-ca.pem"})
    with pytest.raises(PortalAuthError, match="CERTIFICATE_VERIFY_FAILED"):
        send(world.connector, profile, oil_invoice("INV-R-1"))
    assert world.sandbox.portal.received == 0


def test_a_certificate_the_portal_knows_no_account_for_is_refused(world: OpenInvoiceWorld) -> None:
    world.certificates.ca.issue_client("someone-else").write(
        world.folder / "tls" / "stranger.pem", world.folder / "tls" / "stranger.key"
    )
    profile = world.profile(
        "rest",
        rest={
            "client_cert_file": "tls/stranger.pem",
            "client_key_file": "tls/stranger.key",
            "client_key_passphrase": None,
        },
    )
    with pytest.raises(PortalAuthError) as raised:
        send(world.connector, profile, oil_invoice("INV-R-1"))
    assert raised.value.http_status == 403
    assert world.sandbox.portal.received == 0


def test_a_wrong_mac_key_is_refused_and_nothing_is_created(world: OpenInvoiceWorld) -> None:
    connector = make_connector(world.http, {**SECRETS, "secret:oi_mac_key": "a-different-mac-key"})
    try:
        with pytest.raises(PortalAuthError) as raised:
            send(connector, world.profile("rest"), oil_invoice("INV-R-1"))
    finally:
        connector.close()
    assert raised.value.http_status == 401 and "invalid_mac" in (raised.value.response_body or "")
    assert "a-different-mac-key" not in str(raised.value)
    assert world.sandbox.portal.received == 0


@pytest.mark.parametrize(
    ("secrets", "rest", "words"),
    [
        ({**SECRETS, "secret:oi_key_passphrase": "wrong-passphrase"}, {}, "client_key_passphrase"),
        (SECRETS, {"client_key_passphrase": None}, "client_key_passphrase"),
        (SECRETS, {"client_cert_file": "tls/missing.pem"}, "missing.pem"),
        (SECRETS, {"ca_file": "tls/missing-ca.pem"}, "missing-ca.pem"),
    ],
)
def test_unusable_certificate_settings_are_configuration_errors(
    world: OpenInvoiceWorld, secrets: dict[str, str], rest: dict[str, object], words: str
) -> None:
    connector = make_connector(world.http, secrets)
    try:
        with pytest.raises(ConfigError, match=words) as raised:
            send(connector, world.profile("rest", rest=rest), oil_invoice("INV-R-1"))
    finally:
        connector.close()
    assert KEY_PASSPHRASE not in str(raised.value) and "wrong-passphrase" not in str(raised.value)


def test_a_renewed_certificate_is_picked_up_without_a_restart(world: OpenInvoiceWorld) -> None:
    profile = world.profile("rest")
    send(world.connector, profile, oil_invoice("INV-R-1"))
    other = TestCertificateAuthority("somebody else's CA")
    other.issue_client("bluebonnet-industrial").write(
        world.folder / "tls" / "client.pem", world.folder / "tls" / "client.key", passphrase=KEY_PASSPHRASE
    )
    with pytest.raises(PortalAuthError):  # the new files are in use: this one is from the wrong CA
        send(world.connector, profile, oil_invoice("INV-R-2"))


def test_duplicates_and_buyer_rules_come_back_as_invoice_responses(world: OpenInvoiceWorld) -> None:
    profile = world.profile("rest")
    send(world.connector, profile, oil_invoice("INV-R-1"))
    with pytest.raises(PermanentPortalError) as duplicate:
        send(world.connector, profile, oil_invoice("INV-R-1"))
    assert duplicate.value.duplicate and duplicate.value.http_status == 409
    with pytest.raises(PermanentPortalError) as refused:
        send(world.connector, profile, oil_invoice("INV-R-2", lines=[oil_line(field_ticket_number=None)]))
    assert refused.value.http_status == 422 and refused.value.category is RejectionCategory.MISSING_FIELD
    assert refused.value.portal_code == "Reject/Missing Content"


@pytest.mark.parametrize(
    ("fault", "error", "created"),
    [
        ("drop_after", InDoubtError, 1),
        ("malformed_after", InDoubtError, 1),
        ("slow_after", InDoubtError, 1),
        ("unavailable_503", TransientPortalError, 0),
        ("throttle_429", TransientPortalError, 0),
    ],
)
def test_transport_faults_map_by_what_the_portal_can_have_done(
    world: OpenInvoiceWorld, fault: str, error: type[Exception], created: int
) -> None:
    profile = world.profile("rest", connection={"timeout_seconds": 0.5})
    world.faults.queue(fault, path_prefix=SUBMIT_PATH, delay=1.5)  # type: ignore[arg-type]
    with pytest.raises(error):
        send(world.connector, profile, oil_invoice("INV-R-1"))
    assert len(world.sandbox.invoices) == created


class _Scripted:
    """A TLS server with the sandbox's certificate that answers what the test says (no client check)."""

    def __init__(self, world: OpenInvoiceWorld, submit: Reply, listing: Reply):
        self.submit, self.listing = submit, listing
        self.server = SandboxServer(self, ssl_context=world.certificates.server).start()

    def __call__(self, request: Request) -> Reply:
        return self.submit if request.method == "POST" else self.listing


LISTING_OK = Reply(200, b'{"value": []}', "application/json")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Reply(200, b'{"status": "ok"}', "application/json"), InDoubtError),
        (Reply(200, b"<InvoiceResponse/>", "application/xml"), InDoubtError),
        (Reply(500, b"<html>oops</html>", "text/html"), InDoubtError),
        (Reply(503, b"<html>down</html>", "text/html"), TransientPortalError),
        (Reply(400, b'{"error": "bad_request"}', "application/json"), PermanentPortalError),
        (Reply(404, b"not here", "text/plain"), ConfigError),
    ],
)
def test_malformed_answers_to_a_submission(
    world: OpenInvoiceWorld, answer: Reply, error: type[Exception]
) -> None:
    scripted = _Scripted(world, answer, LISTING_OK)
    try:
        profile = world.profile("rest", rest={"base_url": scripted.server.url})
        with pytest.raises(error) as raised:
            send(world.connector, profile, oil_invoice("INV-R-1"))
        assert type(raised.value) is error
    finally:
        scripted.server.stop()


@pytest.mark.parametrize(
    ("listing", "error"),
    [
        (Reply(200, b"not json", "application/json"), TransientPortalError),
        (Reply(200, b'{"items": []}', "application/json"), TransientPortalError),
        (Reply(200, b'{"value": ["INV-1"]}', "application/json"), TransientPortalError),
        (Reply(503, b"down", "text/plain"), TransientPortalError),
        (Reply(401, b"who are you", "text/plain"), PortalAuthError),
        (Reply(404, b"no such listing", "text/plain"), ConfigError),
    ],
)
def test_malformed_listings(world: OpenInvoiceWorld, listing: Reply, error: type[Exception]) -> None:
    scripted = _Scripted(world, LISTING_OK, listing)
    try:
        profile = world.profile("rest", rest={"base_url": scripted.server.url})
        with pytest.raises(error):
            world.connector.poll(profile, None)
    finally:
        scripted.server.stop()


def test_an_unreadable_record_is_skipped_not_fatal(world: OpenInvoiceWorld) -> None:
    good = {
        "invoiceId": "OI-1",
        "invoiceNumber": "INV-1",
        "status": "approved",
        "lastActionDate": "2026-11-20T15:00:00Z",
    }
    bad = {"invoiceId": "OI-2", "invoiceNumber": "INV-2", "lastActionDate": "2026-11-20T15:00:00Z"}
    listing = Reply(200, json.dumps({"value": [good, bad]}).encode(), "application/json")
    scripted = _Scripted(world, LISTING_OK, listing)
    try:
        result = world.connector.poll(world.profile("rest", rest={"base_url": scripted.server.url}), None)
    finally:
        scripted.server.stop()
    assert [u.invoice_number for u in result.updates] == ["INV-1"]
    assert result.unreadable and "OI-2" in result.unreadable[0]


def test_poll_uses_odata_paging_and_a_last_action_filter(world: OpenInvoiceWorld) -> None:
    seen: list[Request] = []
    original = world.rest_server.handler

    def recording(request: Request) -> Reply:
        seen.append(request)
        return original(request)

    world.rest_server.handler = recording
    profile = world.profile("rest", rest={"page_size": 2})
    for n in range(5):
        send(world.connector, profile, oil_invoice(f"INV-R-{n}"))
    first = world.connector.poll(profile, None)
    assert sorted(u.invoice_number for u in first.updates) == [f"INV-R-{n}" for n in range(5)]
    listings = [r for r in seen if r.method == "GET" and r.path == INVOICES_PATH]
    assert first.requests == 3 == len(listings)
    assert [(r.param("$top"), r.param("$skip")) for r in listings] == [("2", "0"), ("2", "2"), ("2", "4")]
    world.sandbox.clock.advance(hours=25)
    seen.clear()
    later = world.connector.poll(profile, first.next_cursor)
    assert {u.state for u in later.updates} == {InvoiceState.APPROVED}
    assert seen[0].param("$filter") == "lastActionDate ge 2026-11-20T15:00:00Z"
    assert later.next_cursor == (T0.replace(day=21)).isoformat()


def test_lookup_finds_the_newest_record_by_number(world: OpenInvoiceWorld) -> None:
    profile = world.profile("rest")
    receipt = send(world.connector, profile, oil_invoice("O'Neil-1"))
    record = world.connector.lookup(profile, "O'Neil-1")
    assert record is not None and record.portal_invoice_id == receipt.portal_invoice_id
    assert world.connector.lookup(profile, "INV-R-404") is None


def _damaged(document: OutboundDocument, change: Callable[[etree._Element], None]) -> OutboundDocument:
    root = etree.fromstring(document.body)
    change(root)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return OutboundDocument(
        payload_id=document.payload_id,
        invoice_number=document.invoice_number,
        format=document.format,
        content_type=document.content_type,
        body=body,
    )


def _swap_first_two(root: etree._Element) -> None:
    properties = root[0]
    properties.insert(0, properties[1])  # InvoiceDate before InvoiceNumber


def _drop_currency(root: etree._Element) -> None:
    properties = root[0]
    properties.remove(properties.find(f"{{{PIDX_NS}}}PrimaryCurrency"))


def _wrong_subtotal(root: etree._Element) -> None:
    root.find(f".//{{{PIDX_NS}}}SubTotalAmount/{{{PIDX_NS}}}MonetaryAmount").text = "1.00"


@pytest.mark.parametrize(
    ("change", "code", "words", "category"),
    [
        (_swap_first_two, "Reject/Other", "does not follow the PIDX 1.61 schema", RejectionCategory.DOCUMENT),
        (
            _drop_currency,
            "Reject/Missing Content",
            "PrimaryCurrency is required",
            RejectionCategory.MISSING_FIELD,
        ),
        (_wrong_subtotal, "Reject/Other", "SubTotalAmount says 1.00", RejectionCategory.OTHER),
    ],
)
def test_the_portal_checks_what_openinvoice_checks(
    world: OpenInvoiceWorld,
    change: Callable[[etree._Element], None],
    code: str,
    words: str,
    category: RejectionCategory,
) -> None:
    if change is _swap_first_two:
        require_pidx_refs()  # the portal's schema check is the official XSD
    profile = world.profile("rest")
    document = _damaged(render(world.connector, profile, oil_invoice("INV-R-1")), change)
    with pytest.raises(PermanentPortalError) as raised:
        world.connector.submit(document, profile)
    assert raised.value.portal_code == code and raised.value.category is category
    assert raised.value.portal_text and words in raised.value.portal_text
    assert world.sandbox.invoices == []


def test_a_number_keyed_in_at_the_portal_by_hand_is_a_duplicate(tmp_path: Path) -> None:
    config = sandbox_config().model_copy(
        update={"existing_invoices": [ExistingInvoice(buyer="611222333", number="INV-R-1")]}
    )
    world = OpenInvoiceWorld(tmp_path, config)
    try:
        with pytest.raises(PermanentPortalError) as raised:
            send(world.connector, world.profile("rest"), oil_invoice("INV-R-1"))
    finally:
        world.close()
    assert raised.value.duplicate and raised.value.category is RejectionCategory.DUPLICATE
