"""The daemon as a real process follows the rules folder while it runs: a profile added gets its invoices
sent, a hostile file dropped in stops only itself (ingest of the others goes on), and SIGTERM always
stops the process within `daemon.shutdown_grace_seconds`."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import FaultPlan
from tests.factories import API_SECRET, SECRET, SUPPLIER, profile_yaml
from tests.rules.test_hostile_files import ALIAS_BOMB

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "demo"
GRACE = 3.0


def add_ar_invoices(path: Path, customer: str, numbers: range) -> None:
    db = sqlite3.connect(path)
    if not db.execute("SELECT name FROM sqlite_master WHERE name = 'ar_invoices'").fetchone():
        db.executescript((FIXTURES / "ar_schema.sql").read_text())
    db.execute("INSERT OR IGNORE INTO ar_customers (customer_id, name) VALUES (?, 'ACME')", (customer,))
    for n in numbers:
        db.execute(
            "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, invoice_date, currency, po_number, "
            "subtotal, tax_total, total, updated_at) VALUES (?, ?, ?, date('now'), 'USD', 'PO-100001', "
            "'125.00', '0', '125.00', datetime('now'))",
            (n, f"INV-{n}", customer),
        )
        db.execute(
            "INSERT INTO ar_invoice_lines (invoice_id, line_no, po_line, part_number, description, quantity, uom, "
            "unit_price, amount) VALUES (?, 1, 1, 'BRG-6205', 'Ball bearing', '10', 'EA', '12.50', '125.00')",
            (n,),
        )
    db.commit()
    db.close()


def _start(tmp_path: Path, url: str, timeout_seconds: float = 5) -> subprocess.Popen[bytes]:
    (tmp_path / "rules.d").mkdir()
    profile = profile_yaml(url, customers=("C-1",))
    profile["connection"]["timeout_seconds"] = timeout_seconds
    (tmp_path / "rules.d" / "acme-coupa.yaml").write_text(yaml.safe_dump(profile))
    (tmp_path / "secrets.yaml").write_text(
        yaml.safe_dump({"acme_shared_secret": SECRET, "coupa_api_secret": API_SECRET})
    )
    config: dict[str, Any] = {
        "store_url": "sqlite:///hub.db",
        "rules_dir": "rules.d",
        "secrets_file": "secrets.yaml",
        "supplier": SUPPLIER.model_dump(mode="json"),
        "ar": {"url": "sqlite:///ar.db"},
        "daemon": {
            "ingest_seconds": 0.2,
            "submit_seconds": 0.2,
            "poll_seconds": 60,
            "feedback_seconds": 0.5,
            "shutdown_grace_seconds": GRACE,
        },
    }
    (tmp_path / "portalhub.yaml").write_text(yaml.safe_dump(config))
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--config", str(tmp_path / "portalhub.yaml"), "run"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition: Any, daemon: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline and daemon.poll() is None:
        time.sleep(0.05)
    if not condition():
        daemon.kill()
        assert daemon.stderr is not None
        raise AssertionError(daemon.stderr.read().decode()[-5000:])


def _states(path: Path) -> dict[str, tuple[str, str | None]]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT invoice_number, state, profile_id FROM invoices")).fetchall()
    engine.dispose()
    return {number: (state, profile) for number, state, profile in rows}


def test_a_profile_added_while_running_is_sent_and_a_bomb_stops_only_itself(
    tmp_path: Path, coupa: CoupaSandbox
) -> None:
    assert coupa.server is not None
    add_ar_invoices(tmp_path / "ar.db", "C-1", range(1, 3))
    daemon = _start(tmp_path, coupa.server.url)
    try:
        _wait_for(lambda: coupa.received == 2, daemon, 60)
        rules = tmp_path / "rules.d"
        (rules / "bomb.yaml").write_text(ALIAS_BOMB)  # dropped in while the daemon runs
        (rules / "deep.yaml").write_text("id: deep\nconnector: coupa\nx: " + "[" * 20000 + "]" * 20000)
        added = profile_yaml(coupa.server.url, profile_id="acme-two", customers=("C-2",))
        (rules / "acme-two.yaml").write_text(yaml.safe_dump(added))
        add_ar_invoices(tmp_path / "ar.db", "C-2", range(3, 5))
        add_ar_invoices(tmp_path / "ar.db", "C-1", range(5, 6))
        # The added profile's invoices are sent (it got its jobs), and ingest of the others went on.
        _wait_for(lambda: coupa.received == 5, daemon, 60)
        time.sleep(1)  # a few more ticks: a broken file must not be logged again each tick
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=GRACE + 20)
        stopped_in = time.monotonic() - started
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.stderr is not None
    log = daemon.stderr.read().decode()
    assert code == 0, log
    assert stopped_in < GRACE + 5, f"SIGTERM took {stopped_in:.1f} s"
    states = _states(tmp_path / "hub.db")
    assert {n: s for n, (s, _) in states.items()} == {f"INV-{n}": "SUBMITTED" for n in range(1, 6)}
    assert states["INV-3"][1] == states["INV-4"][1] == "acme-two"
    assert "Traceback" not in log and "job ingest failed" not in log, log
    # Each hostile file is named once, with its line, and blamed on nothing else.
    assert log.count("rules file") == 2, log
    assert "bomb.yaml:" in log and "expands to more than" in log and "deep.yaml:3" in log


def test_sigterm_stops_the_daemon_within_its_grace_period_even_with_a_send_stuck(
    tmp_path: Path, coupa: CoupaSandbox, faults: FaultPlan
) -> None:
    assert coupa.server is not None
    faults.queue("slow_after", delay=60)  # the portal holds the first request for a minute
    add_ar_invoices(tmp_path / "ar.db", "C-1", range(1, 3))
    daemon = _start(tmp_path, coupa.server.url, timeout_seconds=120)
    try:
        _wait_for(lambda: coupa.received == 1, daemon, 60)
        time.sleep(0.5)
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=GRACE + 20)
        stopped_in = time.monotonic() - started
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.stderr is not None
    log = daemon.stderr.read().decode()
    assert stopped_in < GRACE + 5, f"SIGTERM took {stopped_in:.1f} s"
    assert code == 3, log  # stopped without waiting for the stuck job: said so, in the exit code too
    assert "submit:acme-coupa" in log and "still running after" in log
    assert coupa.received == 1
    # The invoice in flight stays SUBMITTING with its lease: housekeeping turns it IN_DOUBT later.
    assert _states(tmp_path / "hub.db")["INV-2"][0] == "READY"
