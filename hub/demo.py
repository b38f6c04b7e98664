"""`portalhub demo`: the whole hub on the embedded default, end to end, in a temporary workspace.

It seeds an SQLite AR database with 50 demo invoices, starts the Coupa sandbox on 127.0.0.1 (three
buyers, with faults injected on a few requests), writes a hub configuration with the demo rules
files, and runs the daemon's cycle until every invoice has settled, moving the portal's clock
forward so buyers approve, dispute and pay. Halfway, a collector corrects two invoices in the AR
system and the hub sends the corrections. At the end it prints what happened to every invoice, and why.
"""

from __future__ import annotations

import secrets as token_generator
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import col, select

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox, load_config
from connectors.sandbox.server import FaultPlan
from hub.config import load_config as load_hub_config
from hub.daemon import Daemon
from hub.lifecycle import SETTLED
from hub.model import InvoiceState
from hub.refs import cxml_refs_dir
from hub.runtime import Hub, build_hub
from hub.store.tables import InvoiceRow, QuarantineRow

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
SANDBOX_PLACEHOLDER = "http://sandbox.invalid"
SECRET_NAMES = (
    "acme_coupa_shared_secret",
    "pbe_coupa_shared_secret",
    "gcl_coupa_shared_secret",
    "coupa_api_client_secret",
)
DEMO_SUPPLIER = {
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
    sandbox: CoupaSandbox
    hub: Hub
    dtd: Path | None

    @property
    def config_path(self) -> Path:
        return self.root / "portalhub.yaml"

    @property
    def ar_path(self) -> Path:
        return self.root / "ar.db"

    def close(self) -> None:
        self.hub.close()
        if self.sandbox.server is not None:
            self.sandbox.server.stop()


def prepare(root: Path, faults: FaultPlan | None = None) -> DemoWorkspace:
    """Lay out a demo workspace in `root` and start its sandbox; the caller closes it."""
    root.mkdir(parents=True, exist_ok=True)
    secrets = {name: token_generator.token_urlsafe(18) for name in SECRET_NAMES}
    (root / "secrets.yaml").write_text(yaml.safe_dump(secrets), encoding="utf-8")
    (root / "secrets.yaml").chmod(0o600)
    ar = sqlite3.connect(root / "ar.db")
    ar.executescript((FIXTURES / "demo" / "ar_schema.sql").read_text(encoding="utf-8"))
    ar.executescript((FIXTURES / "demo" / "ar_data.sql").read_text(encoding="utf-8"))
    ar.commit()
    ar.close()
    dtd = find_cxml_dtd()
    sandbox = CoupaSandbox(
        load_config(FIXTURES / "demo" / "coupa_buyers.yaml", secrets), SandboxClock(), dtd_path=dtd
    )
    server = sandbox.serve(faults=faults or FaultPlan())
    rules_dir = root / "rules.d"
    rules_dir.mkdir(exist_ok=True)
    for source in sorted((FIXTURES / "rules").glob("*.yaml")):
        text = source.read_text(encoding="utf-8").replace(SANDBOX_PLACEHOLDER, server.url)
        (rules_dir / source.name).write_text(text, encoding="utf-8")
    config: dict[str, Any] = {
        "store_url": "sqlite:///portalhub.db",
        "rules_dir": "rules.d",
        "secrets_file": "secrets.yaml",
        "supplier": DEMO_SUPPLIER,
        "ar": {"kind": "sql", "url": "sqlite:///ar.db"},
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
    (root / "portalhub.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    hub = build_hub(load_hub_config(root / "portalhub.yaml"))
    return DemoWorkspace(root=root, secrets=secrets, sandbox=sandbox, hub=hub, dtd=dtd)


def demo_faults() -> FaultPlan:
    """A few things real networks do, on ACME's endpoint: the hub must neither lose nor double anything."""
    plan = FaultPlan(seed=7)
    plan.at_request(2, "unavailable_503", path_prefix="/acme/")  # gateway down: retried with backoff
    plan.at_request(
        5, "drop_after", path_prefix="/acme/"
    )  # created, then the connection dropped: IN_DOUBT, reconciled
    plan.at_request(9, "throttle_429", path_prefix="/acme/", retry_after=1)  # throttled: Retry-After honoured
    return plan


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
        workspace.sandbox.clock.advance(hours=portal_hours_per_cycle)
        time.sleep(0.25)  # lets short retry backoffs come due
    return max_cycles


def collector_corrections(workspace: DemoWorkspace) -> list[str]:
    """What a collector does after reading the worklist: fix two invoices in the AR system."""
    ar = sqlite3.connect(workspace.ar_path)
    with ar:
        # INV-24017: Coupa refused the UOM (BX) that does not match the PO line (EA).
        ar.execute(
            "UPDATE ar_invoice_lines SET uom = 'EA' WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-24017')"
        )
        # INV-24018: ACME disputed the price (13.10 over the PO's 12.50); rebill at the PO price.
        ar.execute(
            "UPDATE ar_invoice_lines SET unit_price = '12.50', amount = '125.00', tax_amount = '10.63' "
            "WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-24018')"
        )
        ar.execute(
            "UPDATE ar_invoices SET subtotal = '125.00', tax_total = '10.63', total = '135.63' WHERE invoice_number = 'INV-24018'"
        )
    ar.close()
    return ["INV-24017", "INV-24018"]


@dataclass
class DemoOutcome:
    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    portal_invoices: int = 0
    duplicates_at_portal: int = 0
    cycles: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    dtd_checked: bool = False


def run_demo(root: Path | None = None, keep: bool = False) -> tuple[DemoOutcome, Path]:
    """Run the demo end to end; returns the outcome and the workspace (deleted unless `keep`)."""
    workdir = root or Path(tempfile.mkdtemp(prefix="portalhub-demo-"))
    workspace = prepare(workdir, demo_faults())
    try:
        cycles = run_until_settled(workspace)
        collector_corrections(workspace)
        cycles += run_until_settled(workspace)
        outcome = collect(workspace)
        outcome.cycles = cycles
        return outcome, workdir
    finally:
        workspace.close()
        if not keep and root is None:
            shutil.rmtree(workdir, ignore_errors=True)


def collect(workspace: DemoWorkspace) -> DemoOutcome:
    outcome = DemoOutcome(dtd_checked=workspace.dtd is not None)
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
    numbers = [(i.instance, i.number) for i in workspace.sandbox.invoices if i.payload_id]
    outcome.portal_invoices = len(numbers)
    outcome.duplicates_at_portal = len(numbers) - len(set(numbers))
    if workspace.sandbox.server is not None:
        outcome.faults = dict(workspace.sandbox.server.faults.injected)
    return outcome
