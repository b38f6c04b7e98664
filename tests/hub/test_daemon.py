"""The daemon as a real process: SIGTERM finishes the request in flight, records it, starts no new one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import FaultPlan
from tests.factories import API_SECRET, SECRET, SUPPLIER, profile_yaml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def _ar_with_invoices(path: Path, count: int) -> None:
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / "ar_schema.sql").read_text())
    db.execute("INSERT INTO ar_customers (customer_id, name) VALUES ('C-1', 'ACME Manufacturing')")
    for n in range(1, count + 1):
        db.execute(
            "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, invoice_date, currency, po_number, "
            "subtotal, tax_total, total, updated_at) VALUES (?, ?, 'C-1', date('now'), 'USD', 'PO-100001', "
            "'125.00', '0', '125.00', datetime('now'))",
            (n, f"INV-{n}"),
        )
        db.execute(
            "INSERT INTO ar_invoice_lines (invoice_id, line_no, po_line, part_number, description, quantity, uom, "
            "unit_price, amount) VALUES (?, 1, 1, 'BRG-6205', 'Ball bearing', '10', 'EA', '12.50', '125.00')",
            (n,),
        )
    db.commit()
    db.close()


def test_sigterm_finishes_the_request_in_flight_and_starts_no_new_one(
    tmp_path: Path, coupa: CoupaSandbox, faults: FaultPlan
) -> None:
    assert coupa.server is not None
    faults.queue("slow_after", delay=3)  # the first request is in flight for 3 s
    _ar_with_invoices(tmp_path / "ar.db", 3)
    (tmp_path / "rules.d").mkdir()
    profile = profile_yaml(coupa.server.url)
    profile["connection"]["timeout_seconds"] = 20
    (tmp_path / "rules.d" / "acme-coupa.yaml").write_text(yaml.safe_dump(profile))
    (tmp_path / "secrets.yaml").write_text(
        yaml.safe_dump({"acme_shared_secret": SECRET, "coupa_api_secret": API_SECRET})
    )
    config = {
        "store_url": "sqlite:///hub.db",
        "rules_dir": "rules.d",
        "secrets_file": "secrets.yaml",
        "supplier": SUPPLIER.model_dump(mode="json"),
        "ar": {"url": "sqlite:///ar.db"},
        "listener": {"port": 0},
        "daemon": {"ingest_seconds": 0.2, "submit_seconds": 0.2, "poll_seconds": 60, "feedback_seconds": 0.5},
    }
    (tmp_path / "portalhub.yaml").write_text(yaml.safe_dump(config))
    daemon = subprocess.Popen(
        [sys.executable, "-m", "cli", "--config", str(tmp_path / "portalhub.yaml"), "run"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while coupa.received == 0 and time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(0.05)
        assert coupa.received == 1, (
            daemon.stderr.read().decode() if daemon.poll() is not None else "no request"
        )
        time.sleep(1)  # the request is in flight for 3 s: the submit job overruns ~5 of its ticks
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.stderr is not None
    log = daemon.stderr.read().decode()
    assert code == 0, log
    assert coupa.received == 1  # no new request after SIGTERM
    # Skipped ticks of a busy portal's submit job are expected, not warnings.
    assert "maximum number of running instances" not in log
    assert "WARNING" not in log, log
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.connect() as connection:
        states = dict(connection.execute(text("SELECT invoice_number, state FROM invoices")).fetchall())
    engine.dispose()
    assert states == {"INV-1": "SUBMITTED", "INV-2": "READY", "INV-3": "READY"}
