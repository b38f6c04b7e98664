"""The browser connector on the second sandbox portal (connectors/sandbox/supplierportal), through its
recipe alone, in real Chromium: the one-time-code page, the draft made by "Create Invoice", the
wizard with its search-then-select PO list, lines added by a script, the portal's UOM codes; inline
errors back verbatim; statuses from the paged list and reasons from detail pages; a recipe broken on
purpose is a recipe gap before any submit. And the demo's invoices, on both sandbox portals."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.webportal import RecipeGapError
from connectors.webportal.browser import BrowserPool
from hub.ar.sql import SqlArAdapter
from hub.config import ArConfig
from hub.errors import PermanentPortalError, PortalAuthError, PortalError, ProfileUnavailableError
from hub.model import Invoice, InvoiceState, RejectionCategory
from tests.connectors.contract.supplierportal_harness import (
    SUPPLIER_RECIPE,
    SupplierPortalCase,
    supplier_config,
)
from tests.connectors.contract.webportal_harness import (
    SECRETS,
    TOTP_SEED,
    WebPortalCase,
    assert_no_secrets,
    pdf_invoice,
)
from tests.factories import SUPPLIER, T0

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def portal(tmp_path: Path, pool: BrowserPool) -> Iterator[SupplierPortalCase]:
    case = SupplierPortalCase(tmp_path, pool, config=supplier_config(page_size=2))
    yield case
    case.close()


def test_an_invoice_goes_through_the_wizard_and_the_portal_has_what_was_typed(
    portal: SupplierPortalCase,
) -> None:
    invoice = pdf_invoice(
        "INV-1",
        lines=(("BRG-6205", "10", "EA", "12.50"), ("SVC-FIELD", "4", "HUR", "95.00")),
        tax_rate="8.25",
    )
    receipt = portal.submit(invoice)
    [received] = portal.sandbox.received()
    assert receipt.portal_invoice_id == received.id and received.number == "INV-1"
    assert received.po == "PO-100001" and received.currency == "USD"  # chosen from the search results
    assert received.invoice_date == T0.date().isoformat()  # typed as MM/DD/YYYY, read back by the portal
    assert [(line.po_line, line.uom, str(line.quantity)) for line in received.lines] == [
        (1, "EACH", "10"),  # AR's UN/ECE EA -> the portal's EACH
        (3, "HR", "4"),  # HUR -> HR
    ]
    assert received.total == invoice.total and received.tax == invoice.tax_total
    assert received.pdf == invoice.attachments[0].content
    assert portal.sandbox.logins == 1 and portal.sandbox.posts == {"details": 1, "submit": 1}
    assert len(portal.sandbox.drafts) == 1  # one draft, made by the dashboard's button
    assert_no_secrets(portal.evidence_files())


def test_inline_errors_come_back_as_the_portals_words(portal: SupplierPortalCase) -> None:
    # A PO line the PO does not have: the message is printed beside that line.
    invoice = pdf_invoice("INV-2")
    invoice = invoice.model_copy(
        update={"lines": [invoice.lines[0].model_copy(update={"po_line_number": 9})]}
    )
    with pytest.raises(PermanentPortalError) as on_line:
        portal.submit(invoice)
    assert on_line.value.portal_text == "Line 1: PO line 9 is not on this purchase order."
    assert str(on_line.value) == on_line.value.portal_text and not on_line.value.duplicate
    # A currency the PO is not in: beside the currency, on the first step of the wizard.
    with pytest.raises(PermanentPortalError) as on_field:
        portal.submit(pdf_invoice("INV-3", currency="CAD"))
    assert on_field.value.portal_text == "This purchase order is in USD."
    # A PO the portal's search does not find: beside the search box.
    with pytest.raises(PermanentPortalError) as on_search:
        portal.submit(pdf_invoice("INV-4", po="PO-999999"))
    assert on_search.value.portal_text == "No open purchase order matches “PO-999999”."
    assert on_search.value.category is RejectionCategory.PO
    assert portal.sandbox.received() == []


def test_statuses_from_the_paged_list_and_reasons_from_the_detail_pages(portal: SupplierPortalCase) -> None:
    empty = portal.connector.poll(portal.profile, None)  # "No invoices match your search." is not a row
    assert empty.updates == [] and empty.unreadable == []
    assert portal.connector.lookup(portal.profile, "INV-404") is None

    portal.submit(pdf_invoice("INV-1"))  # within the PO: approved, then paid
    portal.submit(pdf_invoice("INV-2", lines=(("BRG-6205", "900", "EA", "12.50"),)))  # over the quantity
    portal.submit(pdf_invoice("INV-3", lines=(("SEAL-22", "10", "EA", "4.50"),)))  # over the price
    first = portal.connector.poll(portal.profile, None)
    assert {u.invoice_number: u.raw_status for u in first.updates} == dict.fromkeys(
        ("INV-1", "INV-2", "INV-3"), "Pending review"
    )
    assert first.requests == 2  # two pages of two rows, no detail page
    # 12-hour local (Denver) times without seconds, back in UTC.
    assert {u.occurred_at for u in first.updates} == {T0.replace(second=0)}

    portal.clock.advance(hours=30)
    reviewed = {u.invoice_number: u for u in portal.connector.poll(portal.profile, first.next_cursor).updates}
    assert reviewed["INV-1"].state is InvoiceState.APPROVED and reviewed["INV-1"].reason is None
    rejected, held = reviewed["INV-2"], reviewed["INV-3"]
    assert rejected.state is InvoiceState.REJECTED and rejected.raw_status == "Rejected"
    assert rejected.reason == "Line 1 bills 900 EACH, more than the 400 EACH ordered on PO PO-100001 line 1."
    assert held.state is InvoiceState.DISPUTED and held.raw_status == "On hold"
    assert held.reason == "Line 1: price 4.50 is above the PO price 4.20."
    assert rejected.occurred_at == T0 + timedelta(hours=24)
    record = portal.connector.lookup(portal.profile, "INV-2")
    assert record is not None and record.portal_invoice_id == portal.sandbox.invoice("INV-2").id  # type: ignore[union-attr]
    assert record.reason == rejected.reason


def test_a_number_the_portal_lists_is_a_duplicate_and_not_typed_again(portal: SupplierPortalCase) -> None:
    portal.submit(pdf_invoice("INV-1"))
    drafts = len(portal.sandbox.drafts)
    with pytest.raises(PermanentPortalError) as raised:
        portal.submit(pdf_invoice("INV-1"))
    assert raised.value.duplicate and len(portal.sandbox.drafts) == drafts


def test_a_wrong_one_time_code_is_an_auth_error_with_the_portals_words(
    tmp_path: Path, pool: BrowserPool
) -> None:
    wrong = {**SECRETS, "secret:portal_totp": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}
    case = SupplierPortalCase(tmp_path, pool, secrets=wrong)
    try:
        with pytest.raises(PortalAuthError, match="refused the authentication code") as raised:
            case.submit(pdf_invoice("INV-1"))
        assert raised.value.portal_text == "That code is not valid. Try again."
        assert case.sandbox.refused == {"code": 1} and not case.sandbox.drafts
        assert_no_secrets(case.evidence_files(), ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", TOTP_SEED))
    finally:
        case.close()


def test_a_recipe_broken_on_purpose_is_a_recipe_gap_before_any_submit(
    tmp_path: Path, pool: BrowserPool
) -> None:
    text = SUPPLIER_RECIPE.read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    assert '{role: button, name: "Next: Lines"}' in text
    broken.write_text(text.replace('{role: button, name: "Next: Lines"}', "{role: button, name: Continue}"))
    case = SupplierPortalCase(tmp_path, pool, recipe=broken, step_timeout_seconds=1.5)
    try:
        with pytest.raises(ProfileUnavailableError) as raised:
            case.submit(pdf_invoice("INV-1"))
        error = raised.value
        assert (
            isinstance(error, RecipeGapError)
            and error.kind == "recipe"
            and not isinstance(error, PortalError)
        )
        assert error.step == "fill_header 5: click button 'Continue'"
        assert error.expected == "button 'Continue' to press" and "/details" in str(error)
        assert error.evidence and ".png" in error.evidence and error.evidence in str(error)
        assert case.sandbox.posts["submit"] == 0 and case.sandbox.received() == []
    finally:
        case.close()


# --- the demo's invoices, on both sandbox portals -----------------------------------------------------------
def _demo_invoices(tmp_path: Path) -> dict[str, Invoice]:
    database = tmp_path / "ar.db"
    ar = sqlite3.connect(database)
    ar.executescript((FIXTURES / "demo" / "ar_schema.sql").read_text(encoding="utf-8"))
    ar.executescript((FIXTURES / "demo" / "ar_data_webportal.sql").read_text(encoding="utf-8"))
    ar.commit()
    ar.close()
    records = SqlArAdapter(ArConfig(url=f"sqlite:///{database}"), SUPPLIER).pull()
    return {r.invoice_number: r.invoice for r in records if r.invoice is not None}


def _northwind() -> dict[str, Any]:
    demo = yaml.safe_load((FIXTURES / "demo" / "webportal_buyers.yaml").read_text(encoding="utf-8"))
    return demo["buyers"][0]


#: Northwind's own rules (its rules file) pass these; INV-26005's PO does not exist at the portal.
VALID = ("INV-26001", "INV-26002", "INV-26003", "INV-26004")


def test_every_valid_demo_invoice_is_accepted_once_by_both_portals(tmp_path: Path, pool: BrowserPool) -> None:
    invoices = _demo_invoices(tmp_path)
    northwind = _northwind()
    first = WebPortalCase(
        tmp_path / "classic",
        pool,
        buyer={"purchase_orders": northwind["purchase_orders"], "require_afe": True},
    )
    uom = {"EA": "EACH", "HUR": "HR", "DAY": "DY"}
    orders = [
        {
            "number": po["number"],
            "description": po["lines"][0]["description"],
            "lines": [
                {key: value for key, value in {**line, "uom": uom[line["uom"]]}.items() if key != "part"}
                for line in po["lines"]
            ],
        }
        for po in northwind["purchase_orders"]
    ]
    second = SupplierPortalCase(tmp_path / "wizard", pool, config=supplier_config(purchase_orders=orders))
    try:
        for case in (first, second):
            for number in VALID:
                receipt = case.submit(invoices[number])
                assert receipt.portal_invoice_id and not receipt.already_submitted, number
            with pytest.raises(PermanentPortalError) as refused:
                case.submit(invoices["INV-26005"])  # PO-600199: the portal does not know it
            assert "PO-600199" in (refused.value.portal_text or "")
            for number in VALID[:1]:  # once: the same number again is a duplicate, never typed again
                with pytest.raises(PermanentPortalError) as again:
                    case.submit(invoices[number])
                assert again.value.duplicate
        assert sorted(i.number for i in first.sandbox.received()) == list(VALID)
        assert sorted(i.number for i in second.sandbox.received()) == list(VALID)
        by_number = {i.number: i for i in second.sandbox.received()}
        assert [line.uom for line in by_number["INV-26001"].lines] == ["EACH", "HR"]
        assert by_number["INV-26003"].tax == invoices["INV-26003"].tax_total
        assert date.fromisoformat(by_number["INV-26002"].invoice_date) == invoices["INV-26002"].invoice_date
    finally:
        first.close()
        second.close()
