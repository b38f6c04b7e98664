"""The example adapter (written only against docs/ar-adapters.md) runs through the whole hub: installed
the documented way (an entry point in the `portalhub.ar_adapters` group), selected by `kind` in
portalhub.yaml, run by `portalhub run` with no code of the hub's changed; records in through intake,
events out through the real feedback outbox, each once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from connectors.sandbox.coupa import CoupaSandbox
from hub.ar.registry import GROUP, ArAdapterRegistry
from hub.clock import ManualClock
from hub.config import load_config
from hub.pipeline.intake import ingest
from hub.runtime import build_hub
from status_sync.feedback import deliver
from tests.ar.example_adapter import ExampleAdapter
from tests.ar.support import ROOT, hub_config
from tests.factories import T0, make_invoice

EXAMPLE = EntryPoint(name="example", value="tests.ar.example_adapter:ExampleAdapter", group=GROUP)


def registry_with_example() -> ArAdapterRegistry:
    """What installing a package with the example's entry point does: the built-ins plus it."""
    return ArAdapterRegistry([*entry_points(group=GROUP), EXAMPLE])


def test_the_example_adapter_feeds_the_hub_and_gets_each_event_once(tmp_path: Path) -> None:
    good = json.loads(make_invoice("INV-1").model_dump_json(exclude={"supplier"}))
    bad = {**good, "invoice_number": "INV-2", "currency": "dollars"}
    (tmp_path / "records.json").write_text(
        json.dumps({"records": [{"id": 1, "invoice": good}, {"id": 2, "invoice": bad}]}), encoding="utf-8"
    )
    path = hub_config(
        tmp_path, {"kind": "example", "records_file": "records.json", "events_file": "events.json"}
    )
    hub = build_hub(load_config(path), clock=ManualClock(T0), ar_adapters=registry_with_example())
    try:
        assert isinstance(hub.ar_source, ExampleAdapter) and hub.ar_sink is hub.ar_source
        report = ingest(hub)
        assert (report.counts["new"], report.counts["quarantined"]) == (1, 1)
        assert deliver(hub).delivered >= 2
        assert ingest(hub).counts["unchanged"] == 1  # read again: nothing new
        deliver(hub)
    finally:
        hub.close()
    events = json.loads((tmp_path / "events.json").read_text(encoding="utf-8"))
    states = sorted((e["invoice_number"], e["state"]) for e in events.values())
    assert ("INV-1", "READY") in states and ("INV-2", "QUARANTINED") in states
    assert len(states) == len(set(events))  # every event id once
    quarantined = next(e for e in events.values() if e["state"] == "QUARANTINED")
    assert "currency must be an ISO 4217 code" in quarantined["reason"]


def installed_example(site: Path) -> Path:
    """What `pip install` of a package declaring the example's entry point leaves on the path: its
    metadata, with the same lines its pyproject.toml would produce (docs/ar-adapters.md)."""
    info = site / "portalhub_example_ar-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: portalhub-example-ar\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[portalhub.ar_adapters]\nexample = tests.ar.example_adapter:ExampleAdapter\n"
    )
    return site


def test_installed_by_entry_point_and_named_in_the_config_it_runs_in_the_daemon(
    tmp_path: Path, coupa: CoupaSandbox
) -> None:
    good = json.loads(make_invoice("INV-1").model_dump_json(exclude={"supplier"}))
    bad = {**good, "invoice_number": "INV-2", "lines": []}
    (tmp_path / "records.json").write_text(
        json.dumps({"records": [{"id": "A-1", "invoice": good}, {"id": "A-2", "invoice": bad}]}),
        encoding="utf-8",
    )
    ar = {"kind": "example", "records_file": "records.json", "events_file": "events.json"}
    config = hub_config(tmp_path, ar, sandbox_url=coupa.server.url)
    command = [sys.executable, "-m", "cli", "--config", str(config), "run", "--once"]

    def run(*path: Path) -> subprocess.CompletedProcess[str]:
        # A process of its own: the installed distributions are what it finds on its path at start.
        environ = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*path, ROOT))}
        return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)

    missing = run()
    assert missing.returncode == 2
    assert "no AR adapter of kind 'example' is installed (installed: files, sql, webhook)" in missing.stderr
    done = run(installed_example(tmp_path / "site"))
    assert done.returncode == 0, done.stderr
    assert "new=1" in done.stdout and "quarantined=1" in done.stdout
    assert [(i.number, i.total) for i in coupa.invoices] == [("INV-1", make_invoice("INV-1").total)]
    events = json.loads((tmp_path / "events.json").read_text(encoding="utf-8"))
    states = {(e["ar_key"], e["state"]) for e in events.values()}
    assert {("A-1", "SUBMITTED"), ("A-2", "QUARANTINED")} <= states
