"""Notifications end to end: invoices rejected by the Coupa sandbox and blocked by pre-flight reach a
real SMTP server (aiosmtpd on 127.0.0.1) and a real HTTP receiver as one digest per recipient, signed,
each event once, with the portal's words; a profile whose logins are refused is reported too."""

from __future__ import annotations

import email
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import col, select

from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import Reply, Request, SandboxServer
from hub.clock import ManualClock
from hub.daemon import Daemon
from hub.errors import ProfileUnavailableError
from hub.notify.channels import DIGEST_HEADER
from hub.notify.config import NotificationsConfig
from hub.notify.job import notify
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify
from hub.store.tables import NotificationRow, UnplacedStatusRow
from hub.unplaced import resolve
from tests.factories import SECRET, T0, ListAr, make_hub, make_invoice

#: The loopback test server takes AUTH without TLS (aiosmtpd warns about it); production uses starttls.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
SMTP_PASSWORD = "smtp-password-9731"
WEBHOOK_SECRET = "webhook-signing-key-5521"
UNKNOWN_PO = "PO-999999"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """What the SMTP server received (aiosmtpd handler)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"portalhub",
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=_authenticate,
            auth_required=True,
            auth_require_tls=False,  # no TLS on the loopback test server; production uses starttls
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


class Receiver:
    """A webhook endpoint: keeps what it is POSTed."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.server = SandboxServer(self.handle).start()

    def handle(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
        return Reply(204)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.server.stop()


@pytest.fixture
def ar() -> ListAr:
    return ListAr()


@pytest.fixture
def hub(
    tmp_path: Path,
    coupa: CoupaSandbox,
    ar: ListAr,
    smtp: SmtpServer,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Hub]:
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    assert coupa.server is not None
    built = make_hub(
        tmp_path,
        coupa.server.url,
        ar=ar,
        clock=ManualClock(T0),
        profiles=None,
    )
    settings = NotificationsConfig.model_validate(
        {
            "digest_minutes": 60,
            "portal_down_minutes": 30,
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "none",
                "username": "portalhub",
                "password": "env:TEST_SMTP_PASSWORD",
                "sender": "portalhub@bluebonnet.example",
                "timeout_seconds": 5,
            },
            "collectors": [
                {"name": "Dana Lopez", "email": "dana@bluebonnet.example", "customers": ["C-1"]},
                {"name": "Other desk", "email": "other@bluebonnet.example", "customers": ["C-99"]},
                {"name": "AR operations", "email": "arops@bluebonnet.example", "events": ["profile"]},
            ],
            "webhooks": [
                {
                    "name": "ar-channel",
                    "url": f"{receiver.server.url}/hooks/portalhub",
                    "secret": "env:TEST_WEBHOOK_SECRET",
                    "events": ["rejected", "disputed"],
                }
            ],
        }
    )
    built.config = built.config.model_copy(update={"notifications": settings})
    yield built
    built.close()


def send(hub: Hub, ar: ListAr, *invoices: object) -> None:
    for invoice in invoices:
        ar.add(invoice)  # type: ignore[arg-type]
    ingest(hub)
    submit_profile(hub, hub.profile("acme-coupa"))


def mails_to(smtp: SmtpServer, address: str) -> list[Message]:
    return [m for m in smtp.inbox.messages if m["To"] == address]


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_one_digest_per_recipient_with_the_reasons(
    hub: Hub, ar: ListAr, smtp: SmtpServer, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rejected = [make_invoice(f"INV-{n}", po=UNKNOWN_PO) for n in range(1, 6)]
    blocked = make_invoice("INV-9", lines=(("BRG-6205", "10", "ea", "12.50"),))  # UOM not a UN/ECE code
    send(hub, ar, *rejected, blocked, make_invoice("INV-10"))
    report = notify(hub)
    assert report.failures == {} and report.digests == {"Dana Lopez": 6, "ar-channel": 5}
    [mail] = mails_to(smtp, "dana@bluebonnet.example")  # six problems, one mail
    assert (
        mails_to(smtp, "other@bluebonnet.example") == [] and mails_to(smtp, "arops@bluebonnet.example") == []
    )
    text = body(mail)
    assert mail["Subject"] == "portalhub: 6 invoice problem(s) for 1 customer(s)"
    assert "CUSTOMER C-1: 6 invoice(s)" in text and "missing/invalid PO (5, 625.00 USD)" in text
    assert f"portal said: 500 Server could not create invoice. PO number {UNKNOWN_PO} was not found" in text
    assert "rule coupa-uom-code:" in text and "INV-9 BLOCKED" in text and "INV-10" not in text
    assert mail["Message-ID"] == f"<{mail[DIGEST_HEADER]}@portalhub>"
    [hook] = receiver.requests
    posted = json.loads(hook.body)
    assert posted["digest_id"] == hook.headers[DIGEST_HEADER.lower()]
    assert sorted(i["invoice_number"] for i in posted["items"]) == [f"INV-{n}" for n in range(1, 6)]
    signed = (hook.headers[TIMESTAMP_HEADER.lower()], hook.headers[SIGNATURE_HEADER.lower()])
    assert verify(WEBHOOK_SECRET, hook.body, *signed, now=T0.timestamp()) == int(T0.timestamp())
    with pytest.raises(SignatureError, match="does not match"):
        verify("another-key", hook.body, *signed, now=T0.timestamp())
    everything = text + hook.body.decode() + caplog.text
    assert SMTP_PASSWORD not in everything and WEBHOOK_SECRET not in everything and SECRET not in everything

    # Each event once: nothing new, nothing sent, however often the job runs.
    assert notify(hub).digests == {} and len(smtp.inbox.messages) == 1 and len(receiver.requests) == 1


def test_later_problems_wait_for_the_next_digest_and_fixed_ones_are_dropped(
    hub: Hub, ar: ListAr, smtp: SmtpServer
) -> None:
    send(hub, ar, make_invoice("INV-1", po=UNKNOWN_PO))
    notify(hub)
    assert len(mails_to(smtp, "dana@bluebonnet.example")) == 1
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(minutes=10))
    send(hub, ar, make_invoice("INV-2", po=UNKNOWN_PO), make_invoice("INV-3", po=UNKNOWN_PO))
    assert notify(hub).digests == {}  # within the digest interval: it waits
    ar.add(make_invoice("INV-3"))  # fixed in AR before the digest went out
    ingest(hub)
    hub.clock.advance(timedelta(minutes=51))
    assert notify(hub).digests["Dana Lopez"] == 1
    second = body(mails_to(smtp, "dana@bluebonnet.example")[1])
    assert "INV-2 REJECTED" in second and "INV-3" not in second and "INV-1" not in second
    with hub.store.session() as session:
        statuses = {
            (r.recipient, json.loads(r.payload)["invoice_number"]): r.status
            for r in session.exec(select(NotificationRow).where(col(NotificationRow.invoice_id).is_not(None)))
        }
    assert statuses[("email:Dana Lopez", "INV-3")] == "resolved"


