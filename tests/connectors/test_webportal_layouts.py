"""A second portal, built differently, driven by a second recipe and no code: the sandbox web portal's
grid layout (connectors/sandbox/webportal/grid.py) through fixtures/rules/recipes/sandbox-webportal-grid.yaml,
in real Chromium. Its lines are table rows a script adds in the page, its dates American, its list's
instants Central time; its words, labels, paging and reason page are its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.webportal.browser import BrowserPool
from hub.errors import PermanentPortalError, PortalAuthError
from hub.model import InvoiceState, RejectionCategory
from tests.connectors.contract.webportal_harness import (
    GRID_RECIPE,
    TOTP_SEED,
    WebPortalCase,
    assert_no_secrets,
    pdf_invoice,
)
from tests.factories import T0


def grid_portal(
    folder: Path, pool: BrowserPool, buyer: dict[str, object] | None = None, **connection: object
) -> WebPortalCase:
    return WebPortalCase(
        folder, pool, buyer={"layout": "grid", **(buyer or {})}, recipe=GRID_RECIPE, page_size=2, **connection
    )


@pytest.fixture
def portal(tmp_path: Path, pool: BrowserPool) -> Iterator[WebPortalCase]:
    case = grid_portal(tmp_path, pool)
    yield case
    case.close()


def test_lines_keyed_into_rows_in_the_page_the_pdf_and_the_statuses_back(portal: WebPortalCase) -> None:
    two_lines = pdf_invoice(
        "INV-1", lines=(("BRG-6205", "10", "EA", "12.50"), ("SEAL-22", "5", "EA", "4.20")), tax_rate="8.25"
    )
    receipt = portal.submit(two_lines)
    portal.submit(pdf_invoice("INV-2", lines=(("BRG-6205", "900", "EA", "12.50"),)))  # over the PO quantity
    portal.submit(pdf_invoice("INV-3", lines=(("SEAL-22", "10", "EA", "4.50"),)))  # over the PO price
    first, _, _ = portal.sandbox.received()
    assert receipt.portal_invoice_id == first.reference and "received as document" in (
        receipt.portal_text or ""
    )
    assert [(line.po_line, line.part, line.quantity, line.unit_price) for line in first.lines] == [
        (1, "BRG-6205", 10, Decimal("12.50")),
        (2, "SEAL-22", 5, Decimal("4.20")),
    ]
    assert first.invoice_date == T0.strftime("%m/%d/%Y") and first.tax == two_lines.tax_total
    assert first.pdf == two_lines.attachments[0].content
    assert portal.sandbox.posts == {"submit": 3}  # no round trip per line: rows were added in the page
    assert portal.sandbox.logins["acme"] == 1

    polled = portal.connector.poll(portal.profile, None)
    assert {u.invoice_number: (u.raw_status, u.state) for u in polled.updates} == {
        n: ("In approval", InvoiceState.PENDING_APPROVAL) for n in ("INV-1", "INV-2", "INV-3")
    }
    assert polled.requests == 2 and polled.next_cursor == T0.isoformat()  # Central time read back as UTC

    portal.clock.advance(hours=30)
    later = {u.invoice_number: u for u in portal.connector.poll(portal.profile, polled.next_cursor).updates}
    assert (
        later["INV-1"].state is InvoiceState.APPROVED and later["INV-1"].raw_status == "Approved for payment"
    )
    returned, held = later["INV-2"], later["INV-3"]
    assert returned.state is InvoiceState.REJECTED and returned.raw_status == "Returned to supplier"
    assert returned.reason == "Line 1: quantity 900 exceeds the 400 EA ordered on PO line 1."
    assert returned.category is RejectionCategory.PRICE_QUANTITY
    assert held.state is InvoiceState.DISPUTED and (held.reason or "").startswith("Line 1: unit price 4.50")
    assert returned.occurred_at == T0 + timedelta(hours=24)
    record = portal.connector.lookup(portal.profile, "INV-2")
    assert record is not None and record.portal_invoice_id == portal.sandbox.invoice("INV-2").reference  # type: ignore[union-attr]
    assert_no_secrets(portal.evidence_files())


@pytest.mark.parametrize(
    ("invoice", "buyer", "words", "category"),
    [
        (
            pdf_invoice("INV-5", lines=(("BRG-6205", "1", "EA", "12.50"), ("SEAL-22", "1", "EA", "4.20"))),
            {"require_afe": True},
            "Line 1: AFE number is required on every line by ACME Manufacturing.; "
            "Line 2: AFE number is required on every line by ACME Manufacturing.",
            RejectionCategory.MISSING_FIELD,
        ),
        (
            pdf_invoice("INV-5", po="PO-999999"),
            {},
            "Purchase order PO-999999 does not exist.",
            RejectionCategory.PO,
        ),
    ],
    ids=["afe-on-every-row", "unknown-po"],
)
def test_the_portals_messages_about_rows_are_a_rejection_with_its_words(
    tmp_path: Path,
    pool: BrowserPool,
    invoice: object,
    buyer: dict[str, object],
    words: str,
    category: RejectionCategory,
) -> None:
    case = grid_portal(tmp_path, pool, buyer)
    try:
        with pytest.raises(PermanentPortalError) as raised:
            case.submit(invoice)  # type: ignore[arg-type]
        assert raised.value.portal_text == words and raised.value.category is category
        assert "at step 'submit the invoice'" in str(raised.value) and not case.sandbox.received()
    finally:
        case.close()


def test_a_wrong_security_code_is_refused_with_the_portals_words(tmp_path: Path, pool: BrowserPool) -> None:
    wrong = {
        "secret:portal_password": "portal-Passw0rd-8472",
        "secret:portal_totp": "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU",
    }
    case = grid_portal(tmp_path, pool, secrets=wrong)
    try:
        with pytest.raises(PortalAuthError, match="refused the authentication code") as raised:
            case.submit(pdf_invoice("INV-1"))
        assert raised.value.portal_text == "The authentication code is incorrect or has expired."
        assert_no_secrets(case.evidence_files(), (wrong["secret:portal_password"], TOTP_SEED))
    finally:
        case.close()


def test_a_newest_first_list_cut_short_keeps_the_cursor_rather_than_lose_older_changes(
    tmp_path: Path, pool: BrowserPool
) -> None:
    case = grid_portal(tmp_path, pool, max_pages=1)
    try:
        for number in ("INV-1", "INV-2", "INV-3"):
            case.submit(pdf_invoice(number))
            case.clock.advance(minutes=1)
        cursor = (T0 - timedelta(days=1)).isoformat()
        cut = case.connector.poll(case.profile, cursor)
        assert [u.invoice_number for u in cut.updates] == ["INV-3", "INV-2"]  # the newest page only
        assert cut.next_cursor == cursor and "raise connection.max_pages" in cut.unreadable[0]
    finally:
        case.close()
