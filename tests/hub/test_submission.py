"""Submission end to end against the Coupa sandbox: one invoice, one request, one answer, never twice.

Each test drives the real pipeline (intake -> pre-flight -> claim -> attempt -> connector over a real
socket -> outcome) and checks both sides: the hub's store and what the portal holds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlmodel import col, select

from connectors.cxml import CxmlConnector
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import FaultPlan, Reply, Request
from hub.clock import ManualClock
from hub.errors import InDoubtError
from hub.lifecycle import move
from hub.model import Invoice, InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.outcome import AUTH_BACKOFF, record_outcome
from hub.pipeline.reconcile import expire_leases, reconcile_profile
from hub.pipeline.submit import _prepare, submit_profile
from hub.runtime import Hub
from hub.services import timeline
from hub.store import work
from hub.store.tables import AttemptRow, InvoiceRow
from tests.factories import SECRET, T0, ListAr, make_hub, make_invoice, profile_yaml

S = InvoiceState


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def ar() -> ListAr:
    return ListAr()


@pytest.fixture
def hub(tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock) -> Iterator[Hub]:
    assert coupa.server is not None
    built = make_hub(tmp_path, coupa.server.url, ar=ar, clock=clock)
    yield built
    built.close()


def row(hub: Hub, number: str) -> InvoiceRow:
    with hub.store.session() as session:
        return session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == number)).one()


def row_by_key(hub: Hub, key: str) -> InvoiceRow:
    with hub.store.session() as session:
        return session.exec(select(InvoiceRow).where(col(InvoiceRow.ar_key) == key)).one()


def attempts(hub: Hub, number: str) -> list[AttemptRow]:
    with hub.store.session() as session:
        invoice = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == number)).one()
        return list(
            session.exec(
                select(AttemptRow)
                .where(col(AttemptRow.invoice_id) == invoice.id)
                .order_by(col(AttemptRow.id))
            )
        )


def states(hub: Hub, number: str) -> list[str]:
    return [event["to"] for event in timeline(hub, number)["events"]]


def send(hub: Hub) -> dict[str, int]:
    return submit_profile(hub, hub.profile("acme-coupa")).outcomes


def portal_numbers(coupa: CoupaSandbox) -> list[str]:
    return [invoice.number for invoice in coupa.invoices]


def test_accepted_invoice_is_submitted_once_with_the_portal_id(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox
) -> None:
    ar.add(make_invoice("INV-1", tax_rate="8.25"))
    ingest(hub)
    assert send(hub) == {"accepted": 1}
    invoice = row(hub, "INV-1")
    assert invoice.state == S.SUBMITTED
    assert invoice.portal_invoice_id == str(coupa.invoices[0].id)
    assert states(hub, "INV-1") == ["NEW", "READY", "SUBMITTING", "SUBMITTED"]
    [attempt] = attempts(hub, "INV-1")
    assert attempt.outcome == "accepted" and attempt.portal_code == "200"
    assert attempt.payload_id == coupa.invoices[0].payload_id
    assert SECRET not in (attempt.request_document or "") and "<SharedSecret>********</SharedSecret>" in (
        attempt.request_document or ""
    )
    assert send(hub) == {}  # nothing left: never twice
    assert portal_numbers(coupa) == ["INV-1"]


def test_attempt_row_is_committed_before_the_request_leaves(
    tmp_path: Path, coupa: CoupaSandbox, ar: ListAr
) -> None:
    """The portal's handler looks into the hub's database while the request is in flight."""
    assert coupa.server is not None
    hub = make_hub(tmp_path, coupa.server.url, ar=ar)
    observer = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    seen: list[tuple[Any, ...]] = []
    original = coupa.server.handler

    def peeking(request: Request) -> Reply:
        if request.method == "POST" and b"payloadID=" in request.body:
            payload_id = request.body.split(b'payloadID="', 1)[1].split(b'"', 1)[0].decode()
            with observer.connect() as connection:
                seen.extend(
                    connection.execute(
                        text(
                            "SELECT a.outcome, i.state FROM attempts a JOIN invoices i ON i.id = a.invoice_id WHERE a.payload_id = :p"
                        ),
                        {"p": payload_id},
                    ).fetchall()
                )
        return original(request)

    coupa.server.handler = peeking
    for number in ("INV-1", "INV-2", "INV-3"):
        ar.add(make_invoice(number))
    ingest(hub)
    # The second and third are claimed in the transaction that records the answer before them.
    assert send(hub) == {"accepted": 3}
    assert [tuple(r) for r in seen] == [("pending", "SUBMITTING")] * 3
    hub.close()


def test_a_claim_taken_while_the_request_before_is_out_writes_nothing_if_the_invoice_changed_meanwhile(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """INV-2 is read with INV-1's claim and claimed while INV-1 is out; a person blocks it between the
    read and the claim (while its document is built): INV-1's answer is recorded, INV-2 is neither
    claimed nor left with an attempt."""
    original = CxmlConnector.render

    def meddling(self: CxmlConnector, invoice: Invoice, profile: Any, envelope: Any) -> Any:
        if invoice.invoice_number == "INV-2":
            with hub.store.session() as session:
                row_ = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == "INV-2")).one()
                move(session, row_, S.BLOCKED, actor="collector", now=clock.now(), reason="held back")
        return original(self, invoice, profile, envelope)

    ar.add(make_invoice("INV-1"))
    ar.add(make_invoice("INV-2"))
    ingest(hub)
    monkeypatch.setattr(CxmlConnector, "render", meddling)
    assert send(hub) == {"accepted": 1}
    assert row(hub, "INV-1").state == S.SUBMITTED
    assert [a.outcome for a in attempts(hub, "INV-1")] == ["accepted"]
    assert row(hub, "INV-2").state == S.BLOCKED and row(hub, "INV-2").lease_owner is None
    assert attempts(hub, "INV-2") == []
    assert portal_numbers(coupa) == ["INV-1"]


def test_portal_rejection_keeps_the_portal_words_and_category(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox
) -> None:
    ar.add(make_invoice("INV-1", po="PO-999999"))
    ingest(hub)
    assert send(hub) == {"rejected": 1}
    invoice = row(hub, "INV-1")
    assert invoice.state == S.REJECTED
    assert invoice.last_category == "po"
    assert "Server could not create invoice." in (invoice.last_reason or "")
    assert "PO-999999" in (invoice.last_reason or "")
    assert coupa.invoices == []


def test_transient_outage_backs_off_then_succeeds_once(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, faults: FaultPlan, clock: ManualClock
) -> None:
    faults.queue("unavailable_503")
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"transient": 1}
    waiting = row(hub, "INV-1")
    assert waiting.state == S.READY and waiting.transient_failures == 1
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at >= T0 + timedelta(seconds=10)
    assert send(hub) == {}  # not due yet
    clock.advance(seconds=601)
    assert send(hub) == {"accepted": 1}
    assert portal_numbers(coupa) == ["INV-1"]
    assert [a.outcome for a in attempts(hub, "INV-1")] == ["transient", "accepted"]


def test_throttling_honours_retry_after(hub: Hub, ar: ListAr, faults: FaultPlan) -> None:
    faults.queue("throttle_429", retry_after=900)
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"transient": 1}
    waiting = row(hub, "INV-1")
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at >= T0 + timedelta(seconds=900)


def test_answer_lost_after_the_portal_created_it_is_reconciled_not_resent(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, faults: FaultPlan
) -> None:
    faults.queue("drop_after")
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}
    assert row(hub, "INV-1").state == S.IN_DOUBT
    posts_before = coupa.received
    assert send(hub) == {}  # reconciliation ran first and settled it
    invoice = row(hub, "INV-1")
    assert invoice.state == S.SUBMITTED
    assert invoice.portal_invoice_id == str(coupa.invoices[0].id)
    assert coupa.received == posts_before  # nothing resent
    assert portal_numbers(coupa) == ["INV-1"]
    assert [a.outcome for a in attempts(hub, "INV-1")] == ["found"]


def test_request_lost_before_the_portal_saw_it_is_sent_again_once(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, faults: FaultPlan
) -> None:
    faults.queue("drop_before")
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}
    assert send(hub) == {"accepted": 1}  # reconciled absent -> READY -> sent in the same pass
    assert portal_numbers(coupa) == ["INV-1"]
    first, second = attempts(hub, "INV-1")
    assert (first.outcome, second.outcome) == ("absent", "accepted")
    assert first.payload_id != second.payload_id
    assert states(hub, "INV-1")[-4:] == ["IN_DOUBT", "READY", "SUBMITTING", "SUBMITTED"]


def test_slow_portal_past_the_timeout_is_in_doubt_and_reconciled(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, faults: FaultPlan
) -> None:
    faults.queue("slow_after", delay=3)  # the profile's timeout is 2 s
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}
    assert send(hub) == {}
    assert row(hub, "INV-1").state == S.SUBMITTED
    assert portal_numbers(coupa) == ["INV-1"]


def test_worker_dies_after_committing_the_attempt_before_sending(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock
) -> None:
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    profile = hub.profile("acme-coupa")
    prepared = _prepare(hub, profile, hub.connector(profile))  # claimed and committed, then "kill -9"
    assert prepared is not None
    assert row(hub, "INV-1").state == S.SUBMITTING
    assert expire_leases(hub) == 0  # the lease is still alive
    clock.advance(seconds=121)
    assert expire_leases(hub) == 1
    assert row(hub, "INV-1").state == S.IN_DOUBT
    assert send(hub) == {"accepted": 1}  # the portal does not have it: sent, once
    assert portal_numbers(coupa) == ["INV-1"]
    assert [a.outcome for a in attempts(hub, "INV-1")] == ["absent", "accepted"]


def test_worker_dies_after_the_portal_answered_before_recording(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock
) -> None:
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    profile = hub.profile("acme-coupa")
    connector = hub.connector(profile)
    prepared = _prepare(hub, profile, connector)
    assert prepared is not None
    connector.submit(prepared[2], profile)  # the portal created it; the answer died with the worker
    clock.advance(seconds=121)
    expire_leases(hub)
    assert send(hub) == {}
    assert row(hub, "INV-1").state == S.SUBMITTED
    assert portal_numbers(coupa) == ["INV-1"]
    assert [a.outcome for a in attempts(hub, "INV-1")] == ["found"]


def test_answer_after_the_lease_expired_is_kept_but_does_not_decide(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock
) -> None:
    """While the request is in flight, the worker is presumed dead and housekeeping moves the invoice."""
    assert coupa.server is not None
    original = coupa.server.handler

    def presume_dead(request: Request) -> Reply:
        clock.advance(seconds=600)
        expire_leases(hub)
        return original(request)

    coupa.server.handler = presume_dead
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"late": 1}
    assert row(hub, "INV-1").state == S.IN_DOUBT
    assert attempts(hub, "INV-1")[0].outcome.startswith("late-accepted")
    coupa.server.handler = original
    assert send(hub) == {}
    assert row(hub, "INV-1").state == S.SUBMITTED
    assert portal_numbers(coupa) == ["INV-1"]


def test_duplicate_answer_to_our_own_unanswered_send_means_received(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, faults: FaultPlan, clock: ManualClock
) -> None:
    faults.queue("drop_after")
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}
    # A reconciliation that did not see it yet (an eventually consistent portal) sent it back to READY.
    with hub.store.session() as session:
        invoice = session.exec(select(InvoiceRow)).one()
        attempt = session.exec(select(AttemptRow)).one()
        attempt.outcome = "absent"
        session.add(attempt)
        move(session, invoice, S.READY, actor="test", now=clock.now(), reason="lookup saw nothing yet")
    assert send(hub) == {"rejected": 1}
    invoice = row(hub, "INV-1")
    # "Number already used" alone proves nothing: the portal's copy was looked up and compared.
    assert invoice.state == S.SUBMITTED and invoice.last_category is None
    assert (
        "the portal's copy matches what was sent (total, currency, PO, invoice date, line count, line amounts)"
        in (invoice.last_reason or "")
    )
    assert invoice.portal_invoice_id == str(coupa.invoices[0].id)
    assert portal_numbers(coupa) == ["INV-1"]


def test_a_second_ar_record_with_the_same_number_is_blocked_before_sending(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock
) -> None:
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    send(hub)
    ar.add(make_invoice("INV-1", lines=(("SEAL-22", "5", "EA", "4.20"),)), key="another-ar-record")
    ingest(hub)
    assert send(hub) == {}  # never sent: the portal would refuse it, and a collector must see it
    with hub.store.session() as session:
        second = session.exec(select(InvoiceRow).where(col(InvoiceRow.ar_key) == "another-ar-record")).one()
    assert second.state == S.BLOCKED and second.last_category == "duplicate"
    assert "invoice number INV-1 is already held for acme-coupa by AR record INV-1" in (
        second.last_reason or ""
    )
    assert row_by_key(hub, "INV-1").state == S.SUBMITTED
    assert portal_numbers(coupa) == ["INV-1"] and coupa.received == 1
    ingest(hub)  # checked again only when the holder lets the number go: nothing new on the timeline
    assert len(timeline(hub, "INV-1")["events"]) == 4


def test_a_number_the_portal_already_holds_is_a_duplicate_rejection(
    tmp_path: Path, sandbox_clock: Any
) -> None:
    from connectors.sandbox.coupa import CoupaSandboxConfig
    from tests.factories import buyer_config

    base = buyer_config()
    config = CoupaSandboxConfig(
        buyers=base.buyers,
        api_clients=base.api_clients,
        existing_invoices=[{"instance": "acme", "number": "INV-1"}],  # type: ignore[list-item]
    )
    portal = CoupaSandbox(config, sandbox_clock)
    server = portal.serve()
    ar = ListAr()
    ar.add(make_invoice("INV-1"))
    hub = make_hub(tmp_path, server.url, ar=ar)
    ingest(hub)
    assert send(hub) == {"rejected": 1}
    invoice = row(hub, "INV-1")
    assert invoice.state == S.REJECTED and invoice.last_category == "duplicate"
    hub.close()
    server.stop()


def test_corrected_invoice_after_rejection_is_a_new_linked_submission(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox
) -> None:
    ar.add(make_invoice("INV-1", lines=(("SEAL-22", "5", "BX", "4.20"),)))
    ingest(hub)
    assert send(hub) == {"rejected": 1}
    ar.add(
        make_invoice("INV-1", lines=(("SEAL-22", "5", "EA", "4.20"),))
    )  # the collector fixed the UOM in AR
    assert ingest(hub).counts["corrected"] == 1
    corrected = row(hub, "INV-1")
    assert corrected.state == S.READY and corrected.revision == 2
    assert send(hub) == {"accepted": 1}
    first, second = attempts(hub, "INV-1")
    assert (first.revision, first.outcome, second.revision, second.outcome) == (1, "rejected", 2, "accepted")
    assert first.payload_id != second.payload_id
    assert states(hub, "INV-1") == [
        "NEW",
        "READY",
        "SUBMITTING",
        "REJECTED",
        "READY",
        "SUBMITTING",
        "SUBMITTED",
    ]
    assert portal_numbers(coupa) == ["INV-1"]


def test_unchanged_rejected_invoice_is_not_resent(hub: Hub, ar: ListAr, coupa: CoupaSandbox) -> None:
    ar.add(make_invoice("INV-1", po="PO-999999"))
    ingest(hub)
    send(hub)
    assert ingest(hub).counts["unchanged"] == 1
    assert send(hub) == {}
    assert len(attempts(hub, "INV-1")) == 1


def test_correction_of_a_disputed_invoice_gets_a_new_number(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, sandbox_clock: Any
) -> None:
    from status_sync.poller import poll_profile

    ar.add(make_invoice("INV-1", lines=(("BRG-6205", "10", "EA", "13.10"),)))  # above the PO price
    ingest(hub)
    send(hub)
    sandbox_clock.advance(hours=25)
    profile = hub.profile("acme-coupa")
    poll_profile(hub, profile)
    assert row(hub, "INV-1").state == S.DISPUTED
    ar.add(make_invoice("INV-1", lines=(("BRG-6205", "10", "EA", "12.50"),)))
    ingest(hub)
    assert row(hub, "INV-1").portal_invoice_number == "INV-1-R1"
    assert send(hub) == {"accepted": 1}
    assert portal_numbers(coupa) == ["INV-1", "INV-1-R1"]
    assert [a.portal_invoice_number for a in attempts(hub, "INV-1")] == ["INV-1", "INV-1-R1"]


def test_per_minute_limit_holds(tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock) -> None:
    assert coupa.server is not None
    hub = make_hub(
        tmp_path,
        coupa.server.url,
        ar=ar,
        clock=clock,
        profiles=[profile_yaml(coupa.server.url, per_minute=2)],
    )
    for n in range(5):
        ar.add(make_invoice(f"INV-{n}"))
    ingest(hub)
    report = submit_profile(hub, hub.profile("acme-coupa"))
    assert report.sent == 2 and "per-minute limit" in (report.stopped_because or "")
    clock.advance(seconds=61)
    assert submit_profile(hub, hub.profile("acme-coupa")).sent == 2
    assert len(coupa.invoices) == 4
    hub.close()


def test_stop_flag_means_no_new_request(hub: Hub, ar: ListAr, coupa: CoupaSandbox) -> None:
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    stop = threading.Event()
    stop.set()
    assert submit_profile(hub, hub.profile("acme-coupa"), stop).sent == 0
    assert coupa.received == 0


def test_stop_asked_during_a_send_starts_no_new_one(hub: Hub, ar: ListAr, coupa: CoupaSandbox) -> None:
    """The next invoice is claimed with an answer only while nobody asked to stop."""
    assert coupa.server is not None
    original = coupa.server.handler
    stop = threading.Event()

    def stopping(request: Request) -> Reply:
        if request.method == "POST":
            stop.set()  # SIGTERM while the first request is in flight
        return original(request)

    coupa.server.handler = stopping
    ar.add(make_invoice("INV-1"))
    ar.add(make_invoice("INV-2"))
    ingest(hub)
    report = submit_profile(hub, hub.profile("acme-coupa"), stop)
    assert report.sent == 1 and report.outcomes == {"accepted": 1}
    assert portal_numbers(coupa) == ["INV-1"]
    assert row(hub, "INV-2").state == S.READY and attempts(hub, "INV-2") == []


def test_a_portal_down_mid_run_takes_back_the_claim_made_while_its_answer_was_out(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, faults: FaultPlan, clock: ManualClock
) -> None:
    """INV-3 is claimed (its attempt committed) while INV-2 is out; INV-2's answer is a 503: INV-3 never
    leaves, its attempt says `not_sent` and it waits READY for the next run, which sends it once."""
    for number in ("INV-1", "INV-2", "INV-3"):
        ar.add(make_invoice(number))
    ingest(hub)
    faults.at_request(2, "unavailable_503")
    assert send(hub) == {"accepted": 1, "transient": 1}
    assert portal_numbers(coupa) == ["INV-1"]
    third = row(hub, "INV-3")
    assert third.state == S.READY and third.lease_owner is None
    assert (third.last_reason or "").startswith("not sent: claimed for acme-coupa, but the run stopped")
    assert "503" in (third.last_reason or "") or "transient" in (third.last_reason or "")
    assert [a.outcome for a in attempts(hub, "INV-3")] == ["not_sent"]
    assert send(hub) == {"accepted": 1}  # INV-2 waits out its backoff; INV-3 is due now
    clock.advance(seconds=601)
    assert send(hub) == {"accepted": 1}
    assert sorted(portal_numbers(coupa)) == ["INV-1", "INV-2", "INV-3"]
    assert [a.outcome for a in attempts(hub, "INV-3")] == ["not_sent", "accepted"]


def test_stop_asked_while_the_next_invoice_is_claimed_sends_it_not(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while INV-3 is being claimed (INV-2 out): INV-2's answer is recorded, INV-3 never leaves
    and waits READY, its claim taken back."""
    stop = threading.Event()
    for number in ("INV-1", "INV-2", "INV-3"):
        ar.add(make_invoice(number))
    ingest(hub)
    original = CxmlConnector.render

    def stopping(self: CxmlConnector, invoice: Invoice, profile: Any, envelope: Any) -> Any:
        if invoice.invoice_number == "INV-3":
            stop.set()
        return original(self, invoice, profile, envelope)

    monkeypatch.setattr(CxmlConnector, "render", stopping)
    report = submit_profile(hub, hub.profile("acme-coupa"), stop)
    assert report.sent == 2 and report.outcomes == {"accepted": 2}
    assert portal_numbers(coupa) == ["INV-1", "INV-2"]
    assert row(hub, "INV-3").state == S.READY
    assert [a.outcome for a in attempts(hub, "INV-3")] == ["not_sent"]


