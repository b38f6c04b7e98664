"""The demo workspace: AR database, secrets, rules, hub configuration and the sandbox portals."""

from __future__ import annotations

import secrets as token_generator
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import col, select

from hub.config import load_config as load_hub_config
from hub.daemon import Daemon
from hub.demo.portals import DEMO_PORTALS, DemoPortal
from hub.lifecycle import SETTLED
from hub.model import InvoiceState
from hub.refs import cxml_refs_dir, pidx_invoice_xsd
from hub.runtime import Hub, build_hub
from hub.store.tables import InvoiceRow, QuarantineRow

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DEMO_SUPPLIER: dict[str, Any] = {
    "name": "Bluebonnet Industrial Supply LLC",
    "party_id": "123456789",
    "tax_id": "74-1234567",
    "email": "ar@bluebonnet-supply.example",
    "address": {
        "street": ["1200 Industrial Blvd"],
        "city": "Houston",
        "state": "TX",
        "postal_code": "77002",
        "country": "US",
    },
    "remit_to": {
        "name": "Bluebonnet Industrial Supply LLC - Lockbox",
        "address": {
            "street": ["PO Box 4410"],
            "city": "Houston",
            "state": "TX",
            "postal_code": "77210",
            "country": "US",
        },
    },
}


def find_cxml_dtd() -> Path | None:
    """InvoiceDetail.dtd 1.2.037 from the shared references, when this machine has them."""
    folder = cxml_refs_dir()
    candidate = folder / "1.2.037" / "InvoiceDetail.dtd" if folder else None
    return candidate if candidate and candidate.exists() else None


@dataclass
class DemoWorkspace:
    root: Path
    secrets: dict[str, str]
    portals: list[DemoPortal]
    hub: Hub
    dtd: Path | None

    @property
    def config_path(self) -> Path:
        return self.root / "portalhub.yaml"

    @property
    def ar_path(self) -> Path:
        return self.root / "ar.db"

    def portal(self, name: str) -> DemoPortal:
        return next(p for p in self.portals if p.name == name)

    def close(self) -> None:
        self.hub.stopping.set()
        self.hub.close()
        for portal in self.portals:
            portal.stop()


