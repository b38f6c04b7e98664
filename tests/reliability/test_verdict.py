"""The reliability verdict is itself tested: on a clean run it passes, and each planted fault (an
invoice created twice, one lost, one wrongly settled, an unexplained extra receipt, an AR event written
twice) makes it fail, saying which. A fault is planted where it would really happen: a second document
sent over the socket to the sandbox, a row in the AR database, a state in the hub's store; the portal's
own log is edited only for what the sandbox refuses to do (lose an invoice).

The run is small and in-process (one daemon cycle at a time, no subprocess), so this file stays quick.
"""

from __future__ import annotations

import copy
import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bench.scenario import SECRET, Scenario, verify
from bench.verdict import Facts, HubAttempt, HubInvoice, PortalReceipt, judge
from bench.workspace import hub_in
from connectors.sandbox.server import Reply, Request
from hub.daemon import Daemon

INVOICES = 6


def _settle(scenario: Scenario, cycles: int = 5) -> None:
    """Daemon cycles in this process until every invoice is final and fed back to AR."""
    with hub_in(scenario) as hub:
        daemon = Daemon(hub)
        for _ in range(cycles):
            daemon.run_once()
            if scenario.settled():
                break
            time.sleep(0.6)  # past `reconcile_after_seconds`: an invoice in doubt is looked up next cycle
    assert scenario.settled(), scenario.progress()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Scenario]:
    """A clean, settled run: every invoice sent once, created once, every event in AR."""
    scenario = Scenario(tmp_path, invoices=INVOICES, buyers=2)
    try:
        _settle(scenario)
        yield scenario
    finally:
        scenario.close()


def _failures(scenario: Scenario, kind: str) -> list[str]:
    verdict = verify(scenario)
    assert not verdict.ok, verdict.summary()
    return [f for f in verdict.failures if f.startswith(kind)]


def test_a_clean_run_passes_with_one_creation_and_one_receipt_per_invoice(run: Scenario) -> None:
    verdict = verify(run)
    assert verdict.ok, verdict.summary()
    assert verdict.created == verdict.received == INVOICES
    assert verdict.numbers_created == {1: INVOICES} and verdict.extra_receipts == []
    assert verdict.ar_events > INVOICES and verdict.ar_duplicates == 0


def _sent_document(scenario: Scenario, number: str) -> tuple[str, str, str]:
    """(URL path, document with the real secret back in, payloadID) of the hub's send of `number`."""
    engine = scenario.store_engine()
    with engine.connect() as connection:
        document, payload_id, profile = connection.execute(
            text(
                "SELECT request_document, payload_id, profile_id FROM attempts "
                "WHERE portal_invoice_number = :n"
            ),
            {"n": number},
        ).one()
    engine.dispose()
    start = document.index("<SharedSecret>") + len("<SharedSecret>")
    document = document[:start] + SECRET + document[document.index("</SharedSecret>") :]
    buyer = profile.removeprefix("buyer").split("-")[0]  # buyer<b>-coupa sends to /b<b>
    return f"/b{buyer}/cxml/invoices", document, payload_id


def _send_again(scenario: Scenario, number: str, payload_id: str) -> None:
    path, document, sent_as = _sent_document(scenario, number)
    answer = httpx.post(
        scenario.url + path,
        content=document.replace(sent_as, payload_id).encode(),
        headers={"Content-Type": "text/xml"},
    )
    assert answer.status_code == 200


def test_an_invoice_created_twice_at_the_portal_fails(run: Scenario) -> None:
    # The portal voids R-000001 (a number may then be used again) and somebody sends it once more.
    held = next(i for i in run.sandbox.invoices if i.number == "R-000001")
    held.timeline.append((run.sandbox.clock.now(), "voided"))
    _send_again(run, "R-000001", "planted-second-send@elsewhere")
    failures = _failures(run, "duplicate")
    assert failures and "R-000001" in failures[0] and "2 time(s)" in failures[0]
    assert any("unexplained receipt: R-000001" in f for f in verify(run).failures)


def test_an_extra_receipt_nobody_can_explain_fails_even_when_the_portal_refused_it(run: Scenario) -> None:
    _send_again(run, "R-000002", "planted-resend@elsewhere")
    receipts = [r for r in run.sandbox.server.receipts() if r.number == "R-000002"]  # type: ignore[union-attr]
    assert [r.outcome for r in receipts] == ["created", "refused-duplicate"]  # held once, received twice
    failures = _failures(run, "unexplained receipt")
    assert (
        len(failures) == 1
        and "R-000002: receipt 2" in failures[0]
        and "none of the hub's sends" in failures[0]
    )
    assert verify(run).numbers_created == {1: INVOICES}


