"""The receiver over real HTTP with StatusUpdateRequests typed by hand from cXML.dtd 1.2.063 (not the
hub's nor the sandbox's renderer): each way of naming the invoice, a named US zone, no zone (read in
the profile's `inbound.timezone`), and statuses it cannot place: answered 200, kept once for a person,
listed by `show` and in the worklist; authentication still 401 first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from lxml import etree
from sqlmodel import col, func, select
from typer.testing import CliRunner

import cli
from connectors.sandbox.ariba import AribaSandbox
from connectors.sandbox.clock import SandboxClock
from hub.commands import context
from hub.daemon import Daemon
from hub.http_listener import HttpListener
from hub.model import InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.services import rejections, timeline
from hub.store.tables import EventRow, InvoiceRow, UnplacedStatusRow
from mappings.cxml_response import parse_response
from tests.connectors.ariba_support import (
    BUYER_ANID,
    NETWORK_ANID,
    PUSH_SECRET,
    ariba_config,
    make_ariba_hub,
)
from tests.factories import T0, ListAr, make_invoice

S = InvoiceState
CHICAGO = "America/Chicago"


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
    built = make_ariba_hub(
        tmp_path,
        ariba.server.url,
        ar=ar,
        status_mode="push",
        with_listing=False,
        inbound={
            "sender": {"domain": "NetworkID", "identity": NETWORK_ANID},
            "shared_secret": "secret:ariba_push_secret",
            "timezone": CHICAGO,
        },
    )
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


def document(
    status: str,
    *,
    timestamp: str = "2026-11-21T09:30:00-06:00",
    reference: str = "",
    secret: str = PUSH_SECRET,
    payload: str = "hand-1@network.example",
) -> bytes:
    """A StatusUpdateRequest as a network writes it: `status` is the status element, typed out."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd">
<cXML payloadID="{payload}" timestamp="{timestamp}" xml:lang="en-US">
  <Header>
    <From><Credential domain="NetworkID"><Identity>{BUYER_ANID}</Identity></Credential></From>
    <To><Credential domain="NetworkID"><Identity>AN02000012345-T</Identity></Credential></To>
    <Sender>
      <Credential domain="NetworkID"><Identity>{NETWORK_ANID}</Identity><SharedSecret>{secret}</SharedSecret></Credential>
      <UserAgent>Network Hub 1.0</UserAgent>
    </Sender>
  </Header>
  <Request deploymentMode="test">
    <StatusUpdateRequest>
      {reference}
      <Status code="200" text="OK"/>
      {status}
    </StatusUpdateRequest>
  </Request>
