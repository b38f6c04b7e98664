"""The browser connector inside the hub: the daemon's cycle ingests, pre-flights, keys invoices into
the sandbox web portal in real Chromium, records the portal's answers, reconciles an unanswered send
with the portal's list, polls statuses and reasons back and feeds them to the AR system."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan, Reply, Request
from connectors.sandbox.webportal import WebPortalSandbox
from connectors.webportal.browser import BrowserPool
from hub import profile_health
from hub.clock import ManualClock
from hub.config import HubConfig
from hub.daemon import Daemon
from hub.runtime import Hub, StoreLeases, build_hub
from hub.services import status_summary
from hub.store.tables import AttemptRow, InvoiceRow, OutboxRow
from tests.connectors.contract.webportal_harness import (
    PASSWORD,
    PROFILE_ID,
    RECIPE,
    TOTP_SEED,
    USERNAME,
    assert_no_secrets,
    pdf_invoice,
    sandbox_config,
)
from tests.factories import SUPPLIER, T0, ListAr


class World:
    """A sandbox web portal and a hub (store, rules folder, secrets, AR, daemon) in front of it. With
    `beside`, a second daemon: its own rules folder, worker id and browser, the other's portal and store."""

    def __init__(
        self,
        root: Path,
        pool: BrowserPool,
        *,
        beside: World | None = None,
        worker_id: str = "test-worker",
        **connection: object,
    ):
        if beside is None:
            self.clock = SandboxClock(start=T0)
            self.faults = FaultPlan()
            self.sandbox = WebPortalSandbox(sandbox_config(), self.clock)
            self.server = self.sandbox.serve(faults=self.faults)
            store = root / "hub.db"
        else:
            self.clock, self.faults, self.sandbox, self.server = (
                beside.clock,
                beside.faults,
                beside.sandbox,
                beside.server,
            )
            store = beside.root / "hub.db"
        rules = root / "rules.d"
        rules.mkdir(parents=True)
        profile = {
            "id": PROFILE_ID,
            "buyer": "ACME Manufacturing",
            "connector": "webportal",
            "match": {"customer_id": ["C-1"]},
            "connection": {
                "base_url": f"{self.server.url}/acme",
                "recipe": str(RECIPE),
                "username": USERNAME,
                "password": "secret:portal_password",
                "totp_seed": "secret:portal_totp",
                "step_timeout_seconds": 6,
                "navigation_timeout_seconds": 10,
                **connection,
            },
            "rules": [{"id": "acme-po-required", "field": "po_number", "required": True}],
        }
        (rules / f"{PROFILE_ID}.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        (root / "secrets.yaml").write_text(
            yaml.safe_dump({"portal_password": PASSWORD, "portal_totp": TOTP_SEED}), encoding="utf-8"
        )
        config = HubConfig.model_validate(
            {
                "store_url": f"sqlite:///{store}",
                "rules_dir": str(rules),
                "secrets_file": str(root / "secrets.yaml"),
                "supplier": SUPPLIER.model_dump(),
                "ar": {"kind": "sql", "url": "sqlite://"},
                "evidence_dir": str(root / "evidence"),
                "daemon": {"reconcile_after_seconds": 0, "backoff_initial_seconds": 10, "lease_seconds": 300},
            }
        )
        self.ar = ListAr()
        self.hub_clock = ManualClock(T0)
        self.hub: Hub = build_hub(config, clock=self.hub_clock, ar=self.ar, worker_id=worker_id)
        self.hub.browser_pool = pool
        self.daemon = Daemon(self.hub)
        self.root = root
        self.owns_portal = beside is None

    def rows(self) -> dict[str, InvoiceRow]:
        with self.hub.store.session() as session:
            return {row.invoice_number: row for row in session.exec(select(InvoiceRow))}

    def attempts(self) -> list[AttemptRow]:
        with self.hub.store.session() as session:
            return list(session.exec(select(AttemptRow)))

    def advance(self, hours: float) -> None:
        self.clock.advance(hours=hours)
        self.hub_clock.advance(timedelta(hours=hours))

    def close(self) -> None:
        self.hub.close()
        if self.owns_portal:
            self.server.stop()


@pytest.fixture
def world(tmp_path: Path, pool: BrowserPool) -> Iterator[World]:
    built = World(tmp_path, pool)
    yield built
    built.close()


