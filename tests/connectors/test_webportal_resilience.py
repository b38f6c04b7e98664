"""What goes wrong with a browser and a web portal, in real Chromium: a changed page, a portal that
is down or drops the answer, a session that never finishes, a crashed browser, callers on many
threads, and a machine without Chromium."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connectors.base import Receipt
from connectors.sandbox.server import Reply, Request
from connectors.webportal import PortalLayoutChangedError
from connectors.webportal.browser import BrowserPool, Browsing, LaunchOptions, TaskTimeout
from hub.errors import InDoubtError, ProfileUnavailableError, TransientPortalError
from hub.model import RejectionCategory
from tests.connectors.contract.webportal_harness import RECIPE, WebPortalCase, assert_no_secrets, pdf_invoice


@pytest.fixture
def portal(tmp_path: Path, pool: BrowserPool) -> Iterator[WebPortalCase]:
    case = WebPortalCase(tmp_path, pool)
    yield case
    case.close()


def _changed_recipe(tmp_path: Path, old: str, new: str) -> Path:
    text = RECIPE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "changed-recipe.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# --- a page that no longer matches its recipe ------------------------------------------------------------
def test_a_changed_page_fails_the_one_invoice_naming_the_step_and_the_next_ones_wait_for_the_recipe(
    tmp_path: Path, pool: BrowserPool
) -> None:
    recipe = _changed_recipe(
        tmp_path, "    po_number: PO number\n", "    po_number: Purchase order reference\n"
    )
    case = WebPortalCase(tmp_path, pool, recipe=recipe, step_timeout_seconds=1.5)
    try:
        started = time.monotonic()
        with pytest.raises(PortalLayoutChangedError) as raised:
            case.submit(pdf_invoice("INV-1"))
        assert time.monotonic() - started < 30  # one bounded wait for the element, no retries
        error = raised.value
        assert error.step == "fill the header: po_number" and error.category is RejectionCategory.CONFIG
        # The hub holds the profile for it (kind recipe) instead of rejecting the invoice.
        assert isinstance(error, ProfileUnavailableError) and error.kind == "recipe"
        assert str(error).startswith("portal layout changed at step 'fill the header: po_number': no label ")
        assert "'Purchase order reference'" in str(error) and "/acme/invoices/new" in str(error)
        assert not error.duplicate and case.sandbox.posts == {} and not case.sandbox.received()
        [shot] = case.evidence_files(".png")
        assert "failed-fill_the_header_po_number" in shot.name and str(shot) in (error.response_body or "")
        assert_no_secrets(case.evidence_files())

        # The next invoice does not meet the same page again: it waits, untouched, for the recipe.
        pages = sum(case.server.requests.values())
        with pytest.raises(TransientPortalError, match="waiting until the recipe changes") as waiting:
            case.submit(pdf_invoice("INV-2"))
        assert (
            "fill the header: po_number" in str(waiting.value) and sum(case.server.requests.values()) == pages
        )

        recipe.write_text(RECIPE.read_text(encoding="utf-8"), encoding="utf-8")  # AR operations fix it
        case.submit(pdf_invoice("INV-2"))
        assert [i.number for i in case.sandbox.received()] == ["INV-2"]
    finally:
        case.close()


def test_a_page_that_moved_is_a_layout_change_at_its_step(tmp_path: Path, pool: BrowserPool) -> None:
    recipe = _changed_recipe(tmp_path, "  page: /invoices/new", "  page: /invoices/create")
    case = WebPortalCase(tmp_path, pool, recipe=recipe)
    try:
        with pytest.raises(
            PortalLayoutChangedError, match="'open the invoice form': the portal answered HTTP 404"
        ):
            case.submit(pdf_invoice("INV-1"))
    finally:
        case.close()


def test_a_confirmation_that_cannot_be_read_leaves_the_invoice_in_doubt_and_lookup_settles_it(
    tmp_path: Path, pool: BrowserPool
) -> None:
    recipe = _changed_recipe(
        tmp_path, "    pattern: 'Reference:\\s*(\\S+)'", "    pattern: 'Portal id:\\s*(\\S+)'"
    )
    case = WebPortalCase(tmp_path, pool, recipe=recipe)
    try:
        with pytest.raises(InDoubtError, match="does not show the invoice id"):
            case.submit(pdf_invoice("INV-1"))
        [received] = case.sandbox.received()
        record = case.connector.lookup(case.profile, "INV-1")
        assert record is not None and record.portal_invoice_id == received.reference
    finally:
        case.close()


# --- the portal misbehaving around the submit click -------------------------------------------------------
def test_an_unreachable_portal_is_transient_before_anything_is_typed(portal: WebPortalCase) -> None:
    document = portal.render(pdf_invoice("INV-1"))
    portal.server.stop()
    with pytest.raises(TransientPortalError, match="could not be reached"):
        portal.connector.submit(document, portal.profile)


def test_a_gateway_error_to_the_submission_is_transient_and_nothing_was_created(
    portal: WebPortalCase,
) -> None:
    portal.faults.queue("unavailable_503", path_prefix="/acme/invoices/submit")
    with pytest.raises(TransientPortalError, match="HTTP 503"):
        portal.submit(pdf_invoice("INV-1"))
    assert not portal.sandbox.received()
    portal.submit(pdf_invoice("INV-1"))  # and later it goes through
    assert len(portal.sandbox.received()) == 1


def test_a_connection_dropped_after_the_portal_created_the_invoice_is_in_doubt(portal: WebPortalCase) -> None:
    # Two drops: whether or not Chromium resends the form once on its own, no answer ever arrives.
    portal.faults.queue("drop_after", count=2, path_prefix="/acme/invoices/submit")
    with pytest.raises(InDoubtError, match="connection to the portal broke"):
        portal.submit(pdf_invoice("INV-1"))
    [received] = portal.sandbox.received()
    record = portal.connector.lookup(portal.profile, "INV-1")
    assert record is not None and record.portal_invoice_id == received.reference


def test_one_dropped_answer_never_makes_two_invoices_nor_a_rejection(portal: WebPortalCase) -> None:
    portal.faults.queue("drop_after", path_prefix="/acme/invoices/submit")
    try:
        receipt = portal.submit(pdf_invoice("INV-1"))
    except InDoubtError:
        pass  # Chromium did not resend: in doubt, for reconciliation
    else:
        assert receipt.already_submitted  # Chromium resent and the portal said "already": ours
    assert len(portal.sandbox.received()) == 1


def test_an_answer_slower_than_the_navigation_bound_is_in_doubt(tmp_path: Path, pool: BrowserPool) -> None:
    case = WebPortalCase(tmp_path, pool, navigation_timeout_seconds=2)
    try:
        case.faults.queue("slow_after", path_prefix="/acme/invoices/submit", delay=5)
        started = time.monotonic()
        with pytest.raises(InDoubtError, match="did not answer within 2 s"):
            case.submit(pdf_invoice("INV-1"))
        assert time.monotonic() - started < 30 and len(case.sandbox.received()) == 1
    finally:
        case.close()


# --- the browser itself -----------------------------------------------------------------------------------
def _chromium_browsers_of_this_process() -> list[int]:
    """Main Chromium processes started (through Playwright's driver) by this test process."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            commands[int(entry.name)] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
            parents[int(entry.name)] = int(stat[1])
        except (OSError, IndexError, ValueError):
            continue

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [
        pid
        for pid, command in commands.items()
        if "chromium" in command
        and "--type=" not in command
        and "--remote-debugging-pipe" in command
        and descends(pid)
    ]


def test_a_crashed_browser_is_replaced_and_the_next_invoice_goes_through(
    portal: WebPortalCase, pool: BrowserPool
) -> None:
    portal.submit(pdf_invoice("INV-1"))
    worker = pool.worker("acme-webportal", LaunchOptions())
    launches = worker.launches
    browsers = _chromium_browsers_of_this_process()
    assert browsers
    for pid in browsers:
        os.kill(pid, signal.SIGKILL)
    receipt = portal.submit(pdf_invoice("INV-2"))
    assert isinstance(receipt, Receipt) and [i.number for i in portal.sandbox.received()] == [
        "INV-1",
        "INV-2",
    ]
    assert worker.launches == launches + 1
    for pid in _chromium_browsers_of_this_process():  # and once more, under a poll this time
        os.kill(pid, signal.SIGKILL)
    polled = portal.connector.poll(portal.profile, None)
    assert {u.invoice_number for u in polled.updates} == {"INV-1", "INV-2"}
    assert worker.launches == launches + 2


@pytest.mark.parametrize("action", ["add_line", "submit"])
def test_a_browser_killed_in_the_middle_of_an_invoice_never_sends_it_twice(
    portal: WebPortalCase, pool: BrowserPool, action: str
) -> None:
    portal.submit(pdf_invoice("INV-1"))  # the browser is up and signed in
    worker = pool.worker("acme-webportal", LaunchOptions())
    launches = worker.launches
    killed: list[int] = []
    handler = portal.server.handler

    def killing(request: Request) -> Reply:
        before = portal.sandbox.posts[action]
        reply = handler(request)
        if not killed and portal.sandbox.posts[action] > before:
            # The portal has processed the POST; Chromium dies before the answer reaches it.
            killed.extend(_chromium_browsers_of_this_process())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
        return reply

    portal.server.handler = killing
    if action == "add_line":
        # Before the submit click nothing was sent: the form is keyed again in a new browser.
        receipt = portal.submit(pdf_invoice("INV-2"))
        assert receipt.portal_invoice_id == portal.sandbox.invoice("INV-2").reference  # type: ignore[union-attr]
    else:
        # After it the portal may have the invoice: in doubt, and the list (in a new browser) says so.
        with pytest.raises(InDoubtError, match="after the invoice was submitted"):
            portal.submit(pdf_invoice("INV-2"))
        record = portal.connector.lookup(portal.profile, "INV-2")
        assert record is not None and record.portal_invoice_id == portal.sandbox.invoice("INV-2").reference  # type: ignore[union-attr]
    assert killed and worker.launches == launches + 1
    assert [i.number for i in portal.sandbox.received()] == ["INV-1", "INV-2"]


def test_callers_on_many_threads_share_one_browser_thread(portal: WebPortalCase, pool: BrowserPool) -> None:
    numbers = [f"INV-{n}" for n in range(1, 5)]
    with ThreadPoolExecutor(max_workers=4) as threads:
        receipts = list(threads.map(lambda number: portal.submit(pdf_invoice(number)), numbers))
    assert sorted(i.number for i in portal.sandbox.received()) == numbers
    assert len({r.portal_invoice_id for r in receipts}) == 4 and portal.sandbox.logins["acme"] == 1
    worker = pool.worker("acme-webportal", LaunchOptions())
    assert (
        worker.run(lambda browsing: threading.current_thread().name, timeout=30) == "browser:acme-webportal"
    )


def test_a_task_past_its_bound_is_abandoned_and_does_not_submit(
    portal: WebPortalCase, pool: BrowserPool
) -> None:
    worker = pool.worker("acme-webportal", LaunchOptions())
    seen: list[bool] = []

    def slow(browsing: Browsing) -> None:
        time.sleep(1.5)
        seen.append(browsing.cancelled.is_set())

    with pytest.raises(TaskTimeout):
        worker.run(slow, timeout=0.2)
    assert worker.run(lambda browsing: "next", timeout=30) == "next"  # queued behind it, then run
    assert seen == [True]
    quick = WebPortalCase(portal.evidence.parent / "bounded", pool, task_timeout_seconds=0.5)
    try:
        with pytest.raises(InDoubtError, match="did not finish within"):
            quick.submit(pdf_invoice("INV-1"))
        # The task saw that nobody waits any more and stopped before its submit click.
        pool.worker("acme-webportal", LaunchOptions()).run(lambda browsing: None, timeout=60)
        assert quick.sandbox.posts["submit"] == 0 and not quick.sandbox.received()
    finally:
        quick.close()


def test_an_idle_browser_is_closed_and_started_again_when_needed(chromium: str) -> None:
    browsers = BrowserPool(idle_seconds=0.3)
    worker = browsers.worker("idle", LaunchOptions(executable=chromium))
    try:
        assert worker.run(lambda browsing: browsing.page.evaluate("1 + 1"), timeout=60) == 2
        deadline = time.monotonic() + 20
        while worker._thread is not None and worker._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker._thread is not None and not worker._thread.is_alive()
        assert worker.run(lambda browsing: browsing.page.evaluate("2 + 2"), timeout=60) == 4
        assert worker.launches == 2
    finally:
        browsers.close()


def test_without_chromium_the_invoice_waits_with_a_clear_reason(tmp_path: Path) -> None:
    browsers = BrowserPool()
    case = WebPortalCase(tmp_path, browsers, browser={"executable": str(tmp_path / "no-chromium")})
    try:
        with pytest.raises(TransientPortalError) as raised:
            case.submit(pdf_invoice("INV-1"))
        assert "Chromium is not installed at" in str(raised.value) and "apt-get install -y chromium" in str(
            raised.value
        )
        assert raised.value.retry_after == 900
    finally:
        case.close()
        browsers.close()
