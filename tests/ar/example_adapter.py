"""An example AR adapter, written only against the API in docs/ar-adapters.md (`hub.ar` and the
canonical `hub.model.Invoice`): invoices from a JSON file an AR system keeps up to date
(`{"records": [{"id": ..., "invoice": {...}}]}`), status events into another JSON file, one entry per
event id. The tests install it as a package would be installed, by an entry point in the
`portalhub.ar_adapters` group (tests/ar/test_example_adapter.py), and run it through `portalhub run`."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from hub.ar import ArAdapter, ArContext, ArRecord, ArUnavailableError, describe_validation_error
from hub.model import Invoice


class ExampleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records_file: Path
    events_file: Path


class ExampleAdapter(ArAdapter):
    kind = "example"
    settings_model = ExampleSettings

    def __init__(self, settings: ExampleSettings, context: ArContext):
        super().__init__(settings, context)
        self.records_file = context.base_dir / settings.records_file
        self.events_file = context.base_dir / settings.events_file

    def pull(self, keys: Collection[str] | None = None) -> Iterator[ArRecord]:
        data = json.loads(self.records_file.read_text(encoding="utf-8"))
        for item in data["records"]:
            key = str(item["id"])
            if keys is not None and key not in keys:
                continue
            fields = dict(item["invoice"])
            number = fields.get("invoice_number")
            fields.setdefault("supplier", self.context.supplier.model_dump())
            try:
                invoice = Invoice.model_validate(fields)
            except ValidationError as exc:
                yield ArRecord(
                    key=key, raw={"id": key}, error=describe_validation_error(exc), invoice_number=number
                )
                continue
            yield ArRecord(key=key, raw={"id": key}, invoice=invoice, invoice_number=invoice.invoice_number)

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        stored: dict[str, Any] = {}
        if self.events_file.exists():
            stored = json.loads(self.events_file.read_text(encoding="utf-8"))
        for event in events:
            stored.setdefault(event["event_id"], event)  # an event id seen before changes nothing
        part = self.events_file.with_name(self.events_file.name + ".part")
        try:
            part.write_text(json.dumps(stored, indent=1), encoding="utf-8")
            os.replace(part, self.events_file)
        except OSError as exc:
            raise ArUnavailableError(f"cannot write {self.events_file.name}: {exc.strerror}") from None


class ExampleSourceOnly(ArAdapter):
    """Reads nothing, takes no events either: only here to show what the hub says about roles."""

    kind = "example-source"
    settings_model = ExampleSettings

    def pull(self, keys: Collection[str] | None = None) -> Iterator[ArRecord]:
        yield from ()
