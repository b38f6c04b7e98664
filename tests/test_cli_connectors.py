"""`portalhub connectors`: every installed family as its connector describes itself."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import cli
from hub.registry import ConnectorRegistry


def test_connectors_lists_every_installed_family_with_what_it_can_do() -> None:
    result = CliRunner().invoke(cli.app, ["connectors", "--json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.output)}
    assert set(listed) == set(ConnectorRegistry().names)
    assert listed["ariba"]["document_format"] == "cxml" and "push" in listed["ariba"]["capabilities"]
    assert "push" not in listed["coupa"]["capabilities"] and "cancel" in listed["coupa"]["capabilities"]
    assert listed["openinvoice"]["document_format"] == "pidx"


def test_connectors_table_names_each_family() -> None:
    result = CliRunner().invoke(cli.app, ["connectors"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ConnectorRegistry().names:
        assert name in result.output