def test_refused_credentials_hold_the_invoice_without_losing_it(
    tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock
) -> None:
    assert coupa.server is not None
    hub = make_hub(tmp_path, coupa.server.url, ar=ar, clock=clock)
    (tmp_path / "secrets.yaml").write_text(
        yaml.safe_dump({"acme_shared_secret": "wrong-secret-value", "coupa_api_secret": "x"})
    )
    hub.secrets._file_values = None  # the operator edited the secrets file
    ar.add(make_invoice("INV-1"))
    ar.add(make_invoice("INV-2"))
    ingest(hub)
    assert send(hub) == {"auth": 1}  # the loop stops: every invoice would fail the same way
    held = row(hub, "INV-1")
    assert held.state == S.READY and held.last_category == "credentials"
    assert held.next_attempt_at == T0 + AUTH_BACKOFF
    assert "wrong-secret-value" not in (held.last_reason or "")
    assert row(hub, "INV-2").state == S.READY and not attempts(hub, "INV-2")
    hub.close()


def test_a_bug_in_a_connector_leaves_the_invoice_in_doubt_not_submitting(
    hub: Hub, ar: ListAr, monkeypatch: pytest.MonkeyPatch
) -> None:
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    connector = hub.connector(hub.profile("acme-coupa"))

    def broken(*_: Any) -> Any:
        raise KeyError("oops")

    monkeypatch.setattr(connector, "submit", broken)
    assert send(hub) == {"in_doubt": 1}
    invoice = row(hub, "INV-1")
    assert invoice.state == S.IN_DOUBT and "internal error" in (invoice.last_reason or "")


