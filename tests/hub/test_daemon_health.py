"""Is the daemon alive, and what did it do: heartbeat in the store, /healthz, /metrics, `status`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from cli import app
from connectors.sandbox.coupa import CoupaSandbox
from hub.heartbeat import JobClock, health
from hub.store.database import Store
from tests.factories import API_SECRET, SECRET, SUPPLIER, profile_yaml
from tests.hub.test_daemon import _ar_with_invoices

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_job_that_stopped_ticking_makes_the_daemon_unhealthy(sqlite_store: Store) -> None:
    jobs = JobClock()
    jobs.expect("ingest", 60)
    jobs.expect("submit:acme", 5)
    assert jobs.late(NOW) == ["ingest", "submit:acme"]  # never ran
    for name in ("ingest", "submit:acme"):
        jobs.started(name, NOW)
        jobs.finished(name, NOW)
    healthy, details = health(sqlite_store, jobs, NOW + timedelta(seconds=14))
    assert healthy and details == {"store": "ok", "late_jobs": [], "status": "ok"}
    healthy, details = health(sqlite_store, jobs, NOW + timedelta(seconds=16))  # 3 x 5 s passed
    assert not healthy and details["late_jobs"] == ["submit:acme"]
    jobs.started("submit:acme", NOW + timedelta(seconds=16))  # running long is not late
    assert jobs.late(NOW + timedelta(seconds=181)) == ["ingest"]


def test_an_unreachable_store_makes_the_daemon_unhealthy() -> None:
    store = Store("postgresql://postgres@127.0.0.1:9/none")  # nothing listens on port 9
    healthy, details = health(store, JobClock(), NOW)
    assert not healthy and details["store"].startswith("failed")
    store.dispose()


def _workspace(tmp_path: Path, coupa: CoupaSandbox) -> Path:
    assert coupa.server is not None
    _ar_with_invoices(tmp_path / "ar.db", 3)
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
        "listener": {"port": 0},
        "daemon": {
            "ingest_seconds": 0.2,
            "submit_seconds": 0.2,
            "poll_seconds": 0.5,
            "feedback_seconds": 0.3,
            "heartbeat_seconds": 0.3,
        },
    }
    (tmp_path / "portalhub.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "portalhub.yaml"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_running_daemon_answers_healthz_metrics_and_status(tmp_path: Path, coupa: CoupaSandbox) -> None:
    config = _workspace(tmp_path, coupa)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "cli", "--config", str(config), "run"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert daemon.stderr is not None
    log: list[str] = []
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = daemon.stderr.readline()
            log.append(line)
            found = re.search(r"started: store .* listening on http://127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else None
        assert port is not None, "".join(log)
        base = f"http://127.0.0.1:{port}"
        samples: dict = {}
        while time.monotonic() < deadline:
            samples = _samples(httpx.get(f"{base}/metrics", timeout=10).text)
            if samples.get(("portalhub_invoices", (("profile", "acme-coupa"), ("state", "SUBMITTED")))) == 3:
                break
            time.sleep(0.2)
        assert samples[("portalhub_invoices", (("profile", "acme-coupa"), ("state", "SUBMITTED")))] == 3
        assert samples[("portalhub_sends_total", (("outcome", "accepted"), ("profile", "acme-coupa")))] == 3
        assert samples[("portalhub_send_duration_seconds_count", (("profile", "acme-coupa"),))] == 3
        assert samples[("portalhub_profile_up", (("profile", "acme-coupa"),))] == 1
        assert samples[("portalhub_job_runs_total", (("job", "ingest"), ("outcome", "ok")))] >= 1
        assert ("portalhub_feedback_outbox_pending", ()) in samples
        answer = httpx.get(f"{base}/healthz", timeout=10)
        assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.text

        time.sleep(1)  # a heartbeat after the sends
        status = CliRunner().invoke(app, ["--config", str(config), "status", "--json"])
        summary = json.loads(status.stdout)
        [running] = summary["daemons"]
        assert running["alive"] and running["pid"] == daemon.pid and running["stopped_at"] is None
        assert running["jobs"]["submit:acme-coupa"]["outcome"] in ("ok", "running")
        assert running["jobs"]["ingest"]["runs"] >= 1
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    rest = daemon.stderr.read()
    assert "INFO" in "".join(log) + rest and "stopped" in rest
    status = CliRunner().invoke(app, ["--config", str(config), "status", "--json"])
    [stopped] = json.loads(status.stdout)["daemons"]
    assert not stopped["alive"] and stopped["stopped_at"] is not None
    table = CliRunner().invoke(app, ["--config", str(config), "status"])
    assert "stopped" in table.stdout and "submit:acme-coupa" in table.stdout
