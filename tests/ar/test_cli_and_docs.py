"""`portalhub schema invoice` describes what the JSON exports may hold, and docs/ar-adapters.md names every
setting the adapters accept (a setting added without documentation fails here)."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from typer.testing import CliRunner

from cli import app
from hub.ar.files import CsvSettings, CustomerEntry, FilesSettings
from hub.ar.files.status_files import STATUS_COLUMNS
from hub.ar.webhook import WebhookSettings
from hub.config import AdapterConfig, SqlArColumns
from tests.ar.support import EXPORTS, ROOT

DOCS = (ROOT / "docs" / "ar-adapters.md").read_text(encoding="utf-8")


def test_the_invoice_schema_accepts_the_sample_exports_and_refuses_a_broken_one() -> None:
    result = CliRunner().invoke(app, ["schema", "invoice"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    samples = [json.loads((EXPORTS / "invoice-INV-3201.json").read_text())]
    samples += [json.loads(line) for line in (EXPORTS / "invoices.jsonl").read_text().splitlines()]
    for sample in samples:
        assert list(validator.iter_errors(sample)) == []
    assert "supplier" not in schema["required"] and "invoice_number" in schema["required"]
    broken = {k: v for k, v in samples[0].items() if k != "lines"}
    assert [e.message for e in validator.iter_errors(broken)] == ["'lines' is a required property"]


@pytest.mark.parametrize("model", [FilesSettings, CsvSettings, CustomerEntry, WebhookSettings, SqlArColumns])
def test_every_setting_is_documented(model: type[BaseModel]) -> None:
    missing = [name for name in model.model_fields if f"{name}:" not in DOCS and f"`{name}`" not in DOCS]
    assert missing == []


def test_the_generic_keys_and_the_status_columns_are_documented() -> None:
    assert all(f"`{name}`" in DOCS or f"{name}:" in DOCS for name in AdapterConfig.model_fields)
    assert ", ".join(STATUS_COLUMNS) in " ".join(DOCS.split())


def test_every_configuration_example_in_the_docs_is_valid() -> None:
    import yaml

    from hub.ar.registry import ArAdapterRegistry

    registry = ArAdapterRegistry()
    checked = 0
    for block in DOCS.split("```yaml")[1:]:
        text = block.split("```", 1)[0]
        # One code block may show alternatives that repeat `ar:`: check each document on its own.
        for chunk in text.split("\n\n"):
            data = yaml.safe_load(chunk)
            if not isinstance(data, dict):
                continue
            for where in ("ar", "feedback"):
                if where in data:
                    adapter = AdapterConfig.model_validate(data[where])
                    registry.get(adapter.kind).settings_model.model_validate(adapter.settings)
                    checked += 1
    assert checked >= 6
