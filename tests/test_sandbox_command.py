"""`portalhub sandbox <family>`: one sandbox portal by hand, with a profile and hub config that work."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_a_sandbox_started_by_hand_takes_invoices_from_a_hub_run(tmp_path: Path) -> None:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "cli", "sandbox", "coupa", "--dir", str(tmp_path / "sbx")],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sandbox.stdout is not None
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.startswith("try:") for line in printed):
            line = sandbox.stdout.readline()
            if not line and sandbox.poll() is not None:
                break
            printed.append(line)
        text = "".join(printed)
        assert "coupa sandbox listening on http://127.0.0.1:" in text, text + (
            sandbox.stderr.read() if sandbox.stderr else ""
        )
        config = tmp_path / "sbx" / "portalhub.yaml"
        profile = yaml.safe_load((tmp_path / "sbx" / "rules.d" / "acme-coupa.yaml").read_text())
        assert profile["connection"]["invoice_url"].startswith("http://127.0.0.1:")
        assert "invoice_url: http://127.0.0.1:" in text  # the profile is printed, pointing at the sandbox
        result = CliRunner().invoke(app, ["--config", str(config), "run", "--once"])
        assert result.exit_code == 0, result.output
        store = sqlite3.connect(tmp_path / "sbx" / "portalhub.db")
        sent = store.execute(
            "SELECT count(*) FROM invoices WHERE profile_id = 'acme-coupa' AND portal_invoice_id IS NOT NULL"
        ).fetchone()[0]
        store.close()
        assert sent > 0
        sandbox.send_signal(signal.SIGTERM)
        assert sandbox.wait(timeout=30) == 0
    finally:
        if sandbox.poll() is None:
            sandbox.kill()
    assert "sandbox stopped" in sandbox.stdout.read()


def test_an_unknown_family_gets_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["sandbox", "copa"])
    assert result.exit_code == 2 and "did you mean 'coupa'" in result.stderr
