"""Status from the portal back into the hub (poll, cursor, dedupe, order) and from the hub into the AR
system (the outbox: every event once, nothing lost when the AR side is down)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import FaultPlan
from hub.clock import ManualClock
from hub.model import InvoiceState, PortalStatusUpdate
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.services import timeline
from hub.store.tables import CursorRow, InvoiceRow, OutboxRow
from status_sync.apply import Applied, apply_update
from status_sync.feedback import deliver
from status_sync.poller import PollReport, poll_profile
from tests.factories import T0, ListAr, make_hub, make_invoice

S = InvoiceState


@pytest.fixture
def ar() -> ListAr:
    return ListAr()


@pytest.fixture
def hub(tmp_path: Path, coupa: CoupaSandbox, ar: ListAr) -> Iterator[Hub]:
    assert coupa.server is not None
    built = make_hub(tmp_path, coupa.server.url, ar=ar, clock=ManualClock(T0))
    yield built
    built.close()


def poll(hub: Hub) -> PollReport:
    profile = hub.profile("acme-coupa")
    return poll_profile(hub, profile)


def state(hub: Hub, number: str) -> str:
    return str(timeline(hub, number)["invoice"]["state"])


def submitted(hub: Hub, ar: ListAr, *invoices: object) -> None:
    for invoice in invoices:
        ar.add(invoice)  # type: ignore[arg-type]
    ingest(hub)
    submit_profile(hub, hub.profile("acme-coupa"))


def test_statuses_follow_the_portal_to_paid(hub: Hub, ar: ListAr, sandbox_clock: SandboxClock) -> None:
    submitted(hub, ar, make_invoice("INV-1"))
    assert poll(hub).applied["moved"] == 1
    assert state(hub, "INV-1") == S.PENDING_APPROVAL
    sandbox_clock.advance(hours=25)
    poll(hub)
    assert state(hub, "INV-1") == S.APPROVED
    sandbox_clock.advance(hours=48)
    poll(hub)
    head = timeline(hub, "INV-1")["invoice"]
    assert head["state"] == S.PAID and head["portal_status"] == "approved; paid"
    assert "paid 125.00" in (head["reason"] or "")


def test_dispute_reason_arrives_verbatim(hub: Hub, ar: ListAr, sandbox_clock: SandboxClock) -> None:
    submitted(hub, ar, make_invoice("INV-1", lines=(("BRG-6205", "500", "EA", "12.50"),)))  # PO has 400
    sandbox_clock.advance(hours=25)
    poll(hub)
    head = timeline(hub, "INV-1")["invoice"]
    assert head["state"] == S.DISPUTED
    assert head["category"] == "price_quantity"
    assert "INCORRECT-QUANTITY - Line 1: quantity 500 is more than the 400 ordered." in head["reason"]


def test_a_poll_asks_only_for_changes(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, sandbox_clock: SandboxClock
) -> None:
    submitted(hub, ar, *(make_invoice(f"INV-{n}") for n in range(3)))
    poll(hub)
    with hub.store.session() as session:
        cursor = session.get(CursorRow, "acme-coupa")
    assert cursor is not None and cursor.cursor == T0.isoformat()
    report = poll(hub)  # nothing changed at the portal
    assert report.requests == 1 and sum(report.applied.values()) == 0
    sandbox_clock.advance(hours=25)
    report = poll(hub)
    assert report.applied["moved"] == 3


def test_the_same_status_twice_is_recorded_once(hub: Hub, ar: ListAr) -> None:
    submitted(hub, ar, make_invoice("INV-1"))
    poll(hub)
    with hub.store.session() as session:
        session.get(CursorRow, "acme-coupa").cursor = None  # type: ignore[union-attr]  # re-read everything
    report = poll(hub)
    assert report.applied["duplicate"] == 1
    assert [e["to"] for e in timeline(hub, "INV-1")["events"]].count("PENDING_APPROVAL") == 1


def test_older_status_never_overwrites_a_newer_one(hub: Hub, ar: ListAr, sandbox_clock: SandboxClock) -> None:
    submitted(hub, ar, make_invoice("INV-1"))
    sandbox_clock.advance(hours=80)
    poll(hub)
    assert state(hub, "INV-1") == S.PAID
    stale = PortalStatusUpdate(
        invoice_number="INV-1", state=S.APPROVED, raw_status="approved", occurred_at=T0 + timedelta(hours=1)
    )
    with hub.store.session() as session:
        assert apply_update(session, "acme-coupa", stale, actor="test", now=T0) is Applied.STALE
    assert state(hub, "INV-1") == S.PAID


def test_unknown_status_is_kept_verbatim_without_moving(hub: Hub, ar: ListAr) -> None:
    submitted(hub, ar, make_invoice("INV-1"))
    odd = PortalStatusUpdate(
        invoice_number="INV-1",
        state=None,
        raw_status="awaiting_3way_match",
        occurred_at=T0 + timedelta(hours=2),
    )
    with hub.store.session() as session:
        assert apply_update(session, "acme-coupa", odd, actor="portal:acme-coupa", now=T0) is Applied.NOTED
    events = timeline(hub, "INV-1")["events"]
    assert events[-1]["raw_status"] == "awaiting_3way_match" and events[-1]["to"] == S.SUBMITTED


def test_status_for_an_invoice_we_never_sent_is_ignored(hub: Hub) -> None:
    stranger = PortalStatusUpdate(invoice_number="NOT-OURS", state=S.PAID, raw_status="paid", occurred_at=T0)
    with hub.store.session() as session:
        assert apply_update(session, "acme-coupa", stranger, actor="t", now=T0) is Applied.UNMATCHED


def test_a_status_report_settles_an_in_doubt_invoice(hub: Hub, ar: ListAr, faults: FaultPlan) -> None:
    faults.queue("drop_after")
    submitted(hub, ar, make_invoice("INV-1"))
    assert state(hub, "INV-1") == S.IN_DOUBT
    poll(hub)
    assert [e["to"] for e in timeline(hub, "INV-1")["events"]][-2:] == ["SUBMITTED", "PENDING_APPROVAL"]


def test_two_pollers_never_poll_one_portal_at_once(hub: Hub, ar: ListAr) -> None:
    from hub.store import work

    submitted(hub, ar, make_invoice("INV-1"))
    with hub.store.session() as session:
        assert work.acquire_lease(session, "poll:acme-coupa", "other-daemon", T0, 60)
    report = poll(hub)
    assert report.skipped == "another worker is polling this portal" and report.requests == 0


def test_poll_failure_is_recorded_for_status(hub: Hub, ar: ListAr, coupa: CoupaSandbox) -> None:
    submitted(hub, ar, make_invoice("INV-1"))
    coupa.config.api_clients.clear()  # the portal revoked our API client
    report = poll(hub)
    assert report.error is not None and "client credentials" in report.error
    with hub.store.session() as session:
        assert "client credentials" in (session.get(CursorRow, "acme-coupa").last_error or "")  # type: ignore[union-attr]


# --- feedback outbox ------------------------------------------------------------------------------------------
def test_every_event_reaches_the_ar_system_once(hub: Hub, ar: ListAr, sandbox_clock: SandboxClock) -> None:
    submitted(hub, ar, make_invoice("INV-1"), make_invoice("INV-2", po="PO-999999"))
    sandbox_clock.advance(hours=80)
    poll(hub)
    first = deliver(hub)
    assert first.delivered == len(ar.events) > 0
    assert deliver(hub).delivered == 0
    by_invoice = {}
    for event in ar.events:
        by_invoice.setdefault(event["invoice_number"], []).append(event["state"])
    # The poll after 80 portal hours sees the invoice as it is now (paid), not its history.
    assert by_invoice["INV-1"] == ["NEW", "READY", "SUBMITTING", "SUBMITTED", "PAID"]
    assert by_invoice["INV-2"][-1] == "REJECTED"
    rejected = next(e for e in ar.events if e["state"] == "REJECTED")
    assert "Server could not create invoice." in rejected["reason"] and rejected["category"] == "po"
    assert len({e["event_id"] for e in ar.events}) == len(ar.events)


def test_ar_outage_keeps_events_until_they_are_accepted(hub: Hub, ar: ListAr) -> None:
    submitted(hub, ar, make_invoice("INV-1"))
    ar.fail_writes = True
    report = deliver(hub)
    assert report.failed > 0 and report.delivered == 0 and ar.events == []
    with hub.store.session() as session:
        pending = session.exec(select(OutboxRow).where(col(OutboxRow.delivered_at).is_(None))).all()
    assert len(pending) == report.failed and all(row.next_attempt_at for row in pending)
    ar.fail_writes = False
    assert deliver(hub).delivered == 0  # not due yet
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(minutes=2)
    assert deliver(hub).delivered == report.failed
    with hub.store.session() as session:
        rows = session.exec(select(OutboxRow)).all()
    # Each row marked delivered at the hub's time, counting both tries.
    assert {(row.delivered_at, row.attempts) for row in rows} == {(hub.clock.now(), 2)}


def test_redelivery_after_a_crash_changes_nothing_in_ar(hub: Hub, ar: ListAr) -> None:
    """The AR write succeeded but the process died before marking the rows delivered."""
    submitted(hub, ar, make_invoice("INV-1"))
    import json

    with hub.store.session() as session:
        payloads = [json.loads(row.payload) for row in session.exec(select(OutboxRow))]
    ar.write(payloads)
    count = len(ar.events)
    deliver(hub)
    assert len(ar.events) == count


def test_blocked_reasons_go_back_to_ar_at_once(hub: Hub, ar: ListAr) -> None:
    ar.add(make_invoice("INV-1", lines=((None, "1", "EA", "12.50"),)))  # no supplier part: coupa-baseline
    ingest(hub)
    deliver(hub)
    blocked = [e for e in ar.events if e["state"] == "BLOCKED"]
    assert len(blocked) == 1 and "coupa-supplier-part" in blocked[0]["reason"]
    with hub.store.session() as session:
        assert session.exec(select(InvoiceRow)).one().state == S.BLOCKED


def test_payment_amount_is_exact(hub: Hub, ar: ListAr, sandbox_clock: SandboxClock) -> None:
    submitted(hub, ar, make_invoice("INV-1", lines=(("SEAL-22", "3", "EA", "4.20"),), tax_rate="8.25"))
    sandbox_clock.advance(hours=80)
    poll(hub)
    events = timeline(hub, "INV-1")["events"]
    assert f"paid {Decimal('13.64')}" in events[-1]["reason"]


def test_a_poll_cut_off_between_its_batches_is_read_again_without_doubles(
    hub: Hub, ar: ListAr, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statuses are committed a few at a time (the sends are not held behind a long poll), the cursor
    after the last: a poll that dies part-way leaves the cursor where it was, and the next one reads the
    same page again; what the first one committed is not recorded twice."""
    from status_sync import apply, poller

    count = poller.APPLY_BATCH + 5
    submitted(hub, ar, *(make_invoice(f"INV-{n}") for n in range(count)))
    with hub.store.session() as session:
        cursor_before = session.get(CursorRow, "acme-coupa")
    calls = 0
    real_apply = apply.apply_update

    def dies_in_the_second_batch(*args: object, **kwargs: object) -> Applied:
        nonlocal calls
        calls += 1
        if calls > poller.APPLY_BATCH:
            raise RuntimeError("killed")
        return real_apply(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(poller, "apply_update", dies_in_the_second_batch)
    with pytest.raises(RuntimeError):
        poll(hub)
    with hub.store.session() as session:
        cursor_after = session.get(CursorRow, "acme-coupa")
        moved = session.exec(
            select(InvoiceRow).where(col(InvoiceRow.state) == S.PENDING_APPROVAL.value)
        ).all()
    assert len(moved) == poller.APPLY_BATCH  # the first batch is committed
    assert (cursor_after.cursor if cursor_after else None) == (
        cursor_before.cursor if cursor_before else None
    )
    monkeypatch.setattr(poller, "apply_update", real_apply)
    report = poll(hub)
    assert report.applied == {"duplicate": poller.APPLY_BATCH, "moved": 5}
    with hub.store.session() as session:
        assert all(row.state == S.PENDING_APPROVAL.value for row in session.exec(select(InvoiceRow)).all())
    events = [e for n in range(count) for e in timeline(hub, f"INV-{n}")["events"]]
    assert sum(1 for e in events if e["to"] == S.PENDING_APPROVAL) == count


def test_a_status_naming_only_the_portal_id_an_earlier_status_of_its_batch_gave_is_applied(
    hub: Hub, ar: ListAr
) -> None:
    """A poll applies ten statuses per transaction and writes their invoices at the commit: the first
    status gives the invoice its portal id (with its number), the second names the invoice by that id
    alone; it must find the invoice all the same."""
    submitted(hub, ar, make_invoice("INV-1"))
    with hub.store.session() as session:
        row = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == "INV-1")).one()
        row.portal_invoice_id = None  # as before the portal's first word on it
        session.add(row)
    first = PortalStatusUpdate(
        invoice_number="INV-1",
        portal_invoice_id="P-9",
        state=S.PENDING_APPROVAL,
        raw_status="pending_approval",
        occurred_at=T0 + timedelta(hours=1),
    )
    second = PortalStatusUpdate(
        portal_invoice_id="P-9", state=S.APPROVED, raw_status="approved", occurred_at=T0 + timedelta(hours=2)
    )
    with hub.store.session() as session:
        assert apply_update(session, "acme-coupa", first, actor="portal:acme-coupa", now=T0) is Applied.MOVED
        assert apply_update(session, "acme-coupa", second, actor="portal:acme-coupa", now=T0) is Applied.MOVED
    head = timeline(hub, "INV-1")["invoice"]
    assert head["state"] == S.APPROVED and head["portal_invoice_id"] == "P-9"
