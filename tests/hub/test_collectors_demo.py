"""The collectors' day on a settled demo workspace: the worklist (groups, totals, filters, CSV), the
period report (numbers checked against the store, the page looked at in headless Chromium), and
resubmit / cancel from the command line. The mutating tests come last in this module."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from cli import app
from connectors.webportal.browser import LAUNCH_FLAGS
from hub.demo import DemoWorkspace, prepare, run_until_settled
from hub.reports import build_report, write_report
from hub.store.tables import AttemptRow, EventRow, InvoiceRow

runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorkspace]:
    ws = prepare(tmp_path_factory.mktemp("collectors"))
    run_until_settled(ws)
    yield ws
    ws.close()


def invoke(ws: DemoWorkspace, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(ws.config_path), *args])
    return result.exit_code, result.stdout, result.stderr


def period() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=30), now + timedelta(days=60)  # the portals' clocks run ahead


# --- worklist ------------------------------------------------------------------------------------------------
def test_worklist_groups_by_customer_and_category_with_exact_totals(workspace: DemoWorkspace) -> None:
    code, output, _ = invoke(workspace, "rejections", "--json", "--grouped")
    assert code == 1
    groups = json.loads(output)
    keys = [(g["customer_id"], g["category"]) for g in groups]
    assert keys == sorted(set(keys), key=keys.index)  # each customer/category once
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)  # customers in order
    dates = next(g for g in groups if (g["customer_id"], g["category"]) == ("C-3001", "dates"))
    assert [i["invoice_number"] for i in dates["invoices"]] == ["INV-24207", "INV-24208"]  # oldest first
    assert dates["totals"] == {"USD": "1239.50"} and dates["label"] == "dates"
    for group in groups:
        assert group["totals"] == {
            "USD": str(sum((Decimal(i["amount"]) for i in group["invoices"]), Decimal(0)))
        }
        since = [i["since"] for i in group["invoices"]]
        assert since == sorted(since)
    disputed = next(g for g in groups if (g["customer_id"], g["category"]) == ("C-2001", "disputed"))
    [dispute] = disputed["invoices"]
    assert dispute["invoice_number"] == "INV-24113" and dispute["reason_category"] == "price_quantity"
    assert (
        dispute["portal_words"] == "INCORRECT-QUANTITY - Line 1: quantity 600 is more than the 500 ordered."
    )
    rejected = next(g for g in groups if (g["customer_id"], g["category"]) == ("C-1002", "po"))
    [row] = [i for i in rejected["invoices"] if i["invoice_number"] == "INV-24016"]
    assert row["portal_code"] == "500" and row["portal_words"].startswith("Server could not create invoice.")
    code, output, _ = invoke(workspace, "rejections")
    assert "C-3001 - dates: 2 invoice(s), 1,239.50 USD" in output


def test_worklist_filters_and_csv(workspace: DemoWorkspace) -> None:
    _, output, _ = invoke(workspace, "rejections", "--json")
    everything = json.loads(output)
    code, output, _ = invoke(
        workspace, "rejections", "--category", "dates", "--category", "duplicate", "--json"
    )
    assert code == 1 and {r["category"] for r in json.loads(output)} == {"dates", "duplicate"}
    code, output, _ = invoke(workspace, "rejections", "--min-amount", "1000", "--json")
    big = json.loads(output)
    assert big and all(abs(Decimal(r["amount"])) >= 1000 for r in big)
    assert len(big) == sum(1 for r in everything if abs(Decimal(r["amount"])) >= 1000) < len(everything)
    code, output, _ = invoke(workspace, "rejections", "--older-than", "3", "--json")
    assert code == 0 and json.loads(output) == []  # everything in the demo went wrong today
    code, _, error = invoke(workspace, "rejections", "--category", "nonsense")
    assert code == 2 and "unknown category nonsense" in error
    code, _, _ = invoke(workspace, "rejections", "--min-amount", "lots")
    assert code == 2
    code, output, _ = invoke(workspace, "rejections", "--csv")
    rows = list(csv.DictReader(io.StringIO(output)))
    assert code == 1 and len(rows) == len(everything)
    uom = next(r for r in rows if r["invoice_number"] == "INV-24114")
    assert uom["rules"] == "coupa-uom-code" and uom["category_label"] == "price or quantity mismatch"
    assert sum((Decimal(r["amount"]) for r in rows), Decimal(0)) == sum(
        (Decimal(r["amount"]) for r in everything), Decimal(0)
    )


# --- report --------------------------------------------------------------------------------------------------
def test_report_numbers_match_the_store(workspace: DemoWorkspace) -> None:
    since, until = period()
    report = build_report(workspace.hub, since, until)
    with workspace.hub.store.session() as session:
        invoices = {r.id: r for r in session.exec(select(InvoiceRow))}
        sent = {
            a.invoice_id
            for a in session.exec(select(AttemptRow).where(col(AttemptRow.profile_id) == "gcl-coupa"))
        }
        refused = {
            e.invoice_id
            for e in session.exec(
                select(EventRow).where(col(EventRow.to_state).in_(("REJECTED", "DISPUTED")))
            )
        }
        blocked = session.exec(
            select(EventRow).where(col(EventRow.to_state) == "BLOCKED", col(EventRow.from_state) != "BLOCKED")
        ).all()
    gcl = next(a for a in report.by_portal if a.key == "gcl-coupa")
    assert gcl.sent == len(sent) and gcl.refused == len(sent & refused) == 4
    assert gcl.first_pass == gcl.sent - gcl.refused - gcl.undecided and gcl.rate == pytest.approx(0.6)
    assert sum(c.preflight for c in report.categories) == len(blocked)
    assert (
        next(c for c in report.categories if c.category == "disputed").portal == 4
    )  # 3 still open + 1 corrected
    open_amount = sum(
        (r.total for r in invoices.values() if r.state not in ("PAID", "CANCELLED")), Decimal(0)
    )
    assert report.outstanding_totals() == {"USD": open_amount}
    medians = {c.milestone: c for c in report.cycle_times}
    assert 0 < medians["submission"].median_days <= medians["payment"].median_days  # type: ignore[operator]


def test_report_cli_writes_html_and_csv(workspace: DemoWorkspace, tmp_path: Path) -> None:
    since, until = period()
    code, output, _ = invoke(
        workspace,
        "report",
        "--since",
        f"{since:%Y-%m-%d}",
        "--until",
        f"{until:%Y-%m-%d}",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0
    data = json.loads(output)
    assert Path(data["html"]).read_text().startswith("<!DOCTYPE html>")
    with (tmp_path / "acceptance.csv").open() as handle:
        acceptance = list(csv.DictReader(handle))
    assert {r["key"] for r in acceptance if r["dimension"] == "portal"} >= {
        "acme-coupa",
        "gcl-coupa",
        "trc-ariba",
    }
    with (tmp_path / "outstanding.csv").open() as handle:
        outstanding = sum((Decimal(r["amount"]) for r in csv.DictReader(handle)), Decimal(0))
    assert outstanding == sum((Decimal(o["amount"]) for o in data["outstanding"]), Decimal(0))
    code, _, error = invoke(workspace, "report", "--since", "2026-12-01", "--until", "2026-11-01")
    assert code == 2 and "must be before" in error


def test_report_page_in_chromium(workspace: DemoWorkspace, tmp_path: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    since, until = period()
    report = build_report(workspace.hub, since, until)
    written = write_report(report, tmp_path)
    acme = next(a for a in report.by_portal if a.key == "acme-coupa")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=list(LAUNCH_FLAGS))
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(written.html.as_uri())
            headings = page.locator("h2").all_inner_texts()
            acceptance_text = page.locator("table").first.inner_text()
            bars = page.locator("svg.chart rect title").count()
            shot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            page.goto("about:blank")
            blank = page.screenshot(full_page=True)
        finally:
            browser.close()
    assert headings == [
        "First-pass acceptance",
        "Problems by category",
        "Caught before sending",
        "Time to submission, approval and payment",
        "Amount outstanding",
    ]
    assert f"{acme.rate:.0%}" in acceptance_text and "acme-coupa" in acceptance_text
    assert bars >= len(report.by_portal) + len(report.categories)
    # A page of charts and tables, not an empty one: far more to compress than a blank page.
    assert len(shot) > 20 * len(blank) and len(shot) > 50_000


# --- cancel and resubmit from the command line (these change the workspace: last) -------------------------
def test_cancel_is_refused_where_the_portal_takes_none(workspace: DemoWorkspace) -> None:
    code, _, error = invoke(workspace, "cancel", "INV-30005", "--yes")
    assert code == 2 and "leog-openinvoice (openinvoice) takes no cancellation from the hub" in error


def test_resubmit_and_cancel_cli(workspace: DemoWorkspace) -> None:
    code, _, error = invoke(workspace, "resubmit", "INV-24016", "--yes")
    assert code == 1 and "unchanged in the AR system" in error and "PO-100199" in error
    ar = sqlite3.connect(workspace.ar_path)
    with ar:
        ar.execute("UPDATE ar_invoices SET po_number = 'PO-100101' WHERE invoice_number = 'INV-24016'")
    ar.close()
    code, output, _ = invoke(workspace, "resubmit", "INV-24016", "--json", "--yes")
    result = json.loads(output)
    assert code == 0 and result["state"] == "SUBMITTED" and result["ar"] == "corrected"
    assert result["corrects"]["category"] == "po"
    code, output, _ = invoke(workspace, "show", "INV-24016")
    assert code == 0 and "correction: send #" in output and "missing/invalid PO" in output
    code, output, _ = invoke(workspace, "cancel", "INV-24016", "--reason", "sent to the wrong buyer", "--yes")
    assert code == 0 and "cancelled" in output
    shown = json.loads(invoke(workspace, "show", "INV-24016", "--json")[1])
    assert shown["invoice"]["state"] == "CANCELLED" and shown["attempts"][-1]["outcome"] == "cancelled"
    code, _, error = invoke(workspace, "resubmit", "INV-24016", "--yes")
    assert code == 2 and "cancelled at the portal" in error
