"""lookup and poll against the sandbox's Coupa Supplier Portal REST API (OAuth 2.0 client credentials,
`updated-at[gt]` watermark, offset paging), over real sockets."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from lxml import etree

from connectors.coupa import CoupaConnector
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import Reply, Request, SandboxServer
from hub.errors import ConfigError, PortalAuthError
from hub.model import InvoicePurpose, InvoiceState, RejectionCategory
from rules.schema import Profile
from tests.connectors.support import SECRETS, envelope, make_connector, send, write_profile
from tests.factories import API_SECRET, T0, make_invoice

TOKEN = "POST /oauth2/token"
LISTING = "GET /api/v1/invoices"
OVERPRICED = (("BRG-6205", "10", "EA", "13.50"),)


def _requests(coupa: CoupaSandbox) -> dict[str, int]:
    assert coupa.server is not None
    return dict(coupa.server.requests)


def _submit_many(connector: CoupaConnector, profile: Profile, prefix: str, count: int) -> list[str]:
    return [
        str(send(connector, profile, make_invoice(f"{prefix}-{n:03d}")).portal_invoice_id)
        for n in range(count)
    ]


# --- OAuth --------------------------------------------------------------------------------------------------


def test_the_token_is_fetched_once_and_reused(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    send(connector, profile, make_invoice("INV-1"))

    connector.poll(profile, None)
    connector.lookup(profile, "INV-1")
    connector.poll(profile, None)

    assert _requests(coupa)[TOKEN] == 1
    assert _requests(coupa)[LISTING] == 3


def test_an_expired_token_is_replaced_once(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    send(connector, profile, make_invoice("INV-1"))
    connector.poll(profile, None)
    sandbox_clock.advance(hours=2)  # the sandbox's tokens live one hour of portal time

    result = connector.poll(profile, None)

    assert [u.invoice_number for u in result.updates] == ["INV-1"]
    assert _requests(coupa)[TOKEN] == 2
    assert _requests(coupa)[LISTING] == 3  # one refused with 401, asked again with the new token


def test_an_unknown_api_client_is_an_auth_error(
    coupa: CoupaSandbox, connector: CoupaConnector, tmp_path: Path
) -> None:
    assert coupa.server is not None
    profile = write_profile(tmp_path, coupa.server.url, api={"client_id": "someone-else"})

    with pytest.raises(PortalAuthError):
        connector.poll(profile, None)
    with pytest.raises(PortalAuthError):
        connector.lookup(profile, "INV-1")

    assert _requests(coupa).get(LISTING, 0) == 0
    assert _requests(coupa)[TOKEN] == 2  # refused credentials are not retried


def test_a_wrong_client_secret_is_an_auth_error(
    coupa: CoupaSandbox, http: httpx.Client, profile: Profile
) -> None:
    connector = make_connector(http, {**SECRETS, "secret:coupa_api_secret": API_SECRET + "-old"})

    with pytest.raises(PortalAuthError) as raised:
        connector.poll(profile, None)

    assert API_SECRET + "-old" not in str(raised.value)
    assert _requests(coupa).get(LISTING, 0) == 0


def test_a_profile_without_api_settings_cannot_poll_or_look_up(
    coupa: CoupaSandbox, connector: CoupaConnector, tmp_path: Path
) -> None:
    assert coupa.server is not None
    profile = write_profile(tmp_path, coupa.server.url, with_api=False)

    with pytest.raises(ConfigError):
        connector.poll(profile, None)
    with pytest.raises(ConfigError):
        connector.lookup(profile, "INV-1")
    assert _requests(coupa) == {}


# --- lookup -------------------------------------------------------------------------------------------------


def test_lookup_finds_an_invoice_by_number(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    send(connector, profile, make_invoice("INV-1"))
    second = send(connector, profile, make_invoice("INV-2"))

    found = connector.lookup(profile, "INV-2")

    assert found is not None
    assert (found.portal_invoice_id, found.invoice_number) == (second.portal_invoice_id, "INV-2")
    assert (found.state, found.raw_status) == (InvoiceState.PENDING_APPROVAL, "pending_approval")
    assert found.occurred_at == T0
    sandbox_clock.advance(hours=coupa.buyers["acme"].approve_after_hours)
    approved = connector.lookup(profile, "INV-2")
    assert approved is not None and approved.state is InvoiceState.APPROVED


def test_lookup_of_an_unknown_number_is_none(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    send(connector, profile, make_invoice("INV-1"))

    assert connector.lookup(profile, "INV-404") is None
    assert connector.lookup(profile, "INV-") is None  # a prefix is not a match
    assert _requests(coupa)[LISTING] == 2


def test_lookup_reports_the_live_invoice_when_a_voided_one_had_the_same_number(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    # Coupa lets a supplier reuse the number of a voided invoice; reconciling the resend must see the
    # new invoice (its portal id), not the voided one.
    first = send(connector, profile, make_invoice("INV-1"))
    sandbox_clock.advance(minutes=1)
    cancel = make_invoice("INV-1", purpose=InvoicePurpose.CANCEL, original_invoice_number="INV-1")
    connector.submit(
        connector.render(cancel, profile, envelope("INV-1", "INV-1.cancel@test", "INV-1.1@portalhub.test")),
        profile,
    )
    sandbox_clock.advance(minutes=1)
    again = connector.submit(
        connector.render(make_invoice("INV-1"), profile, envelope("INV-1", "INV-1.2@test")), profile
    )
    assert first.portal_invoice_id != again.portal_invoice_id

    found = connector.lookup(profile, "INV-1")

    assert found is not None
    assert found.portal_invoice_id == again.portal_invoice_id
    assert found.state is InvoiceState.PENDING_APPROVAL


# --- poll ---------------------------------------------------------------------------------------------------


def test_a_first_poll_returns_everything_and_the_newest_updated_at(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    ids = []
    for n in range(3):
        ids.append(send(connector, profile, make_invoice(f"INV-{n}")).portal_invoice_id)
        sandbox_clock.advance(minutes=5)

    result = connector.poll(profile, None)

    assert [u.portal_invoice_id for u in result.updates] == ids
    assert {u.state for u in result.updates} == {InvoiceState.PENDING_APPROVAL}
    assert result.next_cursor == (T0 + timedelta(minutes=10)).isoformat()
    assert result.requests == 1 == _requests(coupa)[LISTING]


def test_a_poll_from_a_cursor_returns_only_what_changed(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    early = send(connector, profile, make_invoice("INV-EARLY"))
    sandbox_clock.advance(hours=2)
    send(connector, profile, make_invoice("INV-LATE"))
    cursor = connector.poll(profile, None).next_cursor
    assert cursor == (T0 + timedelta(hours=2)).isoformat()
    approve = timedelta(hours=coupa.buyers["acme"].approve_after_hours)

    # INV-EARLY is approved at T0+24h; INV-LATE not before T0+26h.
    sandbox_clock.advance(approve - timedelta(minutes=90))
    changed = connector.poll(profile, cursor)

    assert [(u.portal_invoice_id, u.state) for u in changed.updates] == [
        (early.portal_invoice_id, InvoiceState.APPROVED)
    ]
    assert changed.next_cursor == (T0 + approve).isoformat()
    quiet = connector.poll(profile, changed.next_cursor)
    assert quiet.updates == []
    assert quiet.next_cursor == changed.next_cursor


class _Counting:
    def __init__(self, coupa: CoupaSandbox):
        self.coupa = coupa
        self.start = _requests(coupa).get(LISTING, 0)

    @property
    def listings(self) -> int:
        return _requests(self.coupa).get(LISTING, 0) - self.start


@pytest.mark.parametrize(
    ("unchanged", "changed"),
    [(20, 100), (170, 100), (20, 49), (20, 50), (0, 0)],
    ids=lambda v: str(v),
)
def test_a_poll_costs_pages_of_changes_not_requests_per_invoice(
    coupa: CoupaSandbox,
    connector: CoupaConnector,
    profile: Profile,
    sandbox_clock: SandboxClock,
    unchanged: int,
    changed: int,
) -> None:
    _submit_many(connector, profile, "OLD", unchanged)
    cursor = T0.isoformat()
    sandbox_clock.advance(hours=1)
    new_ids = _submit_many(connector, profile, "NEW", changed)
    counting = _Counting(coupa)

    result = connector.poll(profile, cursor)

    pages = math.ceil(changed / 50) + (1 if changed % 50 == 0 else 0)
    assert counting.listings == pages == result.requests
    assert sorted(u.portal_invoice_id or "" for u in result.updates) == sorted(new_ids)
    assert result.next_cursor == ((T0 + timedelta(hours=1)).isoformat() if changed else cursor)


class _MovesARecordWhilePaging:
    """Wraps the sandbox API: just before the second page is served, one record of the first page changes
    (so it moves to the end of the updated-at order and every later record shifts up by one)."""

    def __init__(self, coupa: CoupaSandbox, clock: SandboxClock, victim: int):
        self.coupa, self.clock, self.victim = coupa, clock, victim
        self.armed = False

    def __call__(self, request: Request) -> Reply:
        if self.armed and request.path == "/api/v1/invoices" and request.param("offset") == "50":
            self.armed = False
            moment = self.clock.advance(seconds=1)
            held = next(i for i in self.coupa.invoices if i.id == self.victim)
            held.timeline.append((moment, "on_hold"))
        return self.coupa.handle(request)


def test_a_record_moving_while_paging_does_not_advance_the_cursor(
    coupa: CoupaSandbox,
    connector: CoupaConnector,
    profile: Profile,
    sandbox_clock: SandboxClock,
    tmp_path: Path,
) -> None:
    ids = _submit_many(connector, profile, "INV", 120)
    first = connector.poll(profile, None)
    cursor = first.next_cursor
    assert cursor == T0.isoformat() and len(first.updates) == 120
    sandbox_clock.advance(hours=coupa.buyers["acme"].approve_after_hours)  # all 120 approved at once

    mover = _MovesARecordWhilePaging(coupa, sandbox_clock, victim=int(ids[0]))
    with SandboxServer(mover) as wrapper:
        paging = write_profile(tmp_path / "wrapped", _url(coupa), api_url=wrapper.url)
        mover.armed = True
        shifted = connector.poll(paging, cursor)

    seen = [u.portal_invoice_id for u in shifted.updates]
    # The hazard is real: the record that slid from offset 50 to 49 was never served ...
    assert ids[50] not in seen
    assert seen.count(ids[0]) == 2
    # ... so the watermark stays where it was, and the next poll reads the window again.
    assert shifted.next_cursor == cursor
    again = connector.poll(profile, shifted.next_cursor)
    assert sorted(u.portal_invoice_id or "" for u in again.updates) == sorted(ids)
    states = {u.portal_invoice_id: u.state for u in again.updates}
    assert states[ids[0]] is InvoiceState.ON_HOLD
    assert states[ids[50]] is InvoiceState.APPROVED
    assert again.next_cursor == (T0 + timedelta(hours=24, seconds=1)).isoformat()


def test_paging_without_changes_meanwhile_advances_the_cursor(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    # The counterpart of the moving-record case: same 120 records, nothing moves, the cursor advances.
    ids = _submit_many(connector, profile, "INV", 120)
    sandbox_clock.advance(hours=24)

    result = connector.poll(profile, T0.isoformat())

    assert sorted(u.portal_invoice_id or "" for u in result.updates) == sorted(ids)
    assert result.requests == 3
    assert result.next_cursor == (T0 + timedelta(hours=24)).isoformat()


def _url(coupa: CoupaSandbox) -> str:
    assert coupa.server is not None
    return coupa.server.url


# --- what a status carries ----------------------------------------------------------------------------------


def test_a_paid_invoice_polls_as_paid_with_amount_and_date(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    invoice = make_invoice("INV-1", lines=(("BRG-6205", "10", "EA", "12.50"), ("SEAL-22", "5", "EA", "4.20")))
    receipt = send(connector, profile, invoice)
    buyer = coupa.buyers["acme"]
    paid_at = T0 + timedelta(hours=buyer.approve_after_hours + buyer.pay_after_hours)
    sandbox_clock.advance(paid_at - T0)

    (update,) = connector.poll(profile, None).updates

    assert update.portal_invoice_id == receipt.portal_invoice_id
    assert update.state is InvoiceState.PAID
    assert update.paid_amount == invoice.total == Decimal("146.00")
    assert update.payment_date == paid_at.date()
    assert update.raw_status == "approved; paid"


def test_a_disputed_invoice_carries_coupas_reason_and_code_verbatim(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    send(connector, profile, make_invoice("INV-OK"))
    disputed = send(connector, profile, make_invoice("INV-HIGH", lines=OVERPRICED))
    sandbox_clock.advance(hours=coupa.buyers["acme"].dispute_after_hours)

    updates = {u.invoice_number: u for u in connector.poll(profile, None).updates}

    update = updates["INV-HIGH"]
    assert update.portal_invoice_id == disputed.portal_invoice_id
    assert (update.state, update.raw_status) == (InvoiceState.DISPUTED, "disputed")
    assert update.reason_code == "INCORRECT-PRICE"
    assert update.reason == "INCORRECT-PRICE - Line 1: unit price 13.50 is above the PO price 12.50."
    assert update.category is RejectionCategory.PRICE_QUANTITY
    assert updates["INV-OK"].reason is None and updates["INV-OK"].state is InvoiceState.APPROVED


# --- the listing itself -------------------------------------------------------------------------------------


def _token(http: httpx.Client, coupa: CoupaSandbox) -> str:
    answer = http.post(
        f"{_url(coupa)}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "portalhub-test", "client_secret": API_SECRET},
    )
    assert answer.status_code == 200
    return str(answer.json()["access_token"])


def test_the_xml_listing_is_well_formed_and_matches_the_json_one(
    coupa: CoupaSandbox,
    connector: CoupaConnector,
    profile: Profile,
    sandbox_clock: SandboxClock,
    http: httpx.Client,
) -> None:
    send(connector, profile, make_invoice("INV-PAID"))
    send(connector, profile, make_invoice("INV-HIGH", lines=OVERPRICED))
    sandbox_clock.advance(hours=72)  # one paid, the other disputed
    auth = {"Authorization": f"Bearer {_token(http, coupa)}"}

    as_xml = http.get(f"{_url(coupa)}/api/v1/invoices", headers={**auth, "Accept": "application/xml"})
    as_json = http.get(f"{_url(coupa)}/api/v1/invoices", headers={**auth, "Accept": "application/json"})

    assert as_xml.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(as_xml.content)  # raises if it is not well-formed
    assert (root.tag, root.get("type")) == ("invoice-headers", "array")
    headers = root.findall("invoice-header")
    records = as_json.json()
    assert [h.findtext("id") for h in headers] == [str(r["id"]) for r in records]
    assert [h.findtext("invoice-number") for h in headers] == ["INV-PAID", "INV-HIGH"]
    assert [h.findtext("status") for h in headers] == [r["status"] for r in records]
    paid, high = headers
    assert paid.findtext("paid") == "true"
    assert paid.find("payments").get("type") == "array"
    assert paid.findtext("payments/payment/amount-paid") == "125.00"
    assert high.findtext("dispute-reason/code") == "INCORRECT-PRICE"
    assert high.findtext("paid") == "false"
    for header in headers:
        datetime.fromisoformat(header.findtext("updated-at") or "")  # YYYY-MM-DDTHH:MM:SS+HH:MM


def test_the_listing_refuses_requests_without_a_valid_token(coupa: CoupaSandbox, http: httpx.Client) -> None:
    answer = http.get(f"{_url(coupa)}/api/v1/invoices", headers={"Authorization": "Bearer forged"})

    assert answer.status_code == 401