def test_an_invoice_the_portal_never_created_is_lost(run: Scenario) -> None:
    server = run.sandbox.server
    assert server is not None
    server.received[:] = [r for r in server.received if r.number != "R-000003"]
    failures = _failures(run, "lost")
    assert len(failures) == 1 and failures[0].startswith("lost: R-000003: hub ")
    assert failures[0].endswith("portal created it 0 time(s) (nothing)")


def test_an_invoice_settled_as_rejected_that_the_portal_created_fails(run: Scenario) -> None:
    engine = run.store_engine()
    with engine.begin() as connection:
        # The hub read the portal's answer to its send as a rejection, while the portal created it.
        connection.execute(text("UPDATE invoices SET state = 'REJECTED' WHERE invoice_number = 'R-000004'"))
        connection.execute(
            text("UPDATE attempts SET outcome = 'rejected' WHERE portal_invoice_number = 'R-000004'")
        )
    engine.dispose()
    failures = _failures(run, "wrongly settled")
    assert len(failures) == 1 and "R-000004: hub REJECTED, but the portal created it 1 time(s)" in failures[0]


def test_a_status_event_written_twice_to_ar_under_two_ids_fails(run: Scenario) -> None:
    ar = sqlite3.connect(run.root / "ar.db")
    ar.execute(
        "INSERT INTO ar_portal_status (event_id, invoice_number, state, previous_state, reason, category, "
        "raw_status, portal_invoice_id, at, written_at) SELECT 'evt-planted', invoice_number, state, "
        "previous_state, reason, category, raw_status, portal_invoice_id, at, written_at FROM ar_portal_status "
        "WHERE invoice_number = 'R-000005' AND state = 'SUBMITTED'"
    )
    ar.commit()
    ar.close()
    verdict = verify(run)
    assert verdict.ar_duplicates == 1 and not verdict.ok
    duplicates = [f for f in verdict.failures if f.startswith("AR duplicate")]
    assert len(duplicates) == 1 and "R-000005: SUBMITTING -> SUBMITTED written twice" in duplicates[0]
    assert "evt-planted" in duplicates[0]


def test_a_blind_lookup_that_resends_what_the_portal_created_fails(tmp_path: Path) -> None:
    """The issue's case: the answer to a send is lost, the lookup (and the poll) find nothing although the
    portal has the invoice, the hub sends it again (refused as a duplicate, then taken as received). The portal holds
    one invoice, so counting what it holds passed; counting what it received fails."""
    scenario = Scenario(tmp_path, invoices=3, buyers=1)
    try:
        server = scenario.sandbox.server
        assert server is not None
        portal = server.handler

        def blind(request: Request) -> Reply:
            # Lookups and polls alike see nothing.
            if request.method == "GET" and request.path == "/api/v1/invoices":
                request = dataclasses.replace(request, query={**request.query, "invoice-number": ["none"]})
            return portal(request)

        server.handler = blind
        server.faults.queue("drop_after", path_prefix="/b0/cxml")  # created, then the answer is lost
        _settle(scenario, cycles=10)
        verdict = verify(scenario)
        assert verdict.created == 3 and verdict.received == 4 and verdict.numbers_created == {1: 3}
        assert [f.split(":")[0] for f in verdict.failures] == ["resent although created"], verdict.failures
        assert "R-000000: receipt 2 (refused-duplicate): in-doubt reconcile" in verdict.failures[0]
    finally:
        scenario.close()


# --- the rules on their own: cases a short clean run cannot produce ----------------------------------------
def _clean() -> Facts:
    return Facts(
        expected_invoices=2,
        invoices=[HubInvoice("A-1", "SUBMITTED"), HubInvoice("A-2", "PAID")],
        attempts=[HubAttempt(1, "A-1", "p1", "accepted"), HubAttempt(2, "A-2", "p2", "accepted")],
        receipts=[
            PortalReceipt(1, "A-1", "p1", "created", "created"),
            PortalReceipt(2, "A-2", "p2", "created", "created"),
        ],
        ar_rows=[],
        hub_event_ids=set(),
    )


def test_judge_passes_the_clean_facts() -> None:
    assert judge(_clean()).ok


def test_a_resend_after_a_transient_answer_is_listed_with_its_reason_and_passes() -> None:
    case = _clean()
    case.attempts = [HubAttempt(1, "A-1", "p0", "transient", answer="HTTP 503"), *case.attempts]
    case.attempts[1] = HubAttempt(3, "A-1", "p1", "accepted")
    case.receipts.insert(0, PortalReceipt(0, "A-1", "p0", "fault-injected-before", ""))
    verdict = judge(case)
    assert verdict.ok, verdict.failures
    assert verdict.received == 3 and verdict.created == 2
    assert verdict.extra_receipts == ["A-1: receipt 2 (created): transient retry (HTTP 503)"]


