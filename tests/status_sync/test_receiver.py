"""The inbound status receiver over real HTTP: what it records, what it refuses (bad credentials,
malformed XML, external entities) with nothing recorded, and duplicates recorded once."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from lxml import etree
from sqlmodel import col, func, select

from connectors.sandbox.ariba import AribaSandbox
from connectors.sandbox.clock import SandboxClock
from hub.clock import ManualClock
from hub.daemon import Daemon
from hub.http_listener import HttpListener
from hub.model import InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.services import rejections, timeline
from hub.store.tables import EventRow, InvoiceRow
from mappings.cxml_response import parse_response
from tests.connectors.ariba_support import PUSH_SECRET, ariba_config, make_ariba_hub, status_update
from tests.factories import T0, ListAr, make_invoice

S = InvoiceState


@pytest.fixture
def ariba() -> Iterator[AribaSandbox]:
    sandbox = AribaSandbox(ariba_config(), SandboxClock(start=T0))
    sandbox.serve()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def hub(tmp_path: Path, ariba: AribaSandbox) -> Iterator[Hub]:
    assert ariba.server is not None
    ar = ListAr()
    built = make_ariba_hub(tmp_path, ariba.server.url, ar=ar, status_mode="push")
    ar.add(make_invoice("INV-1"))
    ingest(built)
    submit_profile(built, built.profile("acme-ariba"))
    yield built
    built.close()


@pytest.fixture
def receiver(hub: Hub) -> Iterator[HttpListener]:
    daemon = Daemon(hub)
    server = daemon.start_receiver()
    assert server is not None
    yield server
    daemon.stop_receiver()


def post(receiver: HttpListener, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        receiver.url, content=body, headers={"Content-Type": "text/xml", **headers}, timeout=5.0
    )


def event_count(hub: Hub) -> int:
    with hub.store.session() as session:
        return int(session.exec(select(func.count()).select_from(EventRow)).one())


def events(hub: Hub, number: str = "INV-1") -> list[dict[str, Any]]:
    return list(timeline(hub, number)["events"])


def payload_of(ariba: AribaSandbox, number: str = "INV-1") -> str:
    return next(i.payload_id for i in ariba.invoices if i.number == number)


def cxml_code(response: httpx.Response) -> int:
    return parse_response(response.content).code


def test_the_invoice_was_sent_first(hub: Hub) -> None:
    assert timeline(hub, "INV-1")["invoice"]["state"] == S.SUBMITTED


def test_a_paid_status_is_recorded_with_amount_and_date(hub: Hub, receiver: HttpListener) -> None:
    paid_at = T0 + timedelta(days=3)
    response = post(
        receiver,
        status_update(status_type="paid", at=paid_at, amount=Decimal("125.00"), comments=("Paid by ACH.",)),
    )

    assert response.status_code == 200 and cxml_code(response) == 200
    head = timeline(hub, "INV-1")["invoice"]
    assert head["state"] == S.PAID and head["portal_status"] == "paid"
    assert "paid 125.00 on 2026-11-23" in head["reason"] and "Paid by ACH." in head["reason"]


def test_document_status_with_comments_moves_the_invoice(
    hub: Hub, ariba: AribaSandbox, receiver: HttpListener
) -> None:
    body = status_update(
        kind="DocumentStatus",
        status_type="approved",
        invoice_number=None,  # matched by the DocumentReference payloadID alone
        document_payload_id=payload_of(ariba),
        comments=("Approved by AP.", "Pay on schedule."),
    )

    assert post(receiver, body).status_code == 200
    last = events(hub)[-1]
    assert (last["to"], last["raw_status"]) == (S.APPROVED, "approved")
    assert "Approved by AP. | Pay on schedule." in last["reason"]


def test_a_rejection_keeps_the_buyers_code_and_words(hub: Hub, receiver: HttpListener) -> None:
    words = "INV-143: Cannot create a non-PO invoice with pricing details."
    assert post(receiver, status_update(status_type="rejected", comments=(words,))).status_code == 200

    head = timeline(hub, "INV-1")["invoice"]
    assert head["state"] == S.REJECTED and head["category"] == "po" and words in head["reason"]


def test_an_unknown_invoice_status_type_is_kept_verbatim(hub: Hub, receiver: HttpListener) -> None:
    body = status_update(status_type="awaiting_goods_receipt", comments=("Waiting for the receipt.",))

    response = post(receiver, body)

    assert response.status_code == 200 and cxml_code(response) == 200
    last = events(hub)[-1]
    assert last["raw_status"] == "awaiting_goods_receipt" and last["to"] == S.SUBMITTED  # noted, not moved
    assert "Waiting for the receipt." in last["reason"]


def test_a_payment_status_is_kept_verbatim(hub: Hub, ariba: AribaSandbox, receiver: HttpListener) -> None:
    body = re.sub(
        rb"<InvoiceStatus .*</InvoiceStatus>",
        b'<PaymentStatus orderID="PO-100001" transactionTimestamp="2026-11-21T10:00:00+00:00" type="Settlement">'
        b'<PCard number="4111111111111111" expiration="2027-01-01"/><Total><Money currency="USD">125.00</Money>'
        b"</Total></PaymentStatus>",
        status_update(document_payload_id=payload_of(ariba), invoice_number=None),
    )
    assert b"PaymentStatus" in body

    assert post(receiver, body).status_code == 200
    assert events(hub)[-1]["raw_status"] == "Settlement"


def test_duplicate_deliveries_are_recorded_once(hub: Hub, receiver: HttpListener) -> None:
    body = status_update(status_type="processing")
    before = event_count(hub)

    answers = [post(receiver, body).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert event_count(hub) == before + 1


def test_concurrent_duplicate_deliveries_are_recorded_once(hub: Hub, receiver: HttpListener) -> None:
    body = status_update(status_type="reconciled", comments=("Matched to receipt.",))
    before = event_count(hub)
    answers: list[int] = []

    def deliver() -> None:
        answers.append(post(receiver, body).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200] * 4
    assert event_count(hub) == before + 1


@pytest.mark.parametrize(
    "changes",
    [
        {"secret": "not-the-push-secret"},
        {"secret": ""},
        {"sender": "AN09999999999"},
    ],
    ids=["wrong-secret", "empty-secret", "unknown-sender"],
)
def test_bad_credentials_are_401_with_nothing_recorded(
    hub: Hub, receiver: HttpListener, changes: dict[str, str]
) -> None:
    before = event_count(hub)

    response = post(receiver, status_update(status_type="paid", **changes))

    assert response.status_code == 401 and cxml_code(response) == 401
    assert event_count(hub) == before
    assert timeline(hub, "INV-1")["invoice"]["state"] == S.SUBMITTED
    assert PUSH_SECRET.encode() not in response.content


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<cXML><Request><StatusUpdateRequest>",
        b"not xml at all",
        b'<?xml version="1.0"?><cXML payloadID="x"><Request><OrderRequest/></Request></cXML>',
        b"<Invoice/>",
    ],
    ids=["empty", "truncated", "text", "not-a-status-update", "not-cxml"],
)
def test_documents_it_cannot_parse_are_400_with_nothing_recorded(
    hub: Hub, receiver: HttpListener, body: bytes
) -> None:
    before = event_count(hub)

    response = post(receiver, body)

    assert response.status_code == 400 and cxml_code(response) == 400
    assert event_count(hub) == before


def test_a_status_that_names_no_invoice_is_200_and_kept(hub: Hub, receiver: HttpListener) -> None:
    before = event_count(hub)
    response = post(receiver, status_update(invoice_number=None, document_payload_id=None))
    # 200: the network would only resend it; a person reads it in the worklist.
    assert response.status_code == 200 and event_count(hub) == before
    assert [r["category"] for r in rejections(hub)] == ["unplaced_status"]


def test_external_entities_are_refused_and_never_read(
    hub: Hub, receiver: HttpListener, tmp_path: Path
) -> None:
    secret_file = tmp_path / "etc-shadow"
    secret_file.write_text("root:TOP-SECRET-FILE-CONTENT:19000", encoding="utf-8")
    good = status_update(status_type="rejected", comments=("PLACEHOLDER",))
    declared = good.replace(
        b'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd">',
        f'<!DOCTYPE cXML [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'.encode(),
    ).replace(b"PLACEHOLDER", b"&xxe;")
    assert b"<!ENTITY xxe" in declared
    before = event_count(hub)

    response = post(receiver, declared)

    assert response.status_code == 400 and cxml_code(response) == 400
    assert b"TOP-SECRET" not in response.content
    assert event_count(hub) == before


def test_an_external_dtd_is_never_fetched_nor_its_entities_expanded(
    hub: Hub, receiver: HttpListener, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("TOP-SECRET-FILE-CONTENT", encoding="utf-8")
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY xxe SYSTEM "file://{secret_file}">', encoding="utf-8")
    body = (
        status_update(status_type="rejected", comments=("PLACEHOLDER",))
        .replace(b"http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd", f"file://{dtd}".encode())
        .replace(b"PLACEHOLDER", b"&xxe;")
    )

    response = post(receiver, body)

    # Either refused, or recorded without the entity's content: the file is never read.
    assert response.status_code in (200, 400)
    assert b"TOP-SECRET" not in response.content
    with hub.store.session() as session:
        stored = " ".join(str(e.reason) + str(e.details) for e in session.exec(select(EventRow)).all())
    assert "TOP-SECRET" not in stored


def test_a_status_for_no_invoice_of_ours_is_200_and_kept_for_a_person(
    hub: Hub, receiver: HttpListener
) -> None:
    before = event_count(hub)
    response = post(receiver, status_update(invoice_number="INV-404", status_type="paid"))
    assert response.status_code == 200 and cxml_code(response) == 200
    assert event_count(hub) == before
    (kept,) = rejections(hub)
    assert (kept["category"], kept["invoice_number"]) == ("unplaced_status", "INV-404")


def test_an_invoice_being_sent_answers_503_so_the_network_retries(hub: Hub, receiver: HttpListener) -> None:
    with hub.store.session() as session:
        row = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == "INV-1")).one()
        row.state = S.SUBMITTING.value
        session.add(row)
    before = event_count(hub)

    response = post(receiver, status_update(status_type="processing"))

    assert response.status_code == 503 and event_count(hub) == before


def test_a_document_over_the_size_limit_is_413(hub: Hub, receiver: HttpListener) -> None:
    huge = status_update(comments=("x" * (1024 * 1024 + 10),))
    response = post(receiver, huge)
    assert response.status_code == 413 and event_count(hub) >= 1


def test_only_post_on_the_configured_path(receiver: HttpListener) -> None:
    assert httpx.get(receiver.url, timeout=5.0).status_code == 405
    assert (
        httpx.post(receiver.url.replace("/ariba/status", "/other"), content=b"", timeout=5.0).status_code
        == 404
    )


def test_answers_are_cxml_responses(receiver: HttpListener, cxml_core_dtd: etree.DTD) -> None:
    response = post(receiver, status_update(status_type="processing"))
    document = etree.fromstring(response.content)
    assert cxml_core_dtd.validate(document), cxml_core_dtd.error_log
    assert response.headers["content-type"].startswith("text/xml")


def test_pushed_documents_are_valid_cxml(cxml_core_dtd: etree.DTD) -> None:
    for kind, status_type in (("InvoiceStatus", "paid"), ("DocumentStatus", "approved")):
        body = status_update(kind=kind, status_type=status_type, amount=Decimal("1.00"), comments=("c",))
        document = etree.fromstring(body)
        assert cxml_core_dtd.validate(document), cxml_core_dtd.error_log


def test_an_empty_configured_secret_lets_nobody_in(hub: Hub, tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.yaml"
    values = yaml.safe_load(secrets_file.read_text(encoding="utf-8"))
    values["ariba_push_secret"] = ""
    secrets_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    hub.secrets = type(hub.secrets)(secrets_file)
    daemon = Daemon(hub)
    server = daemon.start_receiver()
    assert server is not None
    try:
        before = event_count(hub)
        response = post(server, status_update(status_type="paid", secret=""))
        assert response.status_code == 401 and event_count(hub) == before
    finally:
        daemon.stop_receiver()


def _untimed(body: bytes) -> bytes:
    untimed = re.sub(rb'(<cXML [^>]*?) timestamp="[^"]*"', rb"\1", body)
    assert untimed != body and b"timestamp=" not in untimed.split(b"<Header>")[0]
    return untimed


def test_a_status_without_a_timestamp_replayed_is_recorded_once(hub: Hub, receiver: HttpListener) -> None:
    """The request carries no time of its own (no cXML timestamp): the hub dates it when it arrives, and a
    replay a minute later must not count as a second status."""
    body = _untimed(status_update(status_type="processing"))
    before = event_count(hub)
    assert post(receiver, body).status_code == 200
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(minutes=1))
    assert post(receiver, body).status_code == 200
    assert event_count(hub) == before + 1
    later = _untimed(status_update(status_type="reconciled"))  # other content: another status, recorded
    assert post(receiver, later).status_code == 200
    assert event_count(hub) == before + 2
