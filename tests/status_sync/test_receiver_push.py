"""The Ariba sandbox pushing statuses to the hub's receiver over real HTTP: approved, rejected with
comments, paid with amount and date; retries while the receiver is down; push and poll of the same
change recorded once; and the daemon serving the receiver while it runs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from connectors.sandbox.ariba import AribaSandbox
from connectors.sandbox.clock import SandboxClock
from hub.daemon import Daemon
from hub.errors import ConfigError
from hub.http_listener import HttpListener
from hub.model import InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.services import timeline
from hub.store.tables import EventRow
from status_sync.poller import poll_profile
from tests.connectors.ariba_support import ariba_config, make_ariba_hub, status_update
from tests.factories import T0, ListAr, make_invoice

S = InvoiceState


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(start=T0)


@pytest.fixture
def ar() -> ListAr:
    return ListAr()


def network(clock: SandboxClock, **buyer: object) -> AribaSandbox:
    sandbox = AribaSandbox(ariba_config(push_url="http://127.0.0.1:9/unset", **buyer), clock)  # type: ignore[arg-type]
    sandbox.serve()
    return sandbox


@pytest.fixture
def ariba(clock: SandboxClock) -> Iterator[AribaSandbox]:
    sandbox = network(clock, status_delivery="push")
    yield sandbox
    sandbox.stop()


def start(tmp_path: Path, sandbox: AribaSandbox, ar: ListAr, status_mode: str = "push") -> tuple[Hub, Daemon]:
    assert sandbox.server is not None
    hub = make_ariba_hub(tmp_path, sandbox.server.url, ar=ar, status_mode=status_mode)
    return hub, Daemon(hub)


def point_network_at(sandbox: AribaSandbox, url: str) -> None:
    sandbox.config.buyers[0].push_url = url


def send(hub: Hub, ar: ListAr, *invoices: object) -> None:
    for invoice in invoices:
        ar.add(invoice)  # type: ignore[arg-type]
    ingest(hub)
    submit_profile(hub, hub.profile("acme-ariba"))


def state(hub: Hub, number: str) -> str:
    return str(timeline(hub, number)["invoice"]["state"])


def event_count(hub: Hub) -> int:
    with hub.store.session() as session:
        return int(session.exec(select(func.count()).select_from(EventRow)).one())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_network_pushes_approved_then_paid(tmp_path: Path, ariba: AribaSandbox, ar: ListAr) -> None:
    hub, daemon = start(tmp_path, ariba, ar)
    receiver = daemon.start_receiver()
    assert receiver is not None
    point_network_at(ariba, receiver.url)
    try:
        send(hub, ar, make_invoice("INV-1"), make_invoice("INV-2", lines=(("SEAL-22", "5", "EA", "4.20"),)))
        assert ariba.advance(hours=1) and state(hub, "INV-1") == S.PENDING_APPROVAL
        ariba.advance(hours=24)
        assert state(hub, "INV-1") == S.APPROVED and state(hub, "INV-2") == S.APPROVED
        ariba.advance(hours=48)
        head = timeline(hub, "INV-1")["invoice"]
        assert head["state"] == S.PAID and "paid 125.00 on 2026-11-23" in head["reason"]
        assert all(d.delivered_at and d.attempts == 1 for d in ariba.pusher.deliveries)
        assert len(ariba.pusher.deliveries) == 6  # processing, approved, paid for each
    finally:
        daemon.stop_receiver()
        hub.close()


def test_a_buyer_rejection_arrives_with_its_comments(tmp_path: Path, ariba: AribaSandbox, ar: ListAr) -> None:
    hub, daemon = start(tmp_path, ariba, ar)
    receiver = daemon.start_receiver()
    assert receiver is not None
    point_network_at(ariba, receiver.url)
    try:
        send(hub, ar, make_invoice("INV-1", lines=(("BRG-6205", "10", "EA", "13.10"),)))  # PO price 12.50
        ariba.advance(hours=25)
        head = timeline(hub, "INV-1")["invoice"]
        assert head["state"] == S.REJECTED and head["category"] == "price_quantity"
        assert "unit price 13.10 is above the order price 12.50" in head["reason"]
    finally:
        daemon.stop_receiver()
        hub.close()


def test_pushes_are_retried_until_the_receiver_is_back(
    tmp_path: Path, ariba: AribaSandbox, ar: ListAr
) -> None:
    hub, daemon = start(tmp_path, ariba, ar)
    port = free_port()
    hub.config = hub.config.model_copy(
        update={"receiver": hub.config.receiver.model_copy(update={"port": port})}  # type: ignore[union-attr]
    )
    point_network_at(ariba, f"http://127.0.0.1:{port}/ariba/status")
    try:
        send(hub, ar, make_invoice("INV-1"))
        assert ariba.advance(hours=25) == T0 + timedelta(hours=25)
        waiting = [d for d in ariba.pusher.deliveries if d.pending]
        assert [d.message.type for d in waiting] == ["processing", "approved"]
        assert waiting[0].attempts == 1 and "ConnectError" in waiting[0].answers[0]
        assert waiting[1].attempts == 0  # an invoice's later status waits behind its earlier one
        assert state(hub, "INV-1") == S.SUBMITTED

        assert daemon.start_receiver() is not None
        ariba.advance(minutes=30)  # the network's next try is an hour after the failure
        assert state(hub, "INV-1") == S.SUBMITTED
        ariba.advance(minutes=31)
        assert state(hub, "INV-1") == S.APPROVED
        assert [d.attempts for d in ariba.pusher.deliveries] == [2, 1]
        assert all(d.delivered_at is not None for d in ariba.pusher.deliveries)
    finally:
        daemon.stop_receiver()
        hub.close()


def test_a_receiver_that_refuses_is_not_retried(tmp_path: Path, ariba: AribaSandbox, ar: ListAr) -> None:
    hub, daemon = start(tmp_path, ariba, ar)
    receiver = daemon.start_receiver()
    assert receiver is not None
    point_network_at(ariba, receiver.url)
    ariba.config.push_secret = "a-secret-the-hub-does-not-have"
    try:
        send(hub, ar, make_invoice("INV-1"))
        ariba.advance(hours=1)
        ariba.advance(hours=2)
        first = ariba.pusher.deliveries[0]
        assert first.gave_up and first.attempts == 1 and first.answers == ["HTTP 401 / cXML 401"]
        assert state(hub, "INV-1") == S.SUBMITTED
    finally:
        daemon.stop_receiver()
        hub.close()


def test_push_and_poll_of_the_same_change_are_recorded_once(
    tmp_path: Path, clock: SandboxClock, ar: ListAr
) -> None:
    sandbox = network(clock, status_delivery="both")
    hub, daemon = start(tmp_path, sandbox, ar, status_mode="both")
    receiver = daemon.start_receiver()
    assert receiver is not None
    point_network_at(sandbox, receiver.url)
    profile = hub.profile("acme-ariba")
    try:
        send(hub, ar, make_invoice("INV-1"))
        sandbox.advance(hours=25)
        assert state(hub, "INV-1") == S.APPROVED
        before = event_count(hub)
        report = poll_profile(hub, profile)
        assert report.applied == {"duplicate": 1} and event_count(hub) == before
    finally:
        daemon.stop_receiver()
        hub.close()
        sandbox.stop()


def test_the_daemon_serves_the_receiver_while_it_runs(
    tmp_path: Path, ariba: AribaSandbox, ar: ListAr
) -> None:
    hub, daemon = start(tmp_path, ariba, ar)
    send(hub, ar, make_invoice("INV-1"))
    runner = threading.Thread(target=daemon.run_forever, kwargs={"install_signals": False})
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while daemon.receiver is None and time.monotonic() < deadline:
            time.sleep(0.02)
        receiver: HttpListener | None = daemon.receiver
        assert receiver is not None
        url = receiver.url
        answer = httpx.post(url, content=status_update(status_type="processing"), timeout=5)
        assert answer.status_code == 200 and state(hub, "INV-1") == S.PENDING_APPROVAL
    finally:
        daemon.stop.set()
        runner.join(timeout=20)
        hub.close()
    assert not runner.is_alive() and daemon.receiver is None
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, content=b"", timeout=2)


def test_a_port_in_use_stops_the_start_up(tmp_path: Path, ariba: AribaSandbox, ar: ListAr) -> None:
    hub, daemon = start(tmp_path, ariba, ar)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        hub.config = hub.config.model_copy(
            update={"receiver": hub.config.receiver.model_copy(update={"port": taken.getsockname()[1]})}  # type: ignore[union-attr]
        )
        with pytest.raises(ConfigError, match="cannot listen"):
            daemon.start_receiver()
    hub.close()
