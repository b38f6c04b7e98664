"""The pages as a collector uses them, in Debian's Chromium (Playwright): log in, filter the worklist,
open an invoice, resubmit the one fixed in AR and see the daemon follow it, and be refused an action
without the role. Writes worklist.png and invoice.png to build/screenshots/ (PORTALHUB_SCREENSHOTS_DIR=docs/screenshots
refreshes the ones README and docs/web.md show)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.webportal.browser import LAUNCH_FLAGS
from hub.daemon import Daemon
from tests.web.conftest import PASSWORD, SCREENSHOTS, Served


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=list(LAUNCH_FLAGS)
        )
        yield launched
        launched.close()


def _log_in(page: Any, served: Served, who: str) -> None:
    page.goto(served.url + "/worklist")
    assert "/login" in page.url  # sent to the login page first
    page.get_by_label("User name").fill(who)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/worklist")


def test_a_collector_filters_opens_and_resubmits_a_fixed_invoice(browser: Any, served: Served) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    _log_in(page, served, "cole")
    assert page.get_by_role("heading", name="Worklist").is_visible()
    assert page.locator("section.group").count() >= 3
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "worklist.png"), full_page=True)

    # Filter by reason, with the keyboard only.
    page.get_by_label("Reason").select_option("price_quantity")
    page.get_by_label("Amount at least").focus()
    page.keyboard.type("100")
    page.keyboard.press("Enter")
    page.wait_for_url("**/worklist?*category=price_quantity*")
    rows = page.locator("section.group tbody tr")
    assert rows.count() >= 1
    assert all("price or quantity" in h for h in page.locator("section.group h2").all_inner_texts())
    assert "INV-24017" in page.content()

    page.get_by_role("link", name="INV-24017").click()
    page.wait_for_url("**/invoices/INV-24017")
    assert page.get_by_role("heading", name="Invoice INV-24017").is_visible()
    assert "REJECTED" in page.locator("dl.facts").first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "invoice.png"), full_page=True)

    page.get_by_role("button", name="Resubmit as correction").click()
    page.wait_for_url("**/invoices/INV-24017")
    flash = page.get_by_role("status").inner_text()
    assert "corrected" in flash and "sent as payloadID" in flash, flash
    # The daemon takes it from there: the portal's status comes back at its next cycle.
    daemon = Daemon(served.workspace.hub)
    served.workspace.portal("coupa").advance(24)
    daemon.run_once()
    page.reload()
    state = page.locator("dl.facts").first.inner_text()
    assert any(s in state for s in ("SUBMITTED", "PENDING_APPROVAL", "APPROVED", "PAID")), state
    timeline = page.locator("table").filter(has_text="When (UTC)").inner_text()
    assert "web:cole" in timeline and "resubmit requested by web:cole" in timeline
    context.close()


def test_a_viewer_reads_but_is_refused_an_action(browser: Any, served: Served) -> None:
    context = browser.new_context()
    page = context.new_page()
    _log_in(page, served, "vic")
    page.goto(served.url + "/invoices/INV-24018")
    assert page.get_by_role("button", name="Resubmit as correction").count() == 0
    assert "lets you read this invoice, not act on it" in page.content()
    token = page.locator("input[name=csrf]").first.get_attribute("value")  # the log-out form's
    page.goto(served.url + "/invoices/INV-24018/cancel")
    assert page.get_by_role("heading", name="Forbidden").is_visible()
    # Even a hand-made form post (the session's own CSRF token) is refused.
    answer = page.request.post(
        served.url + "/invoices/INV-24018/actions/resubmit", form={"csrf": token or ""}, max_redirects=0
    )
    assert answer.status == 403 and "may not act" in answer.text()
    context.close()
