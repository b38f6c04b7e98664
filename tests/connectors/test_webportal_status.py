"""Reading statuses back from the sandbox web portal's list pages in real Chromium: filters, pages,
the cursor, and the reason on each rejected or disputed invoice's own page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.webportal.browser import BrowserPool
from hub.errors import PortalError, TransientPortalError
from hub.model import InvoiceState, RejectionCategory
from tests.connectors.contract.webportal_harness import RECIPE, WebPortalCase, pdf_invoice
from tests.factories import T0


@pytest.fixture
def portal(tmp_path: Path, pool: BrowserPool) -> Iterator[WebPortalCase]:
    case = WebPortalCase(tmp_path, pool, page_size=2)  # small pages: every poll below pages
    yield case
    case.close()


def _by_number(updates: list) -> dict:  # type: ignore[type-arg]
    return {u.invoice_number: u for u in updates}


def test_submitted_then_approved_paid_rejected_and_disputed_with_reasons(portal: WebPortalCase) -> None:
    portal.submit(pdf_invoice("INV-1"))  # within the PO: approved, then paid
    portal.submit(pdf_invoice("INV-2", lines=(("BRG-6205", "900", "EA", "12.50"),)))  # over the PO quantity
    portal.submit(pdf_invoice("INV-3", lines=(("SEAL-22", "10", "EA", "4.50"),)))  # over the PO price
    first = portal.connector.poll(portal.profile, None)
    assert {u.invoice_number: (u.raw_status, u.state) for u in first.updates} == {
        "INV-1": ("Submitted", InvoiceState.PENDING_APPROVAL),
        "INV-2": ("Submitted", InvoiceState.PENDING_APPROVAL),
        "INV-3": ("Submitted", InvoiceState.PENDING_APPROVAL),
    }
    assert first.next_cursor == T0.isoformat() and first.requests == 2  # two list pages, no detail page

    portal.clock.advance(hours=30)
    reviewed = _by_number(portal.connector.poll(portal.profile, first.next_cursor).updates)
    assert reviewed["INV-1"].state is InvoiceState.APPROVED and reviewed["INV-1"].reason is None
    rejected, disputed = reviewed["INV-2"], reviewed["INV-3"]
    assert rejected.state is InvoiceState.REJECTED and rejected.raw_status == "Rejected"
    assert rejected.reason == "Line 1: quantity 900 exceeds the 400 EA ordered on PO line 1."
    assert rejected.category is RejectionCategory.PRICE_QUANTITY
    assert disputed.state is InvoiceState.DISPUTED
    assert disputed.reason and disputed.reason.startswith(
        "Line 1: unit price 4.50 is above the PO price 4.20"
    )
    assert disputed.category is RejectionCategory.PRICE_QUANTITY
    assert rejected.portal_invoice_id == portal.sandbox.invoice("INV-2").reference  # type: ignore[union-attr]
    assert rejected.occurred_at == T0 + timedelta(hours=24) and rejected.occurred_at.tzinfo is not None


def test_the_cursor_asks_only_for_changes_and_never_moves_back(portal: WebPortalCase) -> None:
    for number in ("INV-1", "INV-2", "INV-3"):
        portal.submit(pdf_invoice(number))
    first = portal.connector.poll(portal.profile, None)
    again = portal.connector.poll(portal.profile, first.next_cursor)
    assert again.updates == [] and again.next_cursor == first.next_cursor and again.requests == 1
    portal.clock.advance(hours=100)
    later = portal.connector.poll(portal.profile, first.next_cursor)
    assert {u.invoice_number: u.raw_status for u in later.updates} == {
        "INV-1": "Paid",
        "INV-2": "Paid",
        "INV-3": "Paid",
    }
    assert later.next_cursor is not None and later.requests == 2
    assert datetime.fromisoformat(later.next_cursor) == T0 + timedelta(hours=72)
    ahead = (T0 + timedelta(days=365)).isoformat()
    assert portal.connector.poll(portal.profile, ahead).next_cursor == ahead


def test_lookup_finds_an_invoice_by_number_with_its_reason(portal: WebPortalCase) -> None:
    portal.submit(pdf_invoice("INV-1"))
    portal.submit(pdf_invoice("INV-2", lines=(("BRG-6205", "900", "EA", "12.50"),)))
    portal.clock.advance(hours=25)
    record = portal.connector.lookup(portal.profile, "INV-2")
    assert record is not None and record.invoice_number == "INV-2" and record.state is InvoiceState.REJECTED
    assert record.reason and "exceeds" in record.reason
    assert portal.connector.lookup(portal.profile, "INV-404") is None


def test_a_status_word_the_recipe_does_not_know_is_kept_raw(portal: WebPortalCase) -> None:
    portal.submit(pdf_invoice("INV-1"))
    portal.clock.advance(hours=1)
    portal.sandbox.set_status("INV-1", "Queued for audit")
    [update] = portal.connector.poll(portal.profile, T0.isoformat()).updates
    assert update.state is None and update.raw_status == "Queued for audit"


def test_an_unreachable_portal_makes_a_poll_transient(portal: WebPortalCase) -> None:
    portal.server.stop()
    with pytest.raises(TransientPortalError, match="could not be reached"):
        portal.connector.poll(portal.profile, None)
    with pytest.raises(PortalError):
        portal.connector.lookup(portal.profile, "INV-1")


def test_a_portal_list_without_a_date_filter_is_filtered_by_the_connector(
    tmp_path: Path, pool: BrowserPool
) -> None:
    text = RECIPE.read_text(encoding="utf-8")
    step = "    - fill: Updated since (UTC)\n      field: updated_since                 # when polling: the last change seen\n"
    assert step in text
    recipe = tmp_path / "no-date-filter.yaml"
    recipe.write_text(text.replace(step, ""), encoding="utf-8")
    case = WebPortalCase(tmp_path, pool, recipe=recipe, page_size=2)
    try:
        for number in ("INV-1", "INV-2", "INV-3"):
            case.submit(pdf_invoice(number))
        case.clock.advance(hours=1)
        case.sandbox.set_status("INV-2", "Approved")
        result = case.connector.poll(case.profile, T0.isoformat())
        assert [(u.invoice_number, u.raw_status) for u in result.updates] == [("INV-2", "Approved")]
        assert result.requests == 2  # every page of the list, read to find the change
    finally:
        case.close()


def test_a_poll_stops_at_max_pages_and_the_next_one_goes_on_from_there(
    tmp_path: Path, pool: BrowserPool
) -> None:
    case = WebPortalCase(tmp_path, pool, page_size=2, max_pages=1)
    try:
        for number in ("INV-1", "INV-2", "INV-3"):
            case.submit(pdf_invoice(number))
            case.clock.advance(minutes=1)
        first = case.connector.poll(case.profile, None)
        assert [u.invoice_number for u in first.updates] == ["INV-1", "INV-2"] and first.requests == 1
        assert first.unreadable == ["stopped after 1 pages; the newer changes come with the next poll"]
        rest = case.connector.poll(case.profile, first.next_cursor)
        assert [u.invoice_number for u in rest.updates] == ["INV-3"] and not rest.unreadable
    finally:
        case.close()