def test_record_outcome_refuses_to_decide_for_another_worker(hub: Hub, ar: ListAr) -> None:
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    profile = hub.profile("acme-coupa")
    prepared = _prepare(hub, profile, hub.connector(profile))
    assert prepared is not None
    invoice_id, attempt_id = prepared.invoice_id, prepared.attempt_id
    hub.worker_id = "someone-else"
    outcome = record_outcome(
        hub, profile, hub.connector(profile), invoice_id, attempt_id, InDoubtError("x"), 5
    )
    assert outcome == "late"
    assert row(hub, "INV-1").state == S.SUBMITTING  # untouched: the owner (or housekeeping) decides


def test_reconcile_waits_when_the_portal_cannot_be_asked(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, faults: FaultPlan
) -> None:
    faults.queue("drop_after")
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    send(hub)
    assert coupa.server is not None
    coupa.server.stop()  # the portal goes away entirely
    profile = hub.profile("acme-coupa")
    assert reconcile_profile(hub, profile, hub.connector(profile)) == 0
    invoice = row(hub, "INV-1")
    assert (
        invoice.state == S.IN_DOUBT and invoice.next_attempt_at is not None and invoice.next_attempt_at > T0
    )
    assert states(hub, "INV-1")[-1] == "IN_DOUBT"  # never sent back to READY without the portal's word
    assert invoice.lease_owner is None


