"""The example adapter (written only against docs/ar-adapters.md) runs through the whole hub: selected by
`kind` in portalhub.yaml, built by the registry, records in through intake, events out through the
real feedback outbox, each once."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from hub.ar.registry import GROUP, ArAdapterRegistry
from hub.clock import ManualClock
from hub.config import load_config
from hub.pipeline.intake import ingest
from hub.runtime import build_hub
from status_sync.feedback import deliver
from tests.ar.example_adapter import ExampleAdapter
from tests.ar.support import hub_config
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
        assert deliver(hub.store, hub.ar_sink, T0).delivered >= 2
        assert ingest(hub).counts["unchanged"] == 1  # read again: nothing new
        deliver(hub.store, hub.ar_sink, T0)
    finally:
        hub.close()
    events = json.loads((tmp_path / "events.json").read_text(encoding="utf-8"))
    states = sorted((e["invoice_number"], e["state"]) for e in events.values())
    assert ("INV-1", "READY") in states and ("INV-2", "QUARANTINED") in states
    assert len(states) == len(set(events))  # every event id once
    quarantined = next(e for e in events.values() if e["state"] == "QUARANTINED")
    assert "currency must be an ISO 4217 code" in quarantined["reason"]
