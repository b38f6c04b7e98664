"""The network's status listing through the connector: polling from a cursor (changes only, keyset
pages), push-only profiles that never ask, lookups for reconciliation, and what goes wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.ariba import AribaConnector
from connectors.sandbox.ariba import LISTING_PATH, AribaSandbox
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import Reply, SandboxServer
from hub.errors import ConfigError, PortalAuthError, TransientPortalError
from hub.model import InvoiceState, RejectionCategory
from rules.schema import Profile
from tests.connectors.ariba_support import (
    ARIBA_SECRETS,
    ariba_config,
    make_ariba_connector,
    send,
    write_ariba_profile,
)
from tests.connectors.support import ScriptedPortal
from tests.factories import T0, make_invoice

S = InvoiceState


@pytest.fixture
def ariba() -> Iterator[AribaSandbox]:
    sandbox = AribaSandbox(ariba_config(), SandboxClock(start=T0))
    sandbox.serve()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def ariba_connector(http: httpx.Client) -> AribaConnector:
    return make_ariba_connector(http)


def profile_for(tmp_path: Path, sandbox: AribaSandbox, **options: Any) -> Profile:
    assert sandbox.server is not None
    options.setdefault("status_mode", "poll")
    return write_ariba_profile(tmp_path, sandbox.server.url, **options)


def listing_requests(sandbox: AribaSandbox) -> int:
    assert sandbox.server is not None
    return sandbox.server.requests[f"GET {LISTING_PATH}"]


def test_a_push_profile_never_asks_the_listing(
    tmp_path: Path, ariba: AribaSandbox, ariba_connector: AribaConnector
) -> None:
    profile = profile_for(tmp_path, ariba, status_mode="push")
    send(ariba_connector, profile, make_invoice("INV-1"))

    result = ariba_connector.poll(profile, "2026-11-19T00:00:00+00:00")

    assert (result.updates, result.next_cursor, result.requests) == ([], "2026-11-19T00:00:00+00:00", 0)
    assert listing_requests(ariba) == 0


def test_polls_return_changes_since_the_cursor(
    tmp_path: Path, ariba: AribaSandbox, ariba_connector: AribaConnector
) -> None:
    profile = profile_for(tmp_path, ariba)
    send(ariba_connector, profile, make_invoice("INV-1"))
    ariba.advance(hours=1)
    send(ariba_connector, profile, make_invoice("INV-2"))

    first = ariba_connector.poll(profile, None)
    assert [(u.invoice_number, u.raw_status, u.state) for u in first.updates] == [
        ("INV-1", "processing", S.PENDING_APPROVAL),
        ("INV-2", "processing", S.PENDING_APPROVAL),
    ]
    assert first.next_cursor == (T0 + timedelta(hours=1)).isoformat()

    # Nothing changed: only what happened at the watermark's own second is read again (deduplicated).
    again = ariba_connector.poll(profile, first.next_cursor)
    assert [u.invoice_number for u in again.updates] == ["INV-2"] and again.next_cursor == first.next_cursor

    ariba.advance(hours=24)
    later = ariba_connector.poll(profile, first.next_cursor)
    assert [(u.invoice_number, u.raw_status) for u in later.updates] == [
        ("INV-1", "approved"),
        ("INV-2", "approved"),
    ]
    assert later.updates[0].reason == "Approved for payment by ACME Manufacturing."


def test_paid_and_rejected_statuses_carry_their_details(
    tmp_path: Path, ariba: AribaSandbox, ariba_connector: AribaConnector
) -> None:
    profile = profile_for(tmp_path, ariba)
    send(ariba_connector, profile, make_invoice("INV-1"))
    send(ariba_connector, profile, make_invoice("INV-2", lines=(("SEAL-22", "10", "EA", "4.90"),)))
    ariba.advance(hours=24 * 4)

    by_number = {u.invoice_number: u for u in ariba_connector.poll(profile, None).updates}

    paid = by_number["INV-1"]
    assert (paid.state, paid.paid_amount, paid.payment_date) == (
        S.PAID,
        Decimal("125.00"),
        date(2026, 11, 23),
    )
    rejected = by_number["INV-2"]
    assert rejected.state is S.REJECTED and rejected.category is RejectionCategory.PRICE_QUANTITY
    assert rejected.reason and "unit price 4.90 is above the order price 4.20" in rejected.reason


def test_pages_follow_the_keyset_without_losing_a_record(
    tmp_path: Path, ariba: AribaSandbox, ariba_connector: AribaConnector
) -> None:
    assert ariba.server is not None
    profile = profile_for(
        tmp_path,
        ariba,
        listing={
            "url": f"{ariba.server.url}{LISTING_PATH}",
            "api_key": "secret:ariba_listing_key",
            "page_size": 2,
        },
    )
    for n in range(5):
        send(ariba_connector, profile, make_invoice(f"INV-{n}"))

    result = ariba_connector.poll(profile, None)

    assert [u.invoice_number for u in result.updates] == [f"INV-{n}" for n in range(5)]
    assert result.requests == 3 and listing_requests(ariba) == 3


def test_lookup_finds_the_invoice_with_the_networks_document_id(
    tmp_path: Path, ariba: AribaSandbox, ariba_connector: AribaConnector
) -> None:
    profile = profile_for(tmp_path, ariba)
    send(ariba_connector, profile, make_invoice("INV-1"))

    record = ariba_connector.lookup(profile, "INV-1")

    assert record is not None and record.portal_invoice_id == ariba.invoices[0].document_id
    assert (record.invoice_number, record.raw_status) == ("INV-1", "processing")
    assert ariba_connector.lookup(profile, "INV-404") is None


def test_lookup_reports_the_newest_invoice_under_a_reused_number(
    tmp_path: Path, ariba: AribaSandbox, ariba_connector: AribaConnector
) -> None:
    profile = profile_for(tmp_path, ariba)
    send(ariba_connector, profile, make_invoice("INV-1", lines=(("BRG-6205", "1", "EA", "99.00"),)))
    ariba.advance(hours=25)  # the buyer rejected it: the number is free again
    send(ariba_connector, profile, make_invoice("INV-1"))

    record = ariba_connector.lookup(profile, "INV-1")

    assert record is not None and record.raw_status == "processing"
    assert record.portal_invoice_id == ariba.invoices[-1].document_id


def test_an_invoice_still_queued_at_the_network_is_not_listed_yet(
    tmp_path: Path, ariba_connector: AribaConnector
) -> None:
    sandbox = AribaSandbox(ariba_config(listing_delay_minutes=30), SandboxClock(start=T0))
    sandbox.serve()
    try:
        profile = profile_for(tmp_path, sandbox)
        send(ariba_connector, profile, make_invoice("INV-1"))
        assert ariba_connector.lookup(profile, "INV-1") is None
        sandbox.advance(minutes=31)
        assert ariba_connector.lookup(profile, "INV-1") is not None
    finally:
        sandbox.stop()


def test_a_wrong_api_key_is_an_auth_error(tmp_path: Path, ariba: AribaSandbox, http: httpx.Client) -> None:
    profile = profile_for(tmp_path, ariba)
    connector = make_ariba_connector(http, {**ARIBA_SECRETS, "secret:ariba_listing_key": "wrong-key-0000"})
    with pytest.raises(PortalAuthError):
        connector.poll(profile, None)
    with pytest.raises(PortalAuthError):
        connector.lookup(profile, "INV-1")


def test_without_a_listing_lookup_says_what_to_configure(
    tmp_path: Path, ariba: AribaSandbox, ariba_connector: AribaConnector
) -> None:
    profile = profile_for(tmp_path, ariba, status_mode="push", with_listing=False)
    with pytest.raises(ConfigError, match=r"connection\.listing"):
        ariba_connector.lookup(profile, "INV-1")


@pytest.mark.parametrize(
    ("connection", "complaint"),
    [
        ({"status_mode": "poll", "with_listing": False}, "needs `listing:`"),
        ({"status_mode": "both", "with_listing": False}, "needs `listing:`"),
        ({"status_mode": "push", "inbound": None}, "needs `inbound:`"),
        ({"status_mode": "poll", "sender": {"domain": "DUNS", "identity": "123456789"}}, "domain NetworkID"),
        ({"status_mode": "poll", "status_mode_typo": 1}, "status_mode_typo"),
    ],
)
def test_connection_settings_are_checked_when_the_profile_loads(
    tmp_path: Path, connection: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        write_ariba_profile(tmp_path, "http://127.0.0.1:9", **connection)


def test_unreadable_records_are_skipped_not_fatal(
    tmp_path: Path,
    scripted: tuple[ScriptedPortal, SandboxServer],
    ariba_connector: AribaConnector,
) -> None:
    script, server = scripted
    good = {
        "documentId": "INV00000001",
        "invoiceNumber": "INV-1",
        "statusKind": "InvoiceStatus",
        "statusType": "paid",
        "paidAmount": "10.00",
        "updatedAt": "2026-11-21T10:00:00+00:00",
    }
    bad = [
        {**good, "documentId": "INV00000002", "updatedAt": "yesterday"},
        {**good, "documentId": "INV00000003", "paidAmount": "ten"},
        {"documentId": "INV00000004"},
    ]
    script.reply = Reply(200, json.dumps({"invoices": [good, *bad]}).encode(), "application/json")
    profile = write_ariba_profile(tmp_path, server.url, status_mode="poll")

    result = ariba_connector.poll(profile, None)

    assert [u.invoice_number for u in result.updates] == ["INV-1"]
    assert len(result.unreadable) == 3 and "INV00000002" in result.unreadable[0]
    assert result.next_cursor == "2026-11-21T10:00:00+00:00"
    sent = script.received[0]
    assert sent.headers["apikey"] == ARIBA_SECRETS["secret:ariba_listing_key"]
    assert sent.param("buyer") and sent.param("updatedFrom") is None


def test_a_listing_that_answers_nonsense_is_transient_and_says_so(
    tmp_path: Path,
    scripted: tuple[ScriptedPortal, SandboxServer],
    ariba_connector: AribaConnector,
) -> None:
    script, server = scripted
    profile = write_ariba_profile(tmp_path, server.url, status_mode="poll")
    for body in (b"<html>maintenance</html>", b'{"invoices": "none"}', b"[]"):
        script.reply = Reply(200, body, "application/json")
        with pytest.raises(TransientPortalError):
            ariba_connector.poll(profile, None)