def test_a_voided_invoice_under_the_same_number_is_not_taken_for_our_send(
    tmp_path: Path, sandbox_clock: Any
) -> None:
    from connectors.sandbox.coupa import CoupaSandboxConfig
    from tests.factories import buyer_config

    base = buyer_config()
    config = CoupaSandboxConfig(
        buyers=base.buyers,
        api_clients=base.api_clients,
        existing_invoices=[{"instance": "acme", "number": "INV-1", "status": "voided"}],  # type: ignore[list-item]
    )
    portal = CoupaSandbox(config, sandbox_clock)
    faults = FaultPlan()
    server = portal.serve(faults=faults)
    ar = ListAr()
    ar.add(make_invoice("INV-1"))
    hub = make_hub(tmp_path, server.url, ar=ar)
    faults.queue("drop_before")
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}
    assert send(hub) == {"accepted": 1}  # the voided INV-1 is not ours: reconciled absent, sent again
    live = [i for i in portal.invoices if i.payload_id]
    assert len(live) == 1 and row(hub, "INV-1").portal_invoice_id == str(live[0].id)
    hub.close()
    server.stop()


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    from hub.pipeline.outcome import backoff

    first = [backoff(1, None, 30, 3600).total_seconds() for _ in range(50)]
    tenth = [backoff(10, None, 30, 3600).total_seconds() for _ in range(200)]
    assert min(first) >= 30 and max(first) <= 30  # never sooner than the initial wait
    assert max(tenth) <= 3600 and sum(tenth) / len(tenth) > 600  # grown, jittered, capped
    assert len(set(tenth)) > 100  # jitter: several workers do not retry in lockstep
    assert backoff(1, 900, 30, 3600).total_seconds() == 900