def test_the_daemons_cycle_sends_records_polls_and_feeds_back(world: World) -> None:
    world.ar.add(pdf_invoice("INV-1"))
    world.ar.add(pdf_invoice("INV-2", po="PO-999999"))
    world.ar.add(pdf_invoice("INV-3", po=None))
    world.daemon.ingest()
    world.daemon.submit(PROFILE_ID)
    rows = world.rows()
    assert rows["INV-1"].state == "SUBMITTED"
    assert rows["INV-1"].portal_invoice_id == world.sandbox.invoice("INV-1").reference  # type: ignore[union-attr]
    assert rows["INV-2"].state == "REJECTED" and rows["INV-2"].last_category == "po"
    assert "Purchase order PO-999999 does not exist." in (rows["INV-2"].last_reason or "")
    assert rows["INV-3"].state == "BLOCKED"  # the rules file, before any browser
    assert [i.number for i in world.sandbox.received()] == ["INV-1"]
    assert world.sandbox.received()[0].pdf == pdf_invoice("INV-1").attachments[0].content

    world.advance(hours=72)
    world.daemon.run_once()
    assert world.rows()["INV-1"].state == "PAID"
    states = [(e["invoice_number"], e["state"]) for e in world.ar.events]
    assert ("INV-1", "PAID") in states and ("INV-2", "REJECTED") in states

    stored = " ".join((a.request_document or "") + (a.response_document or "") for a in world.attempts())
    assert "attachments omitted" in stored and "%PDF" not in stored
    assert PASSWORD not in stored and TOTP_SEED not in stored
    assert "evidence: " in stored
    assert_no_secrets([world.root / "hub.db", *world.root.joinpath("evidence").rglob("*.*")])


def test_an_unanswered_send_is_reconciled_with_the_portals_list_not_sent_again(world: World) -> None:
    world.faults.queue("drop_after", count=2, path_prefix="/acme/invoices/submit")
    world.ar.add(pdf_invoice("INV-1"))
    world.daemon.ingest()
    world.daemon.submit(PROFILE_ID)
    assert world.rows()["INV-1"].state == "IN_DOUBT"
    world.daemon.submit(PROFILE_ID)  # reconciles first: lookup before any resend
    row = world.rows()["INV-1"]
    assert row.state == "SUBMITTED" and "nothing resent" in (row.last_reason or "")
    assert row.portal_invoice_id == world.sandbox.received()[0].reference
    assert len(world.sandbox.received()) == 1
    assert [a.outcome for a in world.attempts()] == ["found"]


# --- several daemons on one store ---------------------------------------------------------------------
def test_no_browser_task_starts_while_another_daemons_browser_works_in_the_portal(
    tmp_path: Path, pool: BrowserPool
) -> None:
    first = World(tmp_path / "a", pool, lease_wait_seconds=1)
    second = World(tmp_path / "b", pool, beside=first, worker_id="other-daemon")
    try:
        # The other daemon's browser is in the portal: its task holds the profile's browser lease.
        other = StoreLeases(second.hub.store, "other-daemon", second.hub_clock)
        assert other.acquire(f"browser:{PROFILE_ID}", 300)
        first.ar.add(pdf_invoice("INV-1"))
        first.daemon.ingest()
        before = sum(first.server.requests.values())
        first.daemon.submit(PROFILE_ID)
        row = first.rows()["INV-1"]
        assert row.state == "READY" and "another hub process has been using the browser" in (
            row.last_reason or ""
        )
        assert sum(first.server.requests.values()) == before  # nothing was typed, nothing was asked
        polled = first.daemon.poll(PROFILE_ID)
        assert polled.error and "another hub process" in polled.error

        other.release(f"browser:{PROFILE_ID}")
        first.advance(hours=1)  # past the backoff
        first.daemon.submit(PROFILE_ID)
        assert first.rows()["INV-1"].state == "SUBMITTED"
        assert other.acquire(f"browser:{PROFILE_ID}", 300)  # released after the task
    finally:
        second.close()
        first.close()


