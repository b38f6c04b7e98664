"""The receiver is HTTP, authentication and dispatch: a portal family that pushes JSON (no cXML
anywhere) is read, authenticated and answered by its own connector through the contract's push hooks."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import BaseModel
from sqlmodel import select

from connectors.base import (
    Connector,
    Envelope,
    OutboundDocument,
    Push,
    PushedStatus,
    PushReply,
    PushSender,
    Receipt,
    SecretResolver,
)
from hub.errors import MappingError
from hub.model import Invoice, PortalStatusUpdate
from hub.profile import PortalProfile
from hub.store.database import Store, open_store
from hub.store.tables import InvoiceRow, UnplacedStatusRow
from status_sync.receiver import StatusReceiver
from tests.factories import T0

TOKEN = "jp-token-1"


@dataclass(frozen=True)
class _JsonPush(Push):
    """The family's own reading rides on the contract's Push."""

    token: str = field(default="", repr=False)
    invoice: str = ""
    status: str = ""


class JsonPortalConnection(BaseModel):
    push_token: str


class JsonPortalConnector(Connector):
    """A made-up family whose portal pushes `{"token", "invoice", "status"}` as JSON."""

    name = "jsonportal"
    document_format = "json"
    connection_model = JsonPortalConnection
    supports_push = True

    def render(self, invoice: Invoice, profile: PortalProfile, envelope: Envelope) -> OutboundDocument:
        raise NotImplementedError

    def submit(self, document: OutboundDocument, profile: PortalProfile) -> Receipt:
        raise NotImplementedError

    def read_push(self, body: bytes, headers: Mapping[str, str]) -> Push:
        try:
            data = json.loads(body)
            invoice, status, token = data["invoice"], data["status"], data["token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MappingError(f"not a JSON portal status: {exc}") from exc
        return _JsonPush(
            payload_id=data.get("id"),
            sender="json-portal",
            dedupe_key=f"json|{data.get('id')}",
            details={"id": data.get("id")},
            token=token,
            invoice=invoice,
            status=status,
        )

    def push_sender(self, profile: PortalProfile, push: Push, secrets: SecretResolver) -> PushSender | None:
        assert isinstance(push, _JsonPush)
        expected = secrets.resolve(self.settings(profile).push_token)
        return PushSender() if hmac.compare_digest(expected, push.token) else None

    def pushed_status(self, profile: PortalProfile, push: Push, received_at: datetime) -> PushedStatus:
        assert isinstance(push, _JsonPush)
        update = PortalStatusUpdate(
            invoice_number=push.invoice, state=None, raw_status=push.status, occurred_at=received_at
        )
        return PushedStatus(
            update=update, status_type=push.status, named=push.invoice, details={"read": True}
        )

    def push_reply(self, code: int, text: str, detail: str, now: datetime) -> PushReply:
        return PushReply(json.dumps({"code": code, "text": text}).encode(), "application/json")


class Secrets:
    def resolve(self, reference: str) -> str:
        return {"secret:json_push_token": TOKEN}[reference]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    yield opened
    opened.dispose()


def receiver(store: Store | None, profiles: dict[str, PortalProfile]) -> StatusReceiver:
    connector = JsonPortalConnector.__new__(JsonPortalConnector)
    return StatusReceiver(
        store=store,  # type: ignore[arg-type]
        profiles=lambda: profiles,
        connector=lambda profile: connector,
        secrets=Secrets(),
        now=lambda: T0,
    )


def profile() -> PortalProfile:
    return PortalProfile(
        id="acme-json",
        buyer="ACME",
        connector="jsonportal",
        match={"customer_id": ["C-1"]},
        connection={"push_token": "secret:json_push_token"},
    )


def body(**changes: Any) -> bytes:
    return json.dumps(
        {"id": "push-1", "token": TOKEN, "invoice": "INV-404", "status": "paid", **changes}
    ).encode()


def test_junk_is_400_in_the_familys_own_form() -> None:
    answer = receiver(None, {"acme-json": profile()}).receive(b"<cXML/>")
    assert answer.http_status == 400 and answer.content_type == "application/json"
    assert json.loads(answer.body)["code"] == 400


def test_a_wrong_credential_is_401_before_anything_is_recorded() -> None:
    answer = receiver(None, {"acme-json": profile()}).receive(body(token="guess"))
    assert (answer.http_status, answer.outcome) == (401, "unauthorized")


def test_a_status_for_no_invoice_is_200_and_kept_with_what_the_family_read(store: Store) -> None:
    answer = receiver(store, {"acme-json": profile()}).receive(body())
    assert (answer.http_status, answer.outcome) == (200, "kept")
    with store.session() as session:
        (kept,) = session.exec(select(UnplacedStatusRow)).all()
    assert (kept.problem, kept.invoice_number, kept.status_type, kept.profile_id) == (
        "unknown-invoice",
        "INV-404",
        "paid",
        "acme-json",
    )
    assert json.loads(kept.details) == {"id": "push-1", "read": True}
    # The same document again is the same kept row.
    assert receiver(store, {"acme-json": profile()}).receive(body()).http_status == 200
    with store.session() as session:
        assert len(session.exec(select(UnplacedStatusRow)).all()) == 1


def test_without_any_family_that_takes_pushes_every_body_is_400_in_plain_text() -> None:
    answer = StatusReceiver(
        store=None,  # type: ignore[arg-type]
        profiles=dict,
        connector=None,  # type: ignore[arg-type]
        secrets=None,  # type: ignore[arg-type]
        now=lambda: T0,
    ).receive(body())
    assert answer.http_status == 400 and answer.content_type.startswith("text/plain")


def test_an_invoice_date_a_day_off_is_the_same_invoice() -> None:
    status = PushedStatus(update=None, invoice_date=date(2026, 11, 20))

    def row(day: int) -> InvoiceRow:
        return cast(InvoiceRow, SimpleNamespace(invoice_date=date(2026, 11, day)))

    assert StatusReceiver._same_invoice(status, row(21)) and StatusReceiver._same_invoice(status, row(19))
    assert not StatusReceiver._same_invoice(status, row(25))