def test_a_resend_after_a_claim_taken_back_is_explained_by_the_send_before_it() -> None:
    # A 503, then a claim taken back before it left (the run stopped), then the send that was created.
    case = _clean()
    case.attempts = [
        HubAttempt(1, "A-1", "p0", "transient", answer="HTTP 503"),
        HubAttempt(2, "A-1", "p-withdrawn", "not_sent"),
        HubAttempt(3, "A-1", "p1", "accepted"),
        *case.attempts[1:],
    ]
    case.receipts.insert(0, PortalReceipt(0, "A-1", "p0", "fault-injected-before", ""))
    verdict = judge(case)
    assert verdict.ok, verdict.failures
    assert verdict.extra_receipts == ["A-1: receipt 2 (created): transient retry (HTTP 503)"]


def test_a_send_recorded_as_never_sent_that_reached_the_portal_fails() -> None:
    case = _clean()
    case.attempts = [HubAttempt(1, "A-1", "p1", "not_sent"), *case.attempts[1:]]
    verdict = judge(case)
    assert [f.split(":")[0] for f in verdict.failures] == ["sent although recorded as never sent"]
    assert "p1" in verdict.failures[0]


def test_a_resend_of_an_invoice_the_portal_had_created_fails_even_with_a_reason() -> None:
    # The lookup made blind: a send killed mid-way was created, the lookup said "absent", the hub resent.
    case = _clean()
    case.attempts = [
        HubAttempt(0, "A-1", "p0", "absent"),
        HubAttempt(3, "A-1", "p1", "found"),
        case.attempts[1],
    ]
    case.receipts = [
        PortalReceipt(0, "A-1", "p0", "created", "created"),
        PortalReceipt(1, "A-1", "p1", "refused-duplicate", "refused-duplicate"),
        case.receipts[1],
    ]
    verdict = judge(case)
    assert verdict.created == 2 and verdict.received == 3
    assert [f.split(":")[0] for f in verdict.failures] == ["resent although created"]
    assert "in-doubt reconcile" in verdict.failures[0]


def test_rejected_counts_only_when_the_portal_refused_the_content() -> None:
    honest = _clean()
    honest.invoices[0] = HubInvoice("A-1", "REJECTED")
    honest.attempts[0] = HubAttempt(1, "A-1", "p1", "rejected")
    honest.receipts[0] = PortalReceipt(1, "A-1", "p1", "refused-content", "refused-content")
    honest.all_valid = False
    assert judge(honest).ok
    # The same, in a run whose invoices are all valid: a rejection means an invoice never at the portal.
    strict = copy.deepcopy(honest)
    strict.all_valid = True
    assert [f.split(":")[0] for f in judge(strict).failures] == ["not at the portal"]
    # Rejected by the hub's reading of an answer the portal never gave (a refused duplicate, a fault):
    for outcome in ("refused-duplicate", "fault-injected-before"):
        wrong = copy.deepcopy(honest)
        wrong.receipts[0] = PortalReceipt(1, "A-1", "p1", outcome, outcome if outcome[0] == "r" else "")
        assert [f.split(":")[0] for f in judge(wrong).failures] == ["wrongly settled"], outcome


def test_an_invoice_the_hub_never_sent_must_not_be_at_the_portal() -> None:
    case = _clean()
    case.invoices[0] = HubInvoice("A-1", "BLOCKED")
    case.all_valid = False
    assert [f.split(":")[0] for f in judge(case).failures] == ["wrongly settled"]


def test_an_unsettled_invoice_and_an_ar_gap_fail() -> None:
    case = _clean()
    case.invoices[1] = HubInvoice("A-2", "IN_DOUBT")
    case.hub_event_ids = {"evt-1"}
    assert {f.split(":")[0] for f in judge(case).failures} == {
        "unsettled",
        "AR missing 1 event(s), e.g. ['evt-1']",
    }


def test_a_document_cut_by_a_kill_is_counted_and_fails_only_if_the_portal_created_something() -> None:
    case = _clean()
    case.receipts.append(PortalReceipt(3, "", "", "refused-content", "refused-content"))
    verdict = judge(case)
    assert verdict.ok and verdict.unreadable == 1 and verdict.received == 3
    case.receipts[-1] = PortalReceipt(3, "", "", "created", "created")
    assert [f.split(":")[0] for f in judge(case).failures] == ["unknown document"]