def test_two_daemons_never_work_in_the_portal_at_the_same_time(tmp_path: Path, pool: BrowserPool) -> None:
    # Two processes, two Chromiums; the user agent tells the portal whose browser each request is from.
    own = BrowserPool()
    first = World(tmp_path / "a", pool, browser={"extra_args": ["--user-agent=daemon-a"]})
    second = World(
        tmp_path / "b",
        own,
        beside=first,
        worker_id="other-daemon",
        browser={"extra_args": ["--user-agent=daemon-b"]},
    )
    seen: list[str] = []
    handler = first.server.handler

    def recording(request: Request) -> Reply:
        seen.append(request.headers.get("user-agent", "?"))
        return handler(request)

    first.server.handler = recording
    try:
        first.ar.add(pdf_invoice("INV-1"))
        first.daemon.ingest()
        first.daemon.submit(PROFILE_ID)  # something for the polls to read
        assert second.daemon.poll(PROFILE_ID).error is None  # both browsers started and signed in
        second.ar.add(pdf_invoice("INV-2"))
        second.ar.add(pdf_invoice("INV-3"))
        second.daemon.ingest()
        seen.clear()
        first.server.latency = 0.1  # every page takes a while: tasks that could overlap would
        with ThreadPoolExecutor(max_workers=2) as threads:
            polling = threads.submit(first.daemon.poll, PROFILE_ID)
            sending = threads.submit(second.daemon.submit, PROFILE_ID)
            polled, sent = polling.result(timeout=300), sending.result(timeout=300)
        assert polled.error is None and sent.sent == 2
        assert [i.number for i in first.sandbox.received()] == ["INV-1", "INV-2", "INV-3"]
        runs = [agent for n, agent in enumerate(seen) if n == 0 or seen[n - 1] != agent]
        # One poll task by one browser, two submissions by the other: whole tasks, one after another.
        assert set(runs) == {"daemon-a", "daemon-b"} and runs.count("daemon-a") == 1 and len(runs) <= 3, runs
    finally:
        second.close()
        first.close()
        own.close()


def test_a_changed_page_holds_the_profile_without_rejecting_or_writing_to_ar(
    tmp_path: Path, pool: BrowserPool
) -> None:
    recipe = tmp_path / "changed-recipe.yaml"
    text = RECIPE.read_text(encoding="utf-8")
    recipe.write_text(
        text.replace("    - fill: PO number\n", "    - fill: Purchase order reference\n"),
        encoding="utf-8",
    )
    # Long enough for the sign-in page on a busy machine; the changed field costs this wait once.
    world = World(tmp_path / "hub", pool, recipe=str(recipe), step_timeout_seconds=5)
    try:
        for number in ("INV-1", "INV-2", "INV-3"):
            world.ar.add(pdf_invoice(number))
        world.daemon.ingest()
        report = world.daemon.submit(PROFILE_ID)
        assert report.sent == 0 and report.outcomes == {"held": 1}  # nothing reached the portal
        rows = world.rows()
        # A recipe gap is never a rejection: every invoice stays READY, nothing is written to AR.
        assert {r.state for r in rows.values()} == {"READY"}
        assert "recipe gap, nothing was submitted" in (rows["INV-1"].last_reason or "")
        assert world.sandbox.posts == {}
        with world.hub.store.session() as session:
            health = profile_health.health_of(session, PROFILE_ID)
            outbox = [json.loads(o.payload)["state"] for o in session.exec(select(OutboxRow))]
        assert "REJECTED" not in outbox
        assert health.state == "held" and health.kind == "recipe"
        assert "Purchase order reference" in (health.reason or "")
        assert [(a.portal_invoice_number, a.outcome) for a in world.attempts()] == [("INV-1", "not_sent")]
        pages = sum(world.server.requests.values())
        for _ in range(4):  # cycles an hour apart: the held profile does not touch the portal at all
            world.advance(hours=1)
            world.daemon.submit(PROFILE_ID)
            world.daemon.poll(PROFILE_ID)
        assert sum(world.server.requests.values()) == pages and len(world.attempts()) == 1
        assert "held (recipe)" in status_summary(world.hub)["profile_health"][PROFILE_ID]["summary"]

        recipe.write_text(text, encoding="utf-8")  # AR operations update the recipe: the hold ends
        world.advance(hours=24)
        world.daemon.submit(PROFILE_ID)
        rows = world.rows()
        assert {r.state for r in rows.values()} == {"SUBMITTED"}
        with world.hub.store.session() as session:
            assert profile_health.health_of(session, PROFILE_ID).working
    finally:
        world.close()