</cXML>
""".encode()


def post(receiver: HttpListener, body: bytes) -> httpx.Response:
    return httpx.post(receiver.url, content=body, headers={"Content-Type": "text/xml"}, timeout=5.0)


def counts(hub: Hub) -> tuple[int, int]:
    with hub.store.session() as session:
        events = int(session.exec(select(func.count()).select_from(EventRow)).one())
        kept = int(session.exec(select(func.count()).select_from(UnplacedStatusRow)).one())
    return events, kept


def kept_rows(hub: Hub) -> list[UnplacedStatusRow]:
    with hub.store.session() as session:
        return list(session.exec(select(UnplacedStatusRow).order_by(col(UnplacedStatusRow.id))).all())


def invoice_row(hub: Hub) -> InvoiceRow:
    with hub.store.session() as session:
        return session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == "INV-1")).one()


def test_hand_written_documents_are_valid_cxml(cxml_core_dtd: etree.DTD) -> None:
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    for body in (
        document(
            '<DocumentStatus type="rejected"><DocumentInfo documentID="INV-1" documentType="InvoiceDetailRequest"/></DocumentStatus>'
        ),
        document(
            '<InvoiceStatus type="paid"><InvoiceIDInfo invoiceID="INV-1" invoiceDate="2026-11-20T00:00:00-06:00"/></InvoiceStatus>'
        ),
        document('<InvoiceStatus type="processing"/>', reference='<DocumentReference payloadID="x@y"/>'),
    ):
        assert cxml_core_dtd.validate(etree.fromstring(body, parser)), cxml_core_dtd.error_log


def test_document_info_with_a_named_zone_rejects_the_invoice(hub: Hub, receiver: HttpListener) -> None:
    words = "INV-143: Cannot create a non-PO invoice\n  with pricing details."
    body = document(
        '<DocumentStatus type="rejected"><DocumentInfo documentID="INV-1" documentType="InvoiceDetailRequest"/>'
        f'<Comments xml:lang="en-US">{words}</Comments></DocumentStatus>',
        timestamp="2026-11-21T01:11:57-CST",
    )

    response = post(receiver, body)

    assert response.status_code == 200 and parse_response(response.content).code == 200
    head = timeline(hub, "INV-1")["invoice"]
    assert head["state"] == S.REJECTED and words in head["reason"]
    assert invoice_row(hub).portal_updated_at == datetime(2026, 11, 21, 7, 11, 57, tzinfo=UTC)


def test_invoice_id_info_without_a_zone_is_read_in_the_profiles_zone(
    hub: Hub, receiver: HttpListener
) -> None:
    body = document(
        '<InvoiceStatus type="paid"><InvoiceIDInfo invoiceID="INV-1" invoiceDate="2026-11-20T00:00:00-06:00"/>'
        '<PartialAmount><Money currency="USD">125.00</Money></PartialAmount></InvoiceStatus>',
        timestamp="2026-11-21T09:30:00",
    )

    assert post(receiver, body).status_code == 200

    assert timeline(hub, "INV-1")["invoice"]["state"] == S.PAID
    # 09:30 in Chicago (CST, UTC-6) is 15:30 UTC.
    assert invoice_row(hub).portal_updated_at == datetime(2026, 11, 21, 15, 30, tzinfo=UTC)


def test_document_reference_to_our_payload_id(hub: Hub, ariba: AribaSandbox, receiver: HttpListener) -> None:
    ours = next(i.payload_id for i in ariba.invoices if i.number == "INV-1")
    body = document(
        '<InvoiceStatus type="reconciled"/>', reference=f'<DocumentReference payloadID="{ours}"/>'
    )
    assert post(receiver, body).status_code == 200
    assert timeline(hub, "INV-1")["invoice"]["state"] == S.APPROVED


def test_an_unknown_invoice_is_200_and_kept_once(hub: Hub, receiver: HttpListener) -> None:
    body = document(
        '<InvoiceStatus type="paid"><InvoiceIDInfo invoiceID="INV-404"/>'
        '<Comments xml:lang="en-US">Paid  twice?</Comments></InvoiceStatus>'
    )
    events, _ = counts(hub)

    answers = [post(receiver, body) for _ in range(3)]

    assert [a.status_code for a in answers] == [200] * 3
    assert all(parse_response(a.content).code == 200 for a in answers)
    assert counts(hub) == (events, 1)  # no invoice moved; the status kept once
    (row,) = kept_rows(hub)
    assert (row.problem, row.invoice_number, row.status_type, row.profile_id) == (
        "unknown-invoice",
        "INV-404",
        "paid",
        "acme-ariba",
    )
    assert row.comments == "Paid  twice?" and PUSH_SECRET not in row.details
    (listed,) = [r for r in rejections(hub) if r["category"] == "unplaced_status"]
    assert listed["invoice_number"] == "INV-404" and listed["portal_words"] == "Paid  twice?"


def test_an_invoice_number_reused_on_another_date_is_not_this_invoice(
    hub: Hub, receiver: HttpListener
) -> None:
    body = document(
        '<InvoiceStatus type="paid"><InvoiceIDInfo invoiceID="INV-1" invoiceDate="2024-03-01T00:00:00-06:00"/>'
        "</InvoiceStatus>"
    )
    assert post(receiver, body).status_code == 200
    assert timeline(hub, "INV-1")["invoice"]["state"] == S.SUBMITTED
    assert [r.problem for r in kept_rows(hub)] == ["unknown-invoice"]


def test_an_unknown_type_is_noted_and_shown_with_the_invoice(
    hub: Hub, receiver: HttpListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = document(
        '<DocumentStatus type="awaiting_goods_receipt"><DocumentInfo documentID="INV-1" documentType="InvoiceDetailRequest"/>'
        '<Comments xml:lang="en-US">Waiting for the receipt.</Comments></DocumentStatus>'
    )

    assert post(receiver, body).status_code == 200

    data = timeline(hub, "INV-1")
    assert (
        data["invoice"]["state"] == S.SUBMITTED
        and data["events"][-1]["raw_status"] == "awaiting_goods_receipt"
    )
    (kept,) = data["unplaced_statuses"]
    assert kept["problem"] == "unknown-type" and kept["comments"] == "Waiting for the receipt."
    (listed,) = [r for r in rejections(hub) if r["category"] == "unplaced_status"]
    assert (listed["invoice_number"], listed["customer_id"]) == ("INV-1", "C-1")

    @contextmanager
    def this_hub() -> Iterator[Hub]:
        yield hub

    monkeypatch.setattr(context, "opened_hub", this_hub)
    monkeypatch.setattr(context, "opened_view", this_hub)  # `show` and `rejections` read through the view
    shown = CliRunner().invoke(cli.app, ["show", "INV-1"])
    assert shown.exit_code == 0, shown.output
    assert "portal status not applied" in shown.stdout and "Waiting for the receipt." in shown.stdout
    listed_cli = CliRunner().invoke(cli.app, ["rejections", "--category", "unplaced_status"])
    assert listed_cli.exit_code == 1  # something to do
    assert "portal status not placed" in listed_cli.stdout and "INV-1" in listed_cli.stdout
    as_json = CliRunner().invoke(cli.app, ["rejections", "--json"])
    assert [f"resolve-status {kept['id']}" in r["hint"] for r in json.loads(as_json.stdout)] == [True]

    resolved = CliRunner().invoke(cli.app, ["resolve-status", str(kept["id"])])
    assert resolved.exit_code == 0 and f"#{kept['id']}" in resolved.stdout
    assert [r for r in rejections(hub) if r["category"] == "unplaced_status"] == []
    assert timeline(hub, "INV-1")["unplaced_statuses"][0]["resolved_at"] is not None
    assert CliRunner().invoke(cli.app, ["resolve-status", "999"]).exit_code == 2


@pytest.mark.parametrize(
    ("status", "timestamp", "said"),
    [
        (
            '<DocumentStatus type="approved"><DocumentInfo documentID="PO-1" documentType="OrderRequest"/></DocumentStatus>',
            "2026-11-21T09:30:00Z",
            "not an invoice",
        ),
        ('<InvoiceStatus type="paid"/>', "2026-11-21T09:30:00Z", "names the invoice"),
        ('<InvoiceStatus type="paid"><InvoiceIDInfo invoiceID="INV-1"/></InvoiceStatus>', "soon", "'soon'"),
    ],
    ids=["other-document", "no-identification", "unreadable-timestamp"],
)
def test_what_cannot_be_read_is_200_and_kept(
    hub: Hub, receiver: HttpListener, status: str, timestamp: str, said: str
) -> None:
    events, _ = counts(hub)
    response = post(receiver, document(status, timestamp=timestamp))
    assert response.status_code == 200
    assert counts(hub) == (events, 1)
    (row,) = kept_rows(hub)
    assert row.problem == "unreadable" and said in row.explanation
    assert timeline(hub, "INV-1")["invoice"]["state"] == S.SUBMITTED


def test_a_wrong_secret_is_401_even_when_the_status_cannot_be_read(hub: Hub, receiver: HttpListener) -> None:
    events, kept = counts(hub)
    for status in (
        '<InvoiceStatus type="paid"/>',
        '<InvoiceStatus type="paid"><InvoiceIDInfo invoiceID="INV-404"/></InvoiceStatus>',
    ):
        response = post(receiver, document(status, secret="guess"))
        assert response.status_code == 401
    assert counts(hub) == (events, kept)


def test_a_body_that_is_not_xml_is_still_400(hub: Hub, receiver: HttpListener) -> None:
    assert post(receiver, b"status: paid").status_code == 400
    assert counts(hub)[1] == 0


def test_an_inbound_timezone_that_is_not_a_zone_is_a_configuration_error(tmp_path: Path) -> None:
    from hub.errors import ConfigError
    from tests.connectors.ariba_support import write_ariba_profile

    bad = {
        "sender": {"domain": "NetworkID", "identity": NETWORK_ANID},
        "shared_secret": "secret:ariba_push_secret",
        "timezone": "Central",
    }
    with pytest.raises(ConfigError, match="unknown time zone 'Central'"):
        write_ariba_profile(
            tmp_path, "http://127.0.0.1:9", status_mode="push", with_listing=False, inbound=bad
        )
    good = write_ariba_profile(
        tmp_path,
        "http://127.0.0.1:9",
        status_mode="push",
        with_listing=False,
        inbound={**bad, "timezone": CHICAGO},
    )
    assert good.connection["inbound"]["timezone"] == CHICAGO


def test_concurrent_deliveries_of_an_unplaceable_status_are_kept_once(
    hub: Hub, receiver: HttpListener
) -> None:
    import threading

    body = document('<InvoiceStatus type="rejected"><InvoiceIDInfo invoiceID="INV-405"/></InvoiceStatus>')
    answers: list[int] = []

    def deliver() -> None:
        answers.append(post(receiver, body).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * 4
    assert [r.invoice_number for r in kept_rows(hub)] == ["INV-405"]