def prepare(root: Path, families: Sequence[str] | None = None, *, faults: bool = True) -> DemoWorkspace:
    """Lay out a demo workspace in `root` and start its sandboxes (every family's, or those named); the
    caller closes it. `faults=False` leaves out the network faults the demo injects."""
    root.mkdir(parents=True, exist_ok=True)
    classes = [cls for cls in DEMO_PORTALS if families is None or cls.name in families]
    portals = [cls() for cls in classes]
    for portal in portals:
        portal.faults = faults
    secrets = {name: token_generator.token_urlsafe(18) for p in portals for name in p.secret_names}
    (root / "secrets.yaml").write_text(yaml.safe_dump(secrets), encoding="utf-8")
    (root / "secrets.yaml").chmod(0o600)
    ar = sqlite3.connect(root / "ar.db")
    ar.executescript((FIXTURES / "demo" / "ar_schema.sql").read_text(encoding="utf-8"))
    for portal in portals:
        ar.executescript((FIXTURES / "demo" / f"ar_data_{portal.name}.sql").read_text(encoding="utf-8"))
    ar.commit()
    ar.close()
    dtd = find_cxml_dtd()
    urls = {portal.placeholder: portal.start(secrets, root, dtd) for portal in portals}
    rules_dir = root / "rules.d"
    rules_dir.mkdir(exist_ok=True)
    for source in sorted((FIXTURES / "rules").glob("*.yaml")):
        text = source.read_text(encoding="utf-8")
        if any(cls.placeholder in text for cls in DEMO_PORTALS if cls not in classes):
            continue  # a buyer of a portal family this workspace does not run
        for placeholder, url in urls.items():
            text = text.replace(placeholder, url)
        (rules_dir / source.name).write_text(text, encoding="utf-8")
    config: dict[str, Any] = {
        "store_url": "sqlite:///portalhub.db",
        "rules_dir": "rules.d",
        "secrets_file": "secrets.yaml",
        "supplier": DEMO_SUPPLIER,
        # ar.db's triggers keep updated_at: each ingest reads only what changed.
        "ar": {"kind": "sql", "url": "sqlite:///ar.db", "tables": {"changed_column": "updated_at"}},
        # Short timings: the demo compresses days of portal time into seconds.
        "daemon": {
            "backoff_initial_seconds": 0.2,
            "backoff_max_seconds": 2,
            "reconcile_after_seconds": 0,
            "lease_seconds": 60,
        },
    }
    if dtd is not None:
        config["cxml_dtd"] = str(dtd)
    xsd = pidx_invoice_xsd()
    if xsd is not None:
        config["pidx_xsd"] = str(xsd)
    for portal in portals:
        portal.configure(config)
    (root / "portalhub.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    hub = build_hub(load_hub_config(root / "portalhub.yaml"))
    return DemoWorkspace(root=root, secrets=secrets, portals=portals, hub=hub, dtd=dtd)


def settled(hub: Hub) -> bool:
    with hub.store.session() as session:
        rows = session.exec(select(InvoiceRow)).all()
    return all(_is_settled(row) for row in rows)


def _is_settled(row: InvoiceRow) -> bool:
    state = InvoiceState(row.state)
    if state in SETTLED:
        return True
    # Credit memos are approved, never paid.
    return state is InvoiceState.APPROVED and row.purpose == "credit_memo"


def run_until_settled(
    workspace: DemoWorkspace, max_cycles: int = 60, portal_hours_per_cycle: float = 12
) -> int:
    daemon = Daemon(workspace.hub)
    for cycle in range(1, max_cycles + 1):
        daemon.run_once()
        if settled(workspace.hub):
            return cycle
        for portal in workspace.portals:
            portal.advance(portal_hours_per_cycle)
        time.sleep(0.25)  # lets short retry backoffs come due
    return max_cycles


@dataclass
class DemoOutcome:
    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    portal_invoices: int = 0
    duplicates_at_portal: int = 0
    cycles: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    dtd_checked: bool = False
    xsd_checked: bool = False  # pre-flight validates PIDX invoices against the official XSD
    #: A collector who can log in to the web pages of the kept workspace (`portalhub web`): name, password.
    web_login: tuple[str, str] | None = None


def run_demo(root: Path | None = None, keep: bool = False) -> tuple[DemoOutcome, Path]:
    """Run the demo end to end; returns the outcome and the workspace (deleted unless `keep`)."""
    workdir = root or Path(tempfile.mkdtemp(prefix="portalhub-demo-"))
    workspace = prepare(workdir)
    try:
        cycles = run_until_settled(workspace)
        corrected = [number for portal in workspace.portals for number in portal.correct(workspace.ar_path)]
        cycles += run_until_settled(workspace)
        outcome = collect(workspace)
        outcome.cycles = cycles
        outcome.corrected = corrected
        outcome.web_login = demo_login(workspace)
        return outcome, workdir
    finally:
        workspace.close()
        if not keep and root is None:
            shutil.rmtree(workdir, ignore_errors=True)


def demo_login(workspace: DemoWorkspace) -> tuple[str, str]:
    """A collector `demo` with a fresh random password, for the web pages of the kept workspace."""
    from hub.web.accounts import add_user

    password = token_generator.token_urlsafe(12)
    add_user(workspace.hub.store, "demo", password, "collector", by="demo", now=workspace.hub.clock.now())
    return "demo", password


def collect(workspace: DemoWorkspace) -> DemoOutcome:
    outcome = DemoOutcome(
        dtd_checked=workspace.dtd is not None, xsd_checked="pidx_xsd" in workspace.hub.schemas
    )
    with workspace.hub.store.session() as session:
        for row in session.exec(select(InvoiceRow).order_by(col(InvoiceRow.invoice_number))):
            outcome.rows.append(
                {
                    "invoice_number": row.invoice_number,
                    "sent_as": row.portal_invoice_number,
                    "customer_id": row.customer_id,
                    "profile_id": row.profile_id,
                    "total": row.total,
                    "currency": row.currency,
                    "state": row.state,
                    "revision": row.revision,
                    "reason": row.last_reason,
                    "category": row.last_category,
                }
            )
        for q in session.exec(select(QuarantineRow).order_by(col(QuarantineRow.ar_key))):
            outcome.quarantined.append(
                {"ar_key": q.ar_key, "invoice_number": q.invoice_number, "reason": q.reason}
            )
    for portal in workspace.portals:
        numbers = [(portal.name, *pair) for pair in portal.sent_numbers()]
        outcome.portal_invoices += len(numbers)
        outcome.duplicates_at_portal += len(numbers) - len(set(numbers))
        for kind, count in portal.faults_injected().items():
            outcome.faults[kind] = outcome.faults.get(kind, 0) + count
    return outcome
