"""The browser connector inside the hub: the daemon's cycle ingests, pre-flights, keys invoices into
the sandbox web portal in real Chromium, records the portal's answers, reconciles an unanswered send
with the portal's list, polls statuses and reasons back and feeds them to the AR system."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan
from connectors.sandbox.webportal import WebPortalSandbox
from connectors.webportal.browser import BrowserPool
from hub.clock import ManualClock
from hub.config import HubConfig
from hub.daemon import Daemon
from hub.runtime import Hub, build_hub
from hub.store.tables import AttemptRow, InvoiceRow
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


@pytest.fixture(scope="module")
def pool(chromium: str) -> Iterator[BrowserPool]:
    browsers = BrowserPool()
    yield browsers
    browsers.close()


class World:
    def __init__(self, root: Path, pool: BrowserPool):
        self.clock = SandboxClock(start=T0)
        self.faults = FaultPlan()
        self.sandbox = WebPortalSandbox(sandbox_config(), self.clock)
        self.server = self.sandbox.serve(faults=self.faults)
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
            },
            "rules": [{"id": "acme-po-required", "field": "po_number", "required": True}],
        }
        (rules / f"{PROFILE_ID}.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        (root / "secrets.yaml").write_text(
            yaml.safe_dump({"portal_password": PASSWORD, "portal_totp": TOTP_SEED}), encoding="utf-8"
        )
        config = HubConfig.model_validate(
            {
                "store_url": f"sqlite:///{root / 'hub.db'}",
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
        self.hub: Hub = build_hub(config, clock=self.hub_clock, ar=self.ar, worker_id="test-worker")
        self.hub.extras["browser_pool"] = pool
        self.daemon = Daemon(self.hub)
        self.root = root

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