def test_an_undelivered_digest_is_sent_again_with_the_same_id(hub: Hub, ar: ListAr, smtp: SmtpServer) -> None:
    send(hub, ar, make_invoice("INV-1", po=UNKNOWN_PO))
    smtp.stop()  # the mail server is down
    report = notify(hub)
    assert "Dana Lopez" in report.failures and "Connection" in report.failures["Dana Lopez"]
    with hub.store.session() as session:
        row = session.exec(
            select(NotificationRow).where(col(NotificationRow.recipient) == "email:Dana Lopez")
        ).one()
    assert row.status == "sending" and row.digest_id and row.attempts == 1
    smtp.start()
    send(hub, ar, make_invoice("INV-2", po=UNKNOWN_PO))  # a new problem does not hurry the retry
    assert "Dana Lopez" not in notify(hub).digests  # its retry is not due yet
    assert mails_to(smtp, "dana@bluebonnet.example") == []
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(minutes=6))
    assert notify(hub).digests == {"Dana Lopez": 1}
    [mail] = mails_to(smtp, "dana@bluebonnet.example")
    assert mail[DIGEST_HEADER] == row.digest_id  # the same digest, not a second one
    assert "INV-1 REJECTED" in body(mail) and "INV-2" not in body(mail)  # INV-2 waits for the next one


def test_refused_logins_are_reported_once_as_a_profile_incident(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, smtp: SmtpServer
) -> None:
    coupa.buyers["acme"].shared_secret = "rotated-by-the-buyer"
    send(hub, ar, make_invoice("INV-1"))
    notify(hub)
    [mail] = mails_to(smtp, "arops@bluebonnet.example")
    text = body(mail)
    assert "acme-coupa refuses the hub's credentials since 2026-11-20 15:00 UTC" in text
    assert "Invalid credentials" in text and "customers waiting: C-1" in text
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(hours=2))
    submit_profile(hub, hub.profile("acme-coupa"), invoice_id=None)  # refused again: the same incident
    Daemon(hub).notify()
    assert len(mails_to(smtp, "arops@bluebonnet.example")) == 1


def test_a_portal_down_longer_than_the_limit_is_reported(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, smtp: SmtpServer
) -> None:
    assert coupa.server is not None
    coupa.server.faults.set_rates({"unavailable_503": 1.0}, path_prefix="/acme/cxml")
    send(hub, ar, make_invoice("INV-1"))
    notify(hub)
    assert mails_to(smtp, "arops@bluebonnet.example") == []  # not yet: one failure is not an outage
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(minutes=45))
    submit_profile(hub, hub.profile("acme-coupa"))
    notify(hub)
    [mail] = mails_to(smtp, "arops@bluebonnet.example")
    assert "acme-coupa is not working since" in body(mail) and "503" in body(mail)


