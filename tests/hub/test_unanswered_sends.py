"""Unanswered sends settled on evidence, never on the number alone, against the Coupa sandbox over real
sockets (and the Ariba network for a second family).

- A Coupa profile without `connection.api` cannot ask the portal: the invoice is resent under the
  same number; the portal's "number already used" answer is evidence that the first send arrived
  (SUBMITTED, presumed, flagged in `show` and listed for a person), a content refusal is a rejection.
- An invoice IN_DOUBT longer than `daemon.in_doubt_worklist_hours` is in the collectors' worklist.
- A portal that holds another invoice under our number (keyed in by hand) is a number conflict for a
  person: never SUBMITTED, never resent, and its statuses never move our invoice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox, CoupaSandboxConfig, ExistingInvoice
from connectors.sandbox.server import FaultPlan
from hub.clock import ManualClock
from hub.corrections import NotApplicable, confirm_received
from hub.lifecycle import move
from hub.model import InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.services import timeline
from hub.store.tables import AttemptRow, InvoiceRow
from hub.worklist import worklist
from status_sync.poller import poll_profile
from tests.factories import T0, ListAr, buyer_config, make_hub, make_invoice, profile_yaml

S = InvoiceState
INVOICES = "/acme/cxml/invoices"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def portal(sandbox_clock: SandboxClock) -> Iterator[Any]:
    """`portal(existing=..., api=..., **daemon)` -> (sandbox, faults, hub, ar)."""
    opened: list[tuple[CoupaSandbox, Hub]] = []

    def build(
        tmp: Path,
        clock: ManualClock,
        *,
        existing: tuple[ExistingInvoice, ...] = (),
        api: bool = True,
        **daemon: Any,
    ) -> tuple[CoupaSandbox, FaultPlan, Hub, ListAr]:
        base = buyer_config()
        config = CoupaSandboxConfig(
            buyers=base.buyers, api_clients=base.api_clients, existing_invoices=list(existing)
        )
        sandbox = CoupaSandbox(config, sandbox_clock)
        faults = FaultPlan()
        server = sandbox.serve(faults=faults)
        ar = ListAr()
        hub = make_hub(
            tmp,
            server.url,
            ar=ar,
            clock=clock,
            profiles=[profile_yaml(server.url, with_api=api)],
            daemon=daemon,
        )
        opened.append((sandbox, hub))
        return sandbox, faults, hub, ar

    yield build
    for sandbox, hub in opened:
        hub.close()
        assert sandbox.server is not None
        sandbox.server.stop()


def send(hub: Hub) -> dict[str, int]:
    return submit_profile(hub, hub.profile("acme-coupa")).outcomes


def head(hub: Hub, number: str = "INV-1") -> dict[str, Any]:
    return dict(timeline(hub, number)["invoice"])


def sends(hub: Hub) -> list[AttemptRow]:
    with hub.store.session() as session:
        return list(session.exec(select(AttemptRow).order_by(col(AttemptRow.id))).all())


# --- 14.4: Coupa without a status API ----------------------------------------------------------------------
def test_an_ambiguous_500_without_api_is_resent_under_the_same_number_and_the_duplicate_answer_is_evidence(
    tmp_path: Path, clock: ManualClock, portal: Any
) -> None:
    coupa, faults, hub, ar = portal(tmp_path, clock, api=False)
    faults.queue("error_500_after", path_prefix=INVOICES)  # created, then a bare HTTP 500
    ar.add(make_invoice("INV-1"))
    ingest(hub)

    assert send(hub) == {"in_doubt": 1}
    assert head(hub)["state"] == S.IN_DOUBT

    # Next cycle: the hub cannot ask Coupa, so it resends under the same number; Coupa refuses the number.
    send(hub)
    seen = timeline(hub, "INV-1")
    invoice = seen["invoice"]
    assert invoice["state"] == S.SUBMITTED and invoice["unconfirmed"] is True
    assert invoice["reason"].startswith("presumed received (duplicate answer to our own unanswered send")
    assert "Invoice number INV-1 has already been used for this supplier." in invoice["reason"]
    attempts = sends(hub)
    assert [a.portal_invoice_number for a in attempts] == ["INV-1", "INV-1"]  # never a new number
    assert attempts[0].payload_id != attempts[1].payload_id and attempts[1].portal_code == "417"
    resend = [e for e in seen["events"] if e["from"] == S.IN_DOUBT and e["to"] == S.READY]
    assert "resending under the same number INV-1" in resend[0]["reason"]
    evidence = seen["events"][-1]["evidence"]
    assert evidence["unverified"] is True and evidence["portal_code"] == "417"
    # One invoice at the portal, received twice (the resend was refused).
    assert [i.number for i in coupa.invoices] == ["INV-1"] and coupa.received == 2

    # The collector sees it to confirm, with what the hub knows.
    [row] = worklist(hub)
    assert (row["invoice_number"], row["category"], row["state"]) == ("INV-1", "unconfirmed", S.SUBMITTED)
    assert row["attempts"] == 2 and "already been used" in row["last_answer"]

    # A collector checks at the portal and confirms: it leaves the worklist, the timeline says who.
    confirm_received(hub, "INV-1", "seen in the Coupa supplier portal", actor="cli:ann")
    assert worklist(hub) == [] and head(hub)["unconfirmed"] is False
    last = timeline(hub, "INV-1")["events"][-1]
    assert last["actor"] == "cli:ann" and "seen in the Coupa supplier portal" in last["reason"]
    with pytest.raises(NotApplicable, match="not waiting for a confirmation"):
        confirm_received(hub, "INV-1")


def test_the_resends_content_answer_is_a_rejection(tmp_path: Path, clock: ManualClock, portal: Any) -> None:
    coupa, faults, hub, ar = portal(tmp_path, clock, api=False)
    faults.queue("error_500", path_prefix=INVOICES)  # a bare 500 before anything was created
    ar.add(make_invoice("INV-1", lines=(("BRG-6205", "10", "BX", "12.50"),)))  # a UOM Coupa refuses
    ingest(hub)

    assert send(hub) == {"in_doubt": 1}
    send(hub)

    invoice = head(hub)
    assert (invoice["state"], invoice["category"]) == (S.REJECTED, "price_quantity")
    assert "UOM BX does not match PO line 1 (EA)" in invoice["reason"]
    assert [a.portal_invoice_number for a in sends(hub)] == ["INV-1", "INV-1"]
    assert coupa.invoices == [] and coupa.received == 1


def test_a_resend_that_is_accepted_means_the_first_never_arrived(
    tmp_path: Path, clock: ManualClock, portal: Any
) -> None:
    coupa, faults, hub, ar = portal(tmp_path, clock, api=False)
    faults.queue("drop_before", path_prefix=INVOICES)
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}
    assert send(hub) == {"accepted": 1}
    assert head(hub)["state"] == S.SUBMITTED and head(hub)["unconfirmed"] is False
    assert len(coupa.invoices) == 1 and worklist(hub) == []


def test_an_invoice_in_doubt_for_long_is_in_the_worklist_with_what_the_hub_knows(
    tmp_path: Path, clock: ManualClock, portal: Any
) -> None:
    coupa, faults, hub, ar = portal(tmp_path, clock, api=False, in_doubt_resends=1, in_doubt_worklist_hours=4)
    faults.queue("error_500", count=2, path_prefix=INVOICES)
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}
    assert send(hub) == {"in_doubt": 1}  # the one resend allowed, unanswered as well
    clock.advance(timedelta(minutes=5))
    assert send(hub) == {}  # no more resends: it waits for a person
    assert head(hub)["state"] == S.IN_DOUBT and coupa.received == 0
    assert worklist(hub) == []  # young: the hub is still on it

    clock.advance(timedelta(hours=4))
    [row] = worklist(hub)
    assert (row["invoice_number"], row["state"], row["category"]) == ("INV-1", S.IN_DOUBT, "unconfirmed")
    assert row["attempts"] == 2 and "HTTP 500" in row["last_answer"]
    assert row["days"] == 0 and "look the number up at the portal" in row["hint"]
    assert "2 sends of INV-1 to acme-coupa went unanswered" in timeline(hub, "INV-1")["events"][-1]["reason"]


# --- 15.3: another invoice under our number ----------------------------------------------------------------
HAND_KEYED = ExistingInvoice(
    instance="acme",
    number="INV-1",
    status="approved",
    total=Decimal("980.00"),
    invoice_date="2026-09-01",
    po_number="PO-100001",
    line_amounts=[Decimal("980.00")],
)


def test_a_foreign_invoice_under_our_number_is_a_conflict_not_a_success(
    tmp_path: Path, clock: ManualClock, portal: Any
) -> None:
    coupa, faults, hub, ar = portal(tmp_path, clock, existing=(HAND_KEYED,))
    faults.queue("drop_after", path_prefix=INVOICES)  # Coupa refused the number; the answer was lost
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}

    send(hub)
    invoice = head(hub)
    assert (invoice["state"], invoice["category"]) == (S.REJECTED, "duplicate")
    assert invoice["reason"].startswith("number conflict: acme-coupa holds another invoice under INV-1")
    assert "total 980.00 at the portal, 125.00 sent" in invoice["reason"]
    assert invoice["portal_invoice_id"] is None
    assert [a.outcome for a in sends(hub)] == ["conflict"] and coupa.received == 1  # never resent
    assert send(hub) == {}

    # The foreign invoice's statuses are not ours.
    profile = hub.profile("acme-coupa")
    report = poll_profile(hub, profile)
    assert report.applied.get("moved", 0) == 0 and head(hub)["state"] == S.REJECTED
    [row] = worklist(hub)
    assert row["category"] == "duplicate" and row["reason"].startswith("number conflict")


def test_a_duplicate_answer_proves_nothing_when_the_portals_copy_is_another_document(
    tmp_path: Path, clock: ManualClock, portal: Any
) -> None:
    coupa, faults, hub, ar = portal(tmp_path, clock)
    faults.queue("drop_before", path_prefix=INVOICES)
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    assert send(hub) == {"in_doubt": 1}
    # Reconciliation saw nothing (an eventually consistent portal) and sent it back to READY; meanwhile
    # someone keyed another INV-1 in by hand.
    with hub.store.session() as session:
        row = session.exec(select(InvoiceRow)).one()
        move(session, row, S.READY, actor="test", now=clock.now(), reason="lookup saw nothing yet")
    portal_copy = CoupaSandbox(
        CoupaSandboxConfig(buyers=buyer_config().buyers, existing_invoices=[HAND_KEYED]), coupa.clock
    ).invoices[0]
    coupa.invoices.append(portal_copy)

    assert send(hub) == {"rejected": 1}  # "Invoice number INV-1 has already been used"
    invoice = head(hub)
    assert (invoice["state"], invoice["category"]) == (S.REJECTED, "duplicate")
    assert invoice["reason"].startswith("number conflict")
    assert [i.number for i in coupa.invoices] == ["INV-1"]


def test_our_own_copy_found_by_lookup_is_matched_on_content(
    tmp_path: Path, clock: ManualClock, portal: Any
) -> None:
    coupa, faults, hub, ar = portal(tmp_path, clock)
    faults.queue("drop_after", path_prefix=INVOICES)
    ar.add(make_invoice("INV-1"))
    ingest(hub)
    send(hub)
    send(hub)
    invoice = head(hub)
    assert invoice["state"] == S.SUBMITTED and invoice["unconfirmed"] is False
    assert "the portal's copy matches what was sent (total, currency, PO, invoice date" in invoice["reason"]
    assert invoice["portal_invoice_id"] == str(coupa.invoices[0].id) and coupa.received == 1