def test_a_run_gives_the_portal_back_after_one_lease_period(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While invoices keep coming a run would hold its portal for good and one daemon would send
    everything; after one lease period it stops and frees the lease, so the next tick may be any daemon's."""
    for n in range(6):
        ar.add(make_invoice(f"INV-{n}"))
    ingest(hub)
    lease_seconds = hub.config.daemon.lease_seconds
    connector_class = type(hub.connector(hub.profile("acme-coupa")))
    send = connector_class.submit

    def slow_submit(self: Any, document: Any, profile: Any) -> Any:
        clock.advance(seconds=lease_seconds / 3 + 1)  # each send takes a third of a lease period
        return send(self, document, profile)

    monkeypatch.setattr(connector_class, "submit", slow_submit)
    report = submit_profile(hub, hub.profile("acme-coupa"))
    assert report.stopped_because == "gave the portal's lease back after one lease period"
    assert 0 < report.sent < 6 and len(coupa.invoices) == report.sent
    with hub.store.session() as session:  # another worker takes the portal at once
        assert work.acquire_lease(session, "submit:acme-coupa", "other-worker", clock.now(), lease_seconds)


def _slow_sends(
    hub: Hub, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, beside: str | None = None
) -> list[str]:
    """Each send takes a third of a lease period; the payloadIDs sent, in order. `beside`: another
    daemon, beating meanwhile."""
    connector_class = type(hub.connector(hub.profile("acme-coupa")))
    send = connector_class.submit
    sent: list[str] = []

    def slow_submit(self: Any, document: Any, profile: Any) -> Any:
        clock.advance(seconds=hub.config.daemon.lease_seconds / 3 + 1)
        if beside is not None:
            _beat(hub, beside, clock.now())
        sent.append(document.payload_id)
        return send(self, document, profile)

    monkeypatch.setattr(connector_class, "submit", slow_submit)
    return sent


def _beat(hub: Hub, worker: str, at: Any, stopped: bool = False) -> None:
    """Another daemon's heartbeat row, as its heartbeat job writes it."""
    from hub.heartbeat import Heartbeat, JobClock

    beat = Heartbeat(hub.store, worker, JobClock(), hub.config.daemon.heartbeat_seconds)
    beat.stopped(at) if stopped else beat.beat(at)


def test_a_daemon_alone_on_the_store_runs_on_after_giving_the_portal_back(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody could take the portal at the next tick: the daemon's submit job starts the next run at
    once instead of leaving the portal idle until then, and one job sends every due invoice, once. A
    daemon that stopped, or whose heartbeat is late (killed), is nobody."""
    from hub.daemon import Daemon

    for n in range(6):
        ar.add(make_invoice(f"INV-{n}"))
    ingest(hub)
    _beat(hub, "stopped-worker", clock.now(), stopped=True)
    _beat(hub, "killed-worker", clock.now() - timedelta(hours=1))
    sent = _slow_sends(hub, clock, monkeypatch)
    report = Daemon(hub).submit("acme-coupa")
    assert report.stopped_because is None  # the last run ended because nothing was due
    assert len(sent) == len(set(sent)) == 6 and len(coupa.invoices) == 6
    with hub.store.session() as session:  # and the lease was given back at the end
        assert work.acquire_lease(
            session, "submit:acme-coupa", "other-worker", clock.now(), hub.config.daemon.lease_seconds
        )


def test_a_daemon_beside_another_gives_the_portal_back_and_waits_for_its_next_tick(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.daemon import Daemon
    from hub.pipeline.submit import GAVE_BACK

    for n in range(6):
        ar.add(make_invoice(f"INV-{n}"))
    ingest(hub)
    sent = _slow_sends(hub, clock, monkeypatch, beside="other-worker")
    report = Daemon(hub).submit("acme-coupa")
    assert report.stopped_because == GAVE_BACK
    assert 0 < len(sent) < 6 and len(coupa.invoices) == len(sent)


def test_a_database_error_in_the_claim_taken_with_an_answer_keeps_the_answer(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """INV-4 is claimed while INV-3 is out, in the transaction that records INV-2's answer, inside a
    savepoint: when that claim fails in the database, INV-2's answer is still recorded (not rolled back
    with it, which would leave a sent invoice to the crash path), and INV-4 is sent once, the usual
    way."""
    from sqlalchemy.exc import OperationalError

    from hub.pipeline import submit as submit_module

    claim = submit_module.move_claimed
    failed: list[int] = []

    def deadlocked_once(session: Any, invoice: Any, *args: Any, **kwargs: Any) -> Any:
        if invoice.invoice_number == "INV-4" and not failed:
            failed.append(invoice.id)
            session.connection().exec_driver_sql("SELECT 1")  # the savepoint is open: fail inside it
            raise OperationalError("UPDATE invoices ...", {}, Exception("deadlock detected"))
        return claim(session, invoice, *args, **kwargs)

    monkeypatch.setattr(submit_module, "move_claimed", deadlocked_once)
    for number in ("INV-1", "INV-2", "INV-3", "INV-4"):
        ar.add(make_invoice(number))
    ingest(hub)
    assert send(hub) == {"accepted": 4}
    assert failed  # the chained claim did fail
    assert row(hub, "INV-2").state == S.SUBMITTED
    assert [a.outcome for a in attempts(hub, "INV-2")] == ["accepted"]
    assert [a.outcome for a in attempts(hub, "INV-4")] == ["accepted"]  # no attempt left by the failed claim
    assert portal_numbers(coupa) == ["INV-1", "INV-2", "INV-3", "INV-4"]


def test_a_claim_that_does_not_hold_leaves_no_attempt(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first invoice of a run is read, rendered outside any transaction, then claimed: a person who
    blocks it meanwhile makes the claim fail, and neither its attempt nor a move is left behind."""
    from hub.pipeline import submit as submit_module

    render = submit_module._render

    def meddling(hub_: Hub, profile: Any, connector: Any, invoice: Any, now: Any) -> Any:
        rendered = render(hub_, profile, connector, invoice, now)
        with hub.store.session() as session:
            row_ = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == "INV-1")).one()
            move(session, row_, S.BLOCKED, actor="collector", now=clock.now(), reason="held back")
        return rendered

    monkeypatch.setattr(submit_module, "_render", meddling)
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {}
    assert row(hub, "INV-1").state == S.BLOCKED and row(hub, "INV-1").lease_owner is None
    assert attempts(hub, "INV-1") == []
    assert states(hub, "INV-1")[-1] == "BLOCKED" and "SUBMITTING" not in states(hub, "INV-1")
    assert coupa.received == 0
