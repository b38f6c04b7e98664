"""Fix and resubmit, and cancel, against the Coupa sandbox over real sockets: corrections carry a new
payloadID (and a new number after a dispute), nothing unchanged goes out again by accident, and the
portal's own cancel withdraws an accepted invoice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox
from hub.clock import ManualClock
from hub.corrections import NotApplicable, ResubmitRefused, cancel, resubmit
from hub.model import InvoicePurpose, InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.services import timeline
from hub.store.tables import AttemptRow
from status_sync.poller import poll_profile
from tests.factories import SECRET, T0, ListAr, make_hub, make_invoice

S = InvoiceState
UNKNOWN_PO = "PO-999999"


@pytest.fixture
def ar() -> ListAr:
    return ListAr()


@pytest.fixture
def hub(tmp_path: Path, coupa: CoupaSandbox, ar: ListAr) -> Iterator[Hub]:
    assert coupa.server is not None
    built = make_hub(tmp_path, coupa.server.url, ar=ar, clock=ManualClock(T0))
    yield built
    built.close()


def send(hub: Hub, ar: ListAr, *invoices: object) -> None:
    for invoice in invoices:
        ar.add(invoice)  # type: ignore[arg-type]
    ingest(hub)
    submit_profile(hub, hub.profile("acme-coupa"))


def poll(hub: Hub) -> None:
    profile = hub.profile("acme-coupa")
    poll_profile(hub, profile)


def attempts(hub: Hub, number: str) -> list[dict[str, object]]:
    return list(timeline(hub, number)["attempts"])


def test_an_unchanged_rejection_is_refused_then_the_fix_goes_out_as_a_correction(
    hub: Hub, ar: ListAr
) -> None:
    send(hub, ar, make_invoice("INV-2", po=UNKNOWN_PO))
    assert timeline(hub, "INV-2")["invoice"]["state"] == S.REJECTED
    with pytest.raises(ResubmitRefused) as refused:
        resubmit(hub, "INV-2", actor="cli:dana")
    message = str(refused.value)
    assert "unchanged in the AR system" in message and "--force" in message
    assert f"PO number {UNKNOWN_PO} was not found for this supplier." in message  # the portal's words
    assert len(attempts(hub, "INV-2")) == 1  # nothing was sent

    ar.add(make_invoice("INV-2", po="PO-100001"))  # the collector fixes the PO in AR
    result = resubmit(hub, "INV-2", actor="cli:dana")
    assert result.ok and result.state == S.SUBMITTED and result.ar == "corrected" and result.revision == 2
    first, second = attempts(hub, "INV-2")
    assert result.payload_id == second["payload_id"] != first["payload_id"]
    assert second["portal_invoice_number"] == "INV-2"  # never created at the portal: the number is free
    assert result.corrects is not None and result.corrects["payload_id"] == first["payload_id"]
    shown = timeline(hub, "INV-2")
    [link] = shown["corrections"]
    assert link["payload_id"] == second["payload_id"] and link["corrects"]["category"] == "po"
    assert any(
        e["actor"] == "cli:dana" and "resubmit requested" in (e["reason"] or "") for e in shown["events"]
    )


def test_force_sends_it_unchanged_and_the_portal_says_no_again(hub: Hub, ar: ListAr) -> None:
    send(hub, ar, make_invoice("INV-3", po=UNKNOWN_PO))
    result = resubmit(hub, "INV-3", force=True, actor="cli:dana")
    assert not result.ok and result.state == S.REJECTED and result.forced
    assert len(attempts(hub, "INV-3")) == 2


def test_a_disputed_invoice_is_corrected_under_a_new_number(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, sandbox_clock: SandboxClock
) -> None:
    send(hub, ar, make_invoice("INV-4", lines=(("BRG-6205", "500", "EA", "12.50"),)))  # the PO has 400
    sandbox_clock.advance(hours=25)
    poll(hub)
    assert timeline(hub, "INV-4")["invoice"]["state"] == S.DISPUTED
    with pytest.raises(ResubmitRefused, match="disputed it"):
        resubmit(hub, "INV-4")
    ar.add(make_invoice("INV-4", lines=(("BRG-6205", "400", "EA", "12.50"),)))
    result = resubmit(hub, "INV-4")
    assert result.state == S.SUBMITTED and result.portal_invoice_number == "INV-4-R1"
    assert result.corrects is not None and result.corrects["state"] == S.DISPUTED
    assert [i.number for i in coupa.invoices if i.payload_id] == ["INV-4", "INV-4-R1"]
    # Asked again: it is already out, and says so instead of sending a third copy.
    with pytest.raises(NotApplicable, match="correction already went out"):
        resubmit(hub, "INV-4")


def test_refused_access_is_not_a_reason_to_hold_it_back(hub: Hub, ar: ListAr, coupa: CoupaSandbox) -> None:
    coupa.buyers["acme"].shared_secret = "rotated-by-the-buyer"
    send(hub, ar, make_invoice("INV-5"))
    head = timeline(hub, "INV-5")["invoice"]
    assert head["state"] == S.READY and head["category"] == "credentials"
    result = resubmit(hub, "INV-5")  # the profile is still wrong: it says so
    assert not result.ok and result.category == "credentials"
    coupa.buyers["acme"].shared_secret = SECRET  # AR operations fix it
    result = resubmit(hub, "INV-5")
    assert result.ok and result.state == S.SUBMITTED


def test_an_accepted_invoice_is_not_resubmitted(hub: Hub, ar: ListAr) -> None:
    send(hub, ar, make_invoice("INV-6"))
    with pytest.raises(NotApplicable, match="cancel INV-6"):
        resubmit(hub, "INV-6")
    with pytest.raises(NotApplicable, match="no invoice 'NOPE'"):
        resubmit(hub, "NOPE")


def test_cancel_withdraws_the_invoice_at_the_portal(
    hub: Hub, ar: ListAr, coupa: CoupaSandbox, sandbox_clock: SandboxClock
) -> None:
    send(hub, ar, make_invoice("INV-7"))
    poll(hub)
    [sent] = attempts(hub, "INV-7")
    result = cancel(hub, "INV-7", reason="billed twice", actor="cli:dana")
    assert result.ok and result.state == S.CANCELLED and result.original_payload_id == sent["payload_id"]
    [portal_copy] = [i for i in coupa.invoices if i.number == "INV-7"]
    assert portal_copy.status_at(sandbox_clock.now())[0] == "voided"
    with hub.store.session() as session:
        stored = session.exec(select(AttemptRow).where(col(AttemptRow.outcome) == "cancelled")).one()
    assert stored.request_document is not None
    assert 'operation="delete"' in stored.request_document
    assert f'DocumentReference payloadID="{sent["payload_id"]}"' in stored.request_document
    assert SECRET not in stored.request_document
    events = timeline(hub, "INV-7")["events"]
    assert events[-1]["to"] == S.CANCELLED and "billed twice" in events[-1]["reason"]
    with pytest.raises(NotApplicable, match="already cancelled"):
        cancel(hub, "INV-7")


def test_cancel_refusals(hub: Hub, ar: ListAr, coupa: CoupaSandbox) -> None:
    send(hub, ar, make_invoice("INV-8", po=UNKNOWN_PO), make_invoice("INV-9"))
    with pytest.raises(NotApplicable, match="never accepted"):
        cancel(hub, "INV-8")  # rejected at submission: the portal holds nothing
    coupa.invoices = [i for i in coupa.invoices if i.number != "INV-9"]  # gone at the portal
    result = cancel(hub, "INV-9")
    assert result.outcome == "refused" and "No invoice INV-9 to cancel" in result.message
    assert timeline(hub, "INV-9")["invoice"]["state"] == S.SUBMITTED  # unchanged


def test_show_lists_the_documents_that_name_the_invoice_as_their_original(hub: Hub, ar: ListAr) -> None:
    credit = make_invoice(
        "CM-1",
        purpose=InvoicePurpose.CREDIT_MEMO,
        original_invoice_number="INV-1",
        lines=(("BRG-6205", "-2", "EA", "12.50"),),
    )
    for invoice in (make_invoice("INV-1"), make_invoice("INV-1-RB", original_invoice_number="INV-1"), credit):
        ar.add(invoice)
    ar.add(make_invoice("INV-3"))
    ingest(hub)
    related = timeline(hub, "INV-1")["related"]
    assert sorted((r["invoice_number"], r["purpose"]) for r in related) == [
        ("CM-1", "credit_memo"),
        ("INV-1-RB", "invoice"),
    ]
    assert timeline(hub, "INV-3")["related"] == []
    # A corrected AR record that no longer names the original drops out of the list.
    ar.add(make_invoice("INV-1-RB", lines=(("BRG-6205", "12", "EA", "12.50"),)))
    ingest(hub)
    assert [r["invoice_number"] for r in timeline(hub, "INV-1")["related"]] == ["CM-1"]
