"""The hub with the Ariba connector, end to end over real sockets: an unanswered send that the network
did receive is never doubled (found by lookup, or answered INVOICE_DUPLICATE on the resend and
recorded as already received), a real duplicate is a rejection for collectors, and poll mode follows
the invoice to paid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox.ariba import INVOICE_PATH, AribaSandbox, ExistingInvoice
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan
from hub.model import InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.services import timeline
from status_sync.poller import PollReport, poll_profile
from tests.connectors.ariba_support import SUPPLIER_ANID, ariba_config, make_ariba_hub
from tests.factories import T0, ListAr, make_invoice

S = InvoiceState


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def ar() -> ListAr:
    return ListAr()


@pytest.fixture
def start(tmp_path: Path, faults: FaultPlan, ar: ListAr) -> Iterator[Any]:
    """`start(**buyer)` -> (network, hub) with statuses by poll."""
    opened: list[tuple[AribaSandbox, Hub]] = []

    def build(existing: tuple[ExistingInvoice, ...] = (), **buyer: Any) -> tuple[AribaSandbox, Hub]:
        config = ariba_config(**buyer)
        config.existing_invoices = list(existing)
        sandbox = AribaSandbox(config, SandboxClock(start=T0))
        server = sandbox.serve(faults=faults)
        hub = make_ariba_hub(tmp_path, server.url, ar=ar, status_mode="poll", receiver=False)
        opened.append((sandbox, hub))
        return sandbox, hub

    yield build
    for sandbox, hub in opened:
        hub.close()
        sandbox.stop()


def submit(hub: Hub) -> dict[str, int]:
    return submit_profile(hub, hub.profile("acme-ariba")).outcomes


def poll(hub: Hub) -> PollReport:
    profile = hub.profile("acme-ariba")
    return poll_profile(hub, profile)


def record(hub: Hub, number: str = "INV-1") -> dict[str, Any]:
    return timeline(hub, number)


def test_an_unanswered_send_the_network_queued_is_recorded_as_received_not_sent_twice(
    start: Any, faults: FaultPlan, ar: ListAr
) -> None:
    # The network takes the invoice and the connection drops before the answer; the invoice stays
    # "queued" (out of the listing) for a while, so reconciliation cannot see it yet.
    sandbox, hub = start(listing_delay_minutes=120)
    faults.queue("drop_after", path_prefix=INVOICE_PATH)
    ar.add(make_invoice("INV-1"))
    ingest(hub)

    assert submit(hub) == {"in_doubt": 1}
    assert record(hub)["invoice"]["state"] == S.IN_DOUBT

    # Next cycle: lookup finds nothing, so the hub sends again; the network answers INVOICE_DUPLICATE.
    submit(hub)
    seen = record(hub)
    assert seen["invoice"]["state"] == S.SUBMITTED
    assert [a["outcome"] for a in seen["attempts"]] == ["absent", "found"]
    assert seen["attempts"][1]["portal_code"] == "INVOICE_DUPLICATE"
    assert "already has this invoice number from our earlier unanswered send" in seen["events"][-1]["reason"]
    assert len(sandbox.invoices) == 1 and sandbox.received == 2
    # The listing did not show it yet: nothing to compare, so it is presumed, for a person to confirm...
    assert seen["invoice"]["unconfirmed"] is True

    # ...until the network lists it with our payloadID: then it goes on as one invoice, confirmed.
    sandbox.advance(hours=25)
    poll(hub)
    assert record(hub)["invoice"]["state"] == S.APPROVED
    assert record(hub)["invoice"]["unconfirmed"] is False


def test_an_unanswered_send_found_by_lookup_is_not_sent_again(
    start: Any, faults: FaultPlan, ar: ListAr
) -> None:
    sandbox, hub = start()
    faults.queue("drop_after", path_prefix=INVOICE_PATH)
    ar.add(make_invoice("INV-1"))
    ingest(hub)

    submit(hub)
    submit(hub)

    seen = record(hub)
    assert seen["invoice"]["state"] == S.SUBMITTED
    assert seen["invoice"]["portal_invoice_id"] == sandbox.invoices[0].document_id
    assert [a["outcome"] for a in seen["attempts"]] == ["found"]
    assert sandbox.received == 1


def test_a_number_already_at_the_network_is_a_duplicate_rejection_for_collectors(
    start: Any, ar: ListAr
) -> None:
    held = ExistingInvoice(buyer="acme", supplier=SUPPLIER_ANID, number="INV-1")
    _, hub = start(existing=(held,))
    ar.add(make_invoice("INV-1"))
    ingest(hub)

    assert submit(hub) == {"rejected": 1}

    head = record(hub)["invoice"]
    assert (head["state"], head["category"]) == (S.REJECTED, "duplicate")
    assert (
        "INVOICE_DUPLICATE: An invoice with the same ID (INV-1) has already been received." in head["reason"]
    )


def test_a_coded_rejection_reaches_the_collector_with_its_code(start: Any, ar: ListAr) -> None:
    _, hub = start()
    ar.add(make_invoice("INV-1", po=None))
    ingest(hub)
    submit(hub)

    seen = record(hub)
    assert (seen["invoice"]["state"], seen["invoice"]["category"]) == (S.REJECTED, "po")
    assert seen["attempts"][0]["portal_code"] == "INV-143"
    assert "INV-143: Cannot create a non-PO invoice with pricing details." in seen["invoice"]["reason"]


def test_an_outage_is_retried_later(start: Any, faults: FaultPlan, ar: ListAr) -> None:
    sandbox, hub = start()
    faults.queue("unavailable_503", path_prefix=INVOICE_PATH)
    ar.add(make_invoice("INV-1"))
    ingest(hub)

    assert submit(hub) == {"transient": 1}
    assert record(hub)["invoice"]["state"] == S.READY and sandbox.invoices == []


def test_poll_mode_follows_the_invoice_to_paid(start: Any, ar: ListAr) -> None:
    sandbox, hub = start()
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    submit(hub)

    poll(hub)
    assert record(hub)["invoice"]["state"] == S.PENDING_APPROVAL
    sandbox.advance(hours=25)
    poll(hub)
    assert record(hub)["invoice"]["state"] == S.APPROVED
    sandbox.advance(hours=48)
    report = poll(hub)
    head = record(hub)["invoice"]
    assert head["state"] == S.PAID and "paid 125.00 on 2026-11-23" in head["reason"]
    assert report.applied["moved"] == 1
    assert poll(hub).applied.get("moved", 0) == 0  # nothing new: nothing recorded again


def test_an_invoice_keyed_by_hand_under_our_number_is_a_conflict_not_ours(
    start: Any, faults: FaultPlan, ar: ListAr
) -> None:
    # The network refuses our INV-1 (it holds one keyed in the web UI) and the answer is lost: the
    # listing shows an INV-1 with another payloadID (none) and another total. Not ours, not resent.
    held = ExistingInvoice(buyer="acme", supplier=SUPPLIER_ANID, number="INV-1", status_type="approved")
    sandbox, hub = start(existing=(held,))
    faults.queue("drop_after", path_prefix=INVOICE_PATH)
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert submit(hub) == {"in_doubt": 1}

    submit(hub)
    seen = record(hub)
    assert (seen["invoice"]["state"], seen["invoice"]["category"]) == (S.REJECTED, "duplicate")
    assert seen["invoice"]["reason"].startswith(
        "number conflict: acme-ariba holds another invoice under INV-1"
    )
    assert "total 0 at the portal, 125.00 sent" in seen["invoice"]["reason"]
    assert [a["outcome"] for a in seen["attempts"]] == ["conflict"] and sandbox.received == 1
    poll(hub)  # the hand-keyed invoice's status is not ours
    assert record(hub)["invoice"]["state"] == S.REJECTED


def test_our_copy_is_recognised_by_its_payload_id(start: Any, faults: FaultPlan, ar: ListAr) -> None:
    sandbox, hub = start()
    faults.queue("drop_after", path_prefix=INVOICE_PATH)
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    submit(hub)
    submit(hub)
    head = record(hub)["invoice"]
    assert head["state"] == S.SUBMITTED and sandbox.received == 1
    assert "the portal's copy carries the payloadID of our send" in head["reason"]
