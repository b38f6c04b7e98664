"""The reliability scenario: real daemons (subprocesses) against a real sandbox portal, killed and faulted,
then checked invoice by invoice against what the portal holds. The benchmarks run on it, and the
reliability tests (tests/reliability) drive it.

A `Scenario` is a workspace: an SQLite AR database with N invoices spread over K buyer profiles (one
Coupa instance each, so several daemons have several portals to spread over), the rules files, the
secrets and a hub configuration whose store is SQLite or a fresh PostgreSQL database. The sandbox runs
in this process; the daemons do not, so `kill -9` hits exactly what a crash would.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

from bench.verdict import (
    AT_THE_PORTAL,
    FINAL,
    ArRow,
    Facts,
    HubAttempt,
    HubInvoice,
    PortalReceipt,
    Verdict,
    judge,
)
from connectors.sandbox.coupa import CoupaSandbox, CoupaSandboxConfig, SandboxPortal
from connectors.sandbox.server import FaultKind, FaultPlan

__all__ = ["AT_THE_PORTAL", "FAULT_MIX", "FINAL", "ROOT", "Scenario", "Verdict", "verify"]

ROOT = Path(__file__).resolve().parents[1]
SUPPLIER = {"name": "Bluebonnet Industrial Supply LLC", "party_id": "123456789", "tax_id": "74-1234567"}
PO_LINES = [("BRG-6205", "EA", "12.50"), ("SEAL-22", "EA", "4.20"), ("SVC-FIELD", "HUR", "95.00")]
SECRET = "reliability-shared-secret"
API_SECRET = "reliability-api-secret"
#: The issue's fault mix: 10% 5xx, 5% timeouts after the body was read, 2% dropped connections,
#: 429 with Retry-After, malformed replies.
FAULT_MIX: dict[FaultKind, float] = {
    "unavailable_503": 0.05,
    "error_500": 0.05,
    "slow_after": 0.05,
    "drop_after": 0.01,
    "drop_before": 0.01,
    "throttle_429": 0.03,
    "malformed_after": 0.02,
}


@dataclass
class Scenario:
    root: Path
    invoices: int
    buyers: int = 4
    store_url: str | None = None  # None: SQLite in the workspace
    fault_rates: dict[FaultKind, float] | None = None
    timeout_seconds: float = 2.0
    seed: int = 7
    latency: float = 0.0  # the portal's fixed round trip (bench/end_to_end.py)
    #: How long after an unanswered send the hub asks the portal. It must outlast what the portal may
    #: still be doing with a request the hub gave up on (production: 30 s); short here to settle fast.
    reconcile_after_seconds: float = 0.5
    portal: SandboxPortal = field(init=False)
    sandbox: CoupaSandbox = field(init=False)  # the portal's Coupa side (its invoices, its server)
    faults: FaultPlan = field(init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.faults = FaultPlan(seed=self.seed)
        if self.fault_rates:
            # Slow answers must outlast the client's timeout to be "timeouts after the body was read".
            self.faults.set_rates(self.fault_rates, delay=self.timeout_seconds + 0.5, retry_after=1)
        self.portal = SandboxPortal(_sandbox_config(self.buyers), faults=self.faults, latency=self.latency)
        self.sandbox = self.portal.start().sandbox
        self._write_ar()
        self._write_config()

    @property
    def config(self) -> Path:
        return self.root / "portalhub.yaml"

    @property
    def url(self) -> str:
        return self.portal.url

    def _write_ar(self) -> None:
        db = sqlite3.connect(self.root / "ar.db")
        db.executescript((ROOT / "fixtures" / "demo" / "ar_schema.sql").read_text())
        for b in range(self.buyers):
            db.execute("INSERT INTO ar_customers (customer_id, name) VALUES (?, ?)", (f"C-{b}", f"Buyer {b}"))
        db.commit()
        db.close()
        self._insert_invoices(0, self.invoices)

    def add_invoices(self, count: int) -> None:
        """A new wave of AR invoices (the next ingest takes them in): a kill can then land in an ingest."""
        self._insert_invoices(self.invoices, self.invoices + count)
        self.invoices += count

    def _insert_invoices(self, first: int, end: int) -> None:
        db = sqlite3.connect(self.root / "ar.db", timeout=30)
        for n in range(first, end):
            rng = random.Random(self.seed * 1_000_003 + n)  # invoice n is the same whatever the waves
            lines = rng.sample(PO_LINES, rng.randint(1, 3))
            amounts = []
            for position, (part, uom, price) in enumerate(lines, 1):
                quantity = rng.randint(1, 20)
                amount = Decimal(price) * quantity
                amounts.append(amount)
                db.execute(
                    "INSERT INTO ar_invoice_lines (invoice_id, line_no, po_line, part_number, description, quantity, uom, "
                    "unit_price, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        n + 1,
                        position,
                        PO_LINES.index((part, uom, price)) + 1,
                        part,
                        f"{part} for order {n}",
                        str(quantity),
                        uom,
                        price,
                        str(amount),
                    ),
                )
            total = str(sum(amounts))
            db.execute(
                "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, invoice_date, currency, po_number, "
                "subtotal, tax_total, total, updated_at) VALUES (?, ?, ?, date('now'), 'USD', 'PO-100001', ?, '0', ?, strftime('%Y-%m-%d %H:%M:%f', 'now'))",
                (n + 1, f"R-{n:06d}", f"C-{n % self.buyers}", total, total),
            )
        db.commit()
        db.close()

    def _write_config(self) -> None:
        rules = self.root / "rules.d"
        rules.mkdir(exist_ok=True)
        for b in range(self.buyers):
            profile = {
                "id": f"buyer{b}-coupa",
                "buyer": f"Buyer {b}",
                "connector": "coupa",
                "extends": ["coupa-baseline"],
                "match": {"customer_id": [f"C-{b}"]},
                "connection": {
                    "invoice_url": f"{self.url}/b{b}/cxml/invoices",
                    "from": {"domain": "DUNS", "identity": "123456789"},
                    "to": {"domain": "DUNS", "identity": f"90000000{b}"},
                    "shared_secret": "secret:shared",
                    "timeout_seconds": self.timeout_seconds,
                    "api": {
                        "invoices_url": f"{self.url}/api/v1/invoices",
                        "token_url": f"{self.url}/oauth2/token",
                        "client_id": "reliability",
                        "client_secret": "secret:api",
                        "filters": {"customer[id]": f"b{b}"},  # this buyer's invoices only
                        "overlap_seconds": 2,
                    },
                },
                "limits": {"per_minute": 6000},
            }
            (rules / f"buyer{b}-coupa.yaml").write_text(yaml.safe_dump(profile))
        (self.root / "secrets.yaml").write_text(yaml.safe_dump({"shared": SECRET, "api": API_SECRET}))
        config = {
            "store_url": self.store_url or "sqlite:///hub.db",
            "rules_dir": "rules.d",
            "secrets_file": "secrets.yaml",
            "supplier": SUPPLIER,
            # Each ingest reads only what changed (the schema's triggers keep updated_at); the margin
            # scaled like the lease: the scenario's AR writes are short transactions.
            "ar": {
                "url": "sqlite:///ar.db",
                "tables": {"changed_column": "updated_at"},
                "changes_margin_seconds": 5,
            },
            "listener": {"port": 0},  # several daemons on one machine: each on a free port
            "daemon": {
                "ingest_seconds": 1,
                "submit_seconds": 0.5,
                "poll_seconds": 5,
                "feedback_seconds": 1,
                "housekeeping_seconds": 1,
                "lease_seconds": 5,  # a killed daemon's invoices are found within seconds
                "reconcile_after_seconds": self.reconcile_after_seconds,
                "backoff_initial_seconds": 0.2,
                "backoff_max_seconds": 2,
                "max_transient_attempts": 12,
                "park_seconds": 3,
            },
        }
        self.config.write_text(yaml.safe_dump(config))

    # --- running ------------------------------------------------------------------------------------------
    def start_daemon(self, worker: str | None = None) -> subprocess.Popen[bytes]:
        return self._start("run", worker)

    def start_migration(self) -> subprocess.Popen[bytes]:
        """`portalhub migrate`, as an operator runs it before starting a new version's daemons (the
        daemon itself refuses an older store)."""
        return self._start("migrate")

    def _start(self, command: str, worker: str | None = None) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if worker:
            env["PORTALHUB_WORKER_ID"] = worker
        log = (self.root / f"daemon-{worker or 'main'}.log").open("ab")
        return subprocess.Popen(
            # -v: INFO lines (alembic's "Running upgrade", the daemon's "running") mark the phases.
            [sys.executable, "-m", "cli", "-v", "--config", str(self.config), command],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def store_engine(self) -> Any:
        url = self.store_url or f"sqlite:///{self.root / 'hub.db'}"
        return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))

    def progress(self) -> Counter[str]:
        engine = self.store_engine()
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT state, count(*) FROM invoices GROUP BY state")
                ).fetchall()
        except Exception:  # the store may not exist yet (the first daemon is still migrating it)
            return Counter()
        finally:
            engine.dispose()
        return Counter({state: count for state, count in rows})

    def settled(self) -> bool:
        counts = self.progress()
        return sum(counts.values()) == self.invoices and set(counts) <= FINAL and self._outbox_empty()

    def _outbox_empty(self) -> bool:
        return self._count("SELECT count(*) FROM feedback_outbox WHERE delivered_at IS NULL") == 0

    def attempts(self) -> int:
        return self._count("SELECT count(*) FROM attempts") or 0

    def _count(self, sql: str) -> int | None:
        engine = self.store_engine()
        try:
            with engine.connect() as connection:
                return int(connection.execute(text(sql)).scalar() or 0)
        except Exception:  # no store yet: the first daemon has not migrated it
            return None
        finally:
            engine.dispose()

    def kill_loop(
        self, kills: int, rng: random.Random, low: float = 0.0, high: float = 1.5, sends: int = 1
    ) -> int:
        """Start the daemon and kill -9 it at a random instant while it sends, `kills` times; returns
        the kills done (fewer when everything is sent). The instant: once the daemon has made a random
        1 to `sends` new sends, `low` to `high` s more. A number of sends per life, not a time alone,
        keeps the kills landing while there is still something to send on a fast machine as on a slow
        one."""
        done = 0
        for _ in range(kills):
            before = self.attempts()
            wanted = before + rng.randint(1, sends)
            daemon = self.start_daemon()
            deadline = time.monotonic() + 60
            seen, grew = before, time.monotonic()
            while daemon.poll() is None and time.monotonic() < deadline:
                now = self.attempts()
                if now >= wanted or (now > before and time.monotonic() - grew > 3):
                    break  # enough sends, or it sent something and nothing more is coming
                if now > seen:
                    seen, grew = now, time.monotonic()
                time.sleep(0.02)
            time.sleep(rng.uniform(low, high))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            done += 1
            if self.settled():
                break
        return done

    def run_until_settled(
        self, daemons: int = 1, timeout: float = 600, waves: tuple[int, int] = (0, 0)
    ) -> list[str]:
        """Run `daemons` daemons until every invoice is final and fed back; stop them with SIGTERM.
        `waves` (count, size): while they run, that many more waves of AR invoices arrive, one every half
        second, as from an AR system posting through the day."""
        workers = [f"worker-{n}" for n in range(daemons)]
        running = [self.start_daemon(w if daemons > 1 else None) for w in workers]
        deadline = time.monotonic() + timeout
        more, size = waves
        try:
            while time.monotonic() < deadline and (more > 0 or not self.settled()):
                if more > 0:
                    self.add_invoices(size)
                    more -= 1
                time.sleep(0.5)
        finally:
            for daemon in running:
                daemon.send_signal(signal.SIGTERM)
            for daemon in running:
                try:
                    daemon.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
        return workers

    def close(self) -> None:
        self.portal.stop()


def _sandbox_config(buyers: int) -> CoupaSandboxConfig:
    return CoupaSandboxConfig.model_validate(
        {
            "buyers": [
                {
                    "instance": f"b{b}",
                    "name": f"Buyer {b}",
                    "to": {"domain": "DUNS", "identity": f"90000000{b}"},
                    "supplier": {"domain": "DUNS", "identity": "123456789"},
                    "shared_secret": SECRET,
                    "purchase_orders": [
                        {
                            "number": "PO-100001",
                            "lines": [
                                {
                                    "line": i,
                                    "part": part,
                                    "uom": uom,
                                    "unit_price": price,
                                    "quantity": "100000",
                                }
                                for i, (part, uom, price) in enumerate(PO_LINES, 1)
                            ],
                        }
                    ],
                }
                for b in range(buyers)
            ],
            "api_clients": {"reliability": API_SECRET},
        }
    )


# --- the verdict ---------------------------------------------------------------------------------------------
def facts(scenario: Scenario) -> Facts:
    """What the run left: the hub's invoices and attempts, the portal's receipt log, the AR status rows."""
    engine = scenario.store_engine()
    with engine.connect() as connection:
        invoices = [
            HubInvoice(number=number, state=state)
            for number, state in connection.execute(
                text("SELECT coalesce(portal_invoice_number, invoice_number), state FROM invoices")
            )
        ]
        attempts = [
            HubAttempt(
                id=row.id,
                number=row.portal_invoice_number,
                payload_id=row.payload_id,
                outcome=row.outcome,
                revision=row.revision,
                answer=f"HTTP {row.http_status}" if row.http_status else (row.error or "")[:80],
            )
            for row in connection.execute(
                text(
                    "SELECT id, portal_invoice_number, payload_id, outcome, revision, http_status, error "
                    "FROM attempts"
                )
            )
        ]
        # What the hub says the AR system has: every event it marked delivered (one recorded while the
        # daemons were being stopped may still wait in the outbox; `settled()` saw it empty).
        delivered = {
            key
            for (key,) in connection.execute(
                text("SELECT event_key FROM feedback_outbox WHERE delivered_at IS NOT NULL")
            )
        }
    engine.dispose()
    ar = sqlite3.connect(scenario.root / "ar.db")
    try:
        ar_rows = [
            ArRow(*row)
            for row in ar.execute(
                "SELECT rowid, event_id, invoice_number, previous_state, state, reason, raw_status, at "
                "FROM ar_portal_status"
            )
        ]
    finally:
        ar.close()
    receipts = [
        PortalReceipt(r.seq, r.number, r.payload_id, r.outcome, r.processed)
        for r in scenario.portal.receipts()
    ]
    return Facts(
        expected_invoices=scenario.invoices,
        invoices=invoices,
        attempts=attempts,
        receipts=receipts,
        ar_rows=ar_rows,
        hub_event_ids=delivered,
    )


def verify(scenario: Scenario) -> Verdict:
    """The verdict of a run, counted at the portal (bench/verdict.py says what fails)."""
    verdict = judge(facts(scenario))
    engine = scenario.store_engine()
    with engine.connect() as connection:
        by_worker = connection.execute(
            text("SELECT worker_id, count(*) FROM attempts GROUP BY worker_id")
        ).fetchall()
        per_invoice = connection.execute(
            text("SELECT max(c) FROM (SELECT count(*) AS c FROM attempts GROUP BY invoice_id) AS x")
        ).scalar()
    engine.dispose()
    verdict.attempts = sum(count for _, count in by_worker)
    verdict.attempts_by_worker = {worker: count for worker, count in by_worker}
    verdict.faults = scenario.portal.faults_injected()
    verdict.max_attempts_per_invoice = int(per_invoice or 0)
    return verdict
