"""What the daemon tells an operator: state changes once each when committed, JSON lines, no secrets."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from connectors.sandbox.coupa import CoupaSandbox
from hub.lifecycle import move
from hub.logs import configure
from hub.model import InvoiceState
from hub.secrets import REDACTOR
from hub.store.database import Store
from hub.store.tables import InvoiceRow
from tests.factories import API_SECRET, SECRET, SUPPLIER, profile_yaml
from tests.hub.test_daemon import _ar_with_invoices

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _invoice(store: Store) -> int:
    with store.session() as session:
        row = InvoiceRow(
            source="ar",
            ar_key="1",
            invoice_number="INV-77",
            customer_id="C-1",
            profile_id="acme-coupa",
            purpose="invoice",
            currency="USD",
            total=Decimal("10.00"),
            invoice_date=date(2026, 12, 1),
            state="NEW",
            content_hash="x" * 64,
            document="{}",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_a_committed_state_change_is_one_line_and_a_rolled_back_one_none(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    invoice_id = _invoice(sqlite_store)
    caplog.set_level(logging.INFO, logger="portalhub.invoices")
    with pytest.raises(RuntimeError), sqlite_store.session() as session:
        row = session.get(InvoiceRow, invoice_id)
        assert row is not None
        move(session, row, InvoiceState.READY, actor="test", now=NOW, reason="passed pre-flight")
        raise RuntimeError("the transaction fails after the move")
    assert [r for r in caplog.records if r.name == "portalhub.invoices"] == []
    with sqlite_store.session() as session:
        row = session.get(InvoiceRow, invoice_id)
        assert row is not None
        move(session, row, InvoiceState.BLOCKED, actor="test", now=NOW, reason="PO missing\n  see rule x")
    lines = [r for r in caplog.records if r.name == "portalhub.invoices"]
    assert len(lines) == 1
    assert lines[0].getMessage() == "INV-77 (acme-coupa) NEW -> BLOCKED: PO missing see rule x"
    assert lines[0].to_state == "BLOCKED" and lines[0].invoice == "INV-77"  # type: ignore[attr-defined]


def test_json_lines_carry_the_fields_and_never_a_secret() -> None:
    stream = io.StringIO()
    configure(logging.INFO, "json", stream)
    try:
        REDACTOR.add("hunter2-very-secret")
        logging.getLogger("portalhub.invoices").info(
            "INV-1 (p) READY -> SUBMITTED",
            extra={"invoice": "INV-1", "profile": "p", "from_state": "READY", "to_state": "SUBMITTED"},
        )
        logging.getLogger("connectors.x").warning("login with hunter2-very-secret refused")
        logging.getLogger("apscheduler.executors.default").info("Running job ...")  # detail: not at INFO
    finally:
        configure(logging.WARNING, "text")
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(entries) == 2
    assert entries[0]["invoice"] == "INV-1" and entries[0]["to_state"] == "SUBMITTED"
    assert entries[0]["level"] == "INFO" and entries[0]["time"].endswith("+00:00")
    assert "hunter2-very-secret" not in stream.getvalue() and "***" in entries[1]["message"]


def test_run_once_says_what_happened_at_the_default_level(tmp_path: Path, coupa: CoupaSandbox) -> None:
    assert coupa.server is not None
    _ar_with_invoices(tmp_path / "ar.db", 2)
    (tmp_path / "rules.d").mkdir()
    (tmp_path / "rules.d" / "acme-coupa.yaml").write_text(yaml.safe_dump(profile_yaml(coupa.server.url)))
    (tmp_path / "secrets.yaml").write_text(
        yaml.safe_dump({"acme_shared_secret": SECRET, "coupa_api_secret": API_SECRET})
    )
    config = {
        "store_url": "sqlite:///hub.db",
        "rules_dir": "rules.d",
        "secrets_file": "secrets.yaml",
        "supplier": SUPPLIER.model_dump(mode="json"),
        "ar": {"url": "sqlite:///ar.db"},
    }
    (tmp_path / "portalhub.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "--config",
            str(tmp_path / "portalhub.yaml"),
            "--log-format=json",
            "run",
            "--once",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    changes = [(e["invoice"], e["from_state"], e["to_state"]) for e in entries if "to_state" in e]
    assert ("INV-1", "READY", "SUBMITTING") in changes and ("INV-1", "SUBMITTING", "SUBMITTED") in changes
    assert ("INV-2", "NEW", "READY") in changes
    assert not any(e["logger"].startswith("apscheduler") for e in entries)
    assert SECRET not in result.stderr and API_SECRET not in result.stderr