def test_a_portal_down_or_refusing_shows_in_status_and_in_the_metrics(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox
) -> None:
    from hub.services import status_summary

    assert coupa.server is not None and isinstance(hub.clock, ManualClock)
    coupa.server.faults.set_rates({"unavailable_503": 1.0}, path_prefix="/acme/cxml")
    send(hub, ar, make_invoice("INV-1"))
    assert status_summary(hub)["portals_not_working"] == {}  # one failure is not an outage
    hub.clock.advance(timedelta(minutes=45))
    submit_profile(hub, hub.profile("acme-coupa"))
    down = status_summary(hub)["portals_not_working"]
    assert list(down) == ["acme-coupa"] and down["acme-coupa"].startswith("portal not working since")
    assert Daemon(hub)._profile_health()["acme-coupa"] == down["acme-coupa"]  # portalhub_profile_up 0
    coupa.server.faults.clear()
    hub.clock.advance(timedelta(hours=2))  # the invoice's retry is due: the portal answers again
    submit_profile(hub, hub.profile("acme-coupa"))
    assert status_summary(hub)["portals_not_working"] == {}
    assert Daemon(hub)._profile_health() == {"acme-coupa": None}


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="add `smtp:`"):
        NotificationsConfig.model_validate({"collectors": [{"name": "A", "email": "a@x.example"}]})
    with pytest.raises(ValueError, match="never hold it"):
        NotificationsConfig.model_validate(
            {"webhooks": [{"name": "w", "url": "https://x.example/h", "secret": "plain-text-key"}]}
        )
    with pytest.raises(ValueError, match="unique"):
        NotificationsConfig.model_validate(
            {
                "webhooks": [
                    {"name": "w", "url": "https://x.example/h", "secret": "env:K"},
                    {"name": "w", "url": "https://x.example/i", "secret": "env:K"},
                ]
            }
        )


def test_a_held_profile_is_said_once_in_the_digest(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = hub.connector(hub.profile("acme-coupa"))

    def page_changed(document: object, profile: object) -> object:
        raise ProfileUnavailableError("the invoice form has no PO field any more", kind="recipe")

    monkeypatch.setattr(connector, "submit", page_changed)
    send(hub, ar, make_invoice("INV-1"), make_invoice("INV-2"))
    notify(hub)
    [mail] = mails_to(smtp, "arops@bluebonnet.example")
    text = body(mail)
    assert (
        "acme-coupa is held: the portal's pages no longer match its recipe since 2026-11-20 15:00 UTC" in text
    )
    assert "the invoice form has no PO field any more" in text and "customers waiting: C-1" in text
    [dana] = mails_to(smtp, "dana@bluebonnet.example")  # her customer's profile: told, once
    assert "acme-coupa is held" in body(dana) and "REJECTED" not in body(dana)  # nothing was rejected
    assert isinstance(hub.clock, ManualClock)
    for _ in range(3):
        hub.clock.advance(timedelta(hours=2))
        Daemon(hub).submit("acme-coupa")  # held: skipped
        notify(hub)
    assert len(mails_to(smtp, "arops@bluebonnet.example")) == 1
    assert len(mails_to(smtp, "dana@bluebonnet.example")) == 1


def _unplaced(hub: Hub, number: str, comments: str) -> int:
    """A status the receiver kept because it names no invoice of ours (status_sync/unplaced.py)."""
    row = UnplacedStatusRow(
        dedupe_key=f"AribaNetworkUserId:sender|payload-{number}",
        received_at=hub.clock.now(),
        profile_id="acme-coupa",
        problem="unknown-invoice",
        explanation=f"no invoice {number} was sent through acme-coupa",
        invoice_number=number,
        status_kind="InvoiceStatus",
        status_type="paid",
        comments=comments,
        details="{}",
    )
    with hub.store.session() as session:
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def test_a_status_the_hub_could_not_place_is_told_once_until_resolved(
    hub: Hub, smtp: SmtpServer, receiver: Receiver
) -> None:
    first = _unplaced(hub, "INV-404", "Paid in full\nRemittance 88")
    report = notify(hub)
    assert report.failures == {} and report.digests == {"Dana Lopez": 1}  # C-1 is acme-coupa's customer
    [mail] = mails_to(smtp, "dana@bluebonnet.example")
    text = body(mail)
    assert mail["Subject"] == "portalhub: 1 portal status(es) not placed"
    assert (
        f"#{first} from acme-coupa at 2026-11-20 15:00 UTC: invoice INV-404, names no invoice of ours" in text
    )
    assert "status: paid" in text and "portal said: Paid in full / Remittance 88" in text
    assert f"portalhub resolve-status {first}" in text and "CUSTOMER" not in text
    # Other customers' collector, AR operations (profile incidents only) and the webhook (rejected and
    # disputed only) are not told.
    assert len(smtp.inbox.messages) == 1 and receiver.requests == []
    assert notify(hub).digests == {}  # told once

    second = _unplaced(hub, "INV-405", "Short paid")
    assert notify(hub).digests == {}  # queued for Dana's next digest, an hour after the last one
    with hub.store.session() as session:
        assert resolve(session, [second], hub.clock.now()) == [second]
        session.commit()
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(hours=2))
    assert notify(hub).digests == {}  # resolved before that digest: dropped, not sent
    with hub.store.session() as session:
        rows = session.exec(
            select(NotificationRow).where(col(NotificationRow.event_key) == f"unplaced-{second}")
        )
        assert [row.status for row in rows] == ["resolved"]
