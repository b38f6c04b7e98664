"""Network failures injected by the sandbox at the socket level (real sockets, no mocks): whether the
invoice may exist at the portal decides between TransientPortalError and InDoubtError."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from connectors.coupa import CoupaConnector
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import FaultPlan
from hub.errors import InDoubtError, PermanentPortalError, TransientPortalError
from hub.model import InvoiceState
from rules.schema import Profile
from tests.connectors.support import INVOICE_PATH, send, write_profile
from tests.factories import make_invoice


def test_a_connection_dropped_before_processing_is_in_doubt_and_nothing_was_created(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, profile: Profile
) -> None:
    faults.queue("drop_before")

    with pytest.raises(InDoubtError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    # The client cannot tell a drop before processing from one after it: both are IN_DOUBT.
    assert isinstance(raised.value.__cause__, httpx.TransportError)
    assert faults.injected["drop_before"] == 1
    assert coupa.invoices == [] and coupa.received == 0
    # Reconciliation finds nothing, so the hub may send again, and that send goes through.
    assert connector.lookup(profile, "INV-1") is None
    receipt = send(connector, profile, make_invoice("INV-1"))
    assert [str(i.id) for i in coupa.invoices] == [receipt.portal_invoice_id]


def test_a_connection_dropped_after_processing_is_in_doubt_and_the_invoice_exists(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, profile: Profile
) -> None:
    faults.queue("drop_after")

    with pytest.raises(InDoubtError):
        send(connector, profile, make_invoice("INV-1"))

    assert faults.injected["drop_after"] == 1
    assert len(coupa.invoices) == 1
    # Why IN_DOUBT must be reconciled first: the invoice is there, a blind resend is a duplicate.
    found = connector.lookup(profile, "INV-1")
    assert found is not None and found.portal_invoice_id == str(coupa.invoices[0].id)
    with pytest.raises(PermanentPortalError) as resent:
        send(connector, profile, make_invoice("INV-1"))
    assert resent.value.duplicate is True
    assert len(coupa.invoices) == 1


def test_an_answer_slower_than_the_timeout_is_in_doubt_and_the_invoice_exists(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, tmp_path: Path
) -> None:
    assert coupa.server is not None
    profile = write_profile(tmp_path, coupa.server.url, timeout_seconds=0.3)
    faults.queue("slow_after", delay=1.5)

    started = time.perf_counter()
    with pytest.raises(InDoubtError) as raised:
        send(connector, profile, make_invoice("INV-1"))
    elapsed = time.perf_counter() - started

    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)
    assert elapsed < 1.2  # the profile's timeout applied, not the portal's pace
    assert len(coupa.invoices) == 1


def test_a_malformed_answer_after_processing_is_in_doubt(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, profile: Profile
) -> None:
    faults.queue("malformed_after")

    with pytest.raises(InDoubtError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert raised.value.http_status == 200
    assert raised.value.response_body == "<cXML><Response><Status code="
    assert len(coupa.invoices) == 1


def test_a_gateway_503_is_transient(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, profile: Profile
) -> None:
    faults.queue("unavailable_503")

    with pytest.raises(TransientPortalError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert raised.value.http_status == 503
    assert raised.value.retry_after is None
    assert coupa.invoices == []
    send(connector, profile, make_invoice("INV-1"))  # the outage is over: the same invoice goes through
    assert len(coupa.invoices) == 1


def test_throttling_is_transient_with_retry_after(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, profile: Profile
) -> None:
    faults.queue("throttle_429", retry_after=3)

    with pytest.raises(TransientPortalError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert (raised.value.http_status, raised.value.retry_after) == (429, 3.0)
    assert coupa.invoices == [] and coupa.received == 0


def test_a_plain_500_page_is_in_doubt(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, profile: Profile
) -> None:
    # An HTML 500 says nothing about the invoice; the connector cannot know it was not processed.
    faults.queue("error_500")

    with pytest.raises(InDoubtError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert raised.value.http_status == 500
    assert coupa.invoices == []


def test_faults_apply_to_the_next_posts_only(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, profile: Profile
) -> None:
    faults.queue("unavailable_503", count=2)

    outcomes = []
    for number in ("INV-1", "INV-2", "INV-3"):
        try:
            send(connector, profile, make_invoice(number))
            outcomes.append("accepted")
        except TransientPortalError:
            outcomes.append("transient")

    assert outcomes == ["transient", "transient", "accepted"]
    assert [i.number for i in coupa.invoices] == ["INV-3"]
    assert coupa.server is not None and coupa.server.requests[f"POST {INVOICE_PATH}"] == 3


def test_a_closed_port_is_transient(connector: CoupaConnector, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: the connection is refused, the request never left.
    profile = write_profile(tmp_path, f"http://127.0.0.1:{port}")

    with pytest.raises(TransientPortalError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert raised.value.http_status is None


def test_an_in_doubt_send_is_settled_by_lookup_while_the_portal_is_still_answering(
    coupa: CoupaSandbox, faults: FaultPlan, connector: CoupaConnector, profile: Profile, tmp_path: Path
) -> None:
    assert coupa.server is not None
    impatient = write_profile(tmp_path / "impatient", coupa.server.url, timeout_seconds=0.3)
    faults.queue("slow_after", delay=2.0)

    with pytest.raises(InDoubtError):
        send(connector, impatient, make_invoice("INV-1"))

    record = connector.lookup(profile, "INV-1")
    assert record is not None
    assert record.portal_invoice_id == str(coupa.invoices[0].id)
    assert record.state is InvoiceState.PENDING_APPROVAL
