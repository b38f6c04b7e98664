"""The command line on a real demo workspace: exit codes, tables and --json."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from hub.demo import DemoWorkspace, prepare, run_until_settled

runner = CliRunner()
FIXTURE_RULES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorkspace]:
    ws = prepare(tmp_path_factory.mktemp("cli"))
    run_until_settled(ws)
    yield ws
    ws.close()


def invoke(ws: DemoWorkspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(ws.config_path), *args])
    return result.exit_code, result.stdout


def test_status_counts_every_invoice(workspace: DemoWorkspace) -> None:
    code, output = invoke(workspace, "status", "--json")
    assert code == 0
    data = json.loads(output)
    total = sum(sum(counts.values()) for counts in data["profiles"].values())
    ar = sqlite3.connect(workspace.ar_path)
    records = ar.execute("SELECT count(*) FROM ar_invoices").fetchone()[0]
    ar.close()
    assert data["quarantined"] >= 4  # the four malformed demo records, at least
    assert total + data["quarantined"] == records  # every AR record is an invoice or quarantined


def test_show_prints_the_timeline_with_reasons(workspace: DemoWorkspace) -> None:
    code, output = invoke(workspace, "show", "INV-24015")
    assert code == 0
    assert "BLOCKED" in output and "[acme-po-format]" in output and "PO-10010" in output
    code, data = invoke(workspace, "show", "INV-24001", "--json")
    timeline = json.loads(data)
    assert [e["to"] for e in timeline["events"]][:4] == ["NEW", "READY", "SUBMITTING", "SUBMITTED"]
    assert timeline["attempts"][0]["outcome"] == "accepted"


def test_show_unknown_invoice_is_a_usage_error(workspace: DemoWorkspace) -> None:
    result = runner.invoke(app, ["--config", str(workspace.config_path), "show", "NOPE-1"])
    assert result.exit_code == 2 and "no invoice 'NOPE-1'" in result.stderr


def test_rejections_worklist_and_filters(workspace: DemoWorkspace) -> None:
    code, output = invoke(workspace, "rejections", "--json")
    assert code == 1  # something to fix
    rows = json.loads(output)
    numbers = {row["invoice_number"]: row for row in rows}
    assert numbers["INV-24016"]["state"] == "REJECTED" and numbers["INV-24016"]["category"] == "po"
    assert numbers["INV-24015"]["hint"].startswith("Copy the PO number exactly")
    assert numbers["INV-24301"]["who"].startswith("AR operations")
    code, output = invoke(workspace, "rejections", "--portal", "pbe-coupa", "--json")
    assert {row["profile_id"] for row in json.loads(output)} == {"pbe-coupa"}
    code, output = invoke(workspace, "rejections", "--customer", "C-NOBODY", "--json")
    assert code == 2 and output == ""  # a typo, not "nothing to do" (tests/test_cli_collectors.py)
    code, _ = invoke(workspace, "rejections", "--since", "yesterday-ish")
    assert code == 2


def test_validate_exit_codes(workspace: DemoWorkspace) -> None:
    code, output = invoke(workspace, "validate", "INV-24114", "--json")
    assert code == 1
    assert [v["rule_id"] for v in json.loads(output)["violations"]] == ["coupa-uom-code"]
    code, output = invoke(workspace, "validate", "INV-24101")
    assert code == 0 and "passes pre-flight" in output


def test_validate_a_json_file(workspace: DemoWorkspace, tmp_path: Path) -> None:
    from tests.factories import make_invoice

    path = tmp_path / "invoice.json"
    path.write_text(make_invoice("X-1", customer="C-1001", po="PO-12").model_dump_json())
    code, output = invoke(workspace, "validate", str(path), "--profile", "acme-coupa", "--json")
    assert code == 1 and "acme-po-format" in output
    path.write_text('{"invoice_number": "X-2"}')
    result = runner.invoke(app, ["--config", str(workspace.config_path), "validate", str(path)])
    assert result.exit_code == 1 and "is not a valid invoice" in result.stderr


def test_submit_refuses_an_invoice_that_is_not_ready(workspace: DemoWorkspace) -> None:
    result = runner.invoke(app, ["--config", str(workspace.config_path), "submit", "INV-24015"])
    assert result.exit_code == 2 and "is BLOCKED, not READY" in result.stderr


def test_rules_check(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "check", str(FIXTURE_RULES)])
    assert result.exit_code == 0 and "acme-coupa" in result.stdout
    bad = tmp_path / "bad-coupa.yaml"
    bad.write_text(
        "id: bad-coupa\nbuyer: B\nconnector: coupa\nmatch: {customer_id: [X]}\nrules:\n  - id: r1\n    field: po_numbr\n    required: true\n"
    )
    result = runner.invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1 and "bad-coupa.yaml:7" in result.stderr and "po_numbr" in result.stderr
    assert runner.invoke(app, ["rules", "check", str(tmp_path / "missing")]).exit_code == 2


def test_missing_configuration_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--config", str(tmp_path / "nope.yaml"), "status"])
    assert result.exit_code == 2 and "no hub configuration" in result.stderr


def test_help_is_fast_and_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "run", "validate", "submit", "status", "show", "rejections", "rules"):
        assert command in result.stdout
    for group in ("Collectors", "Rules maintainers", "Operators"):
        assert group in result.stdout


@pytest.mark.parametrize("args", [["--help"], ["rules", "--help"], ["status", "--help"]])
def test_help_pages_load_no_hub_service_and_no_store(args: list[str]) -> None:
    # Commands import what they need inside their bodies: a help page pays for Typer and rich only
    # (and the log redaction is set up when a command runs, not for its help).
    probe = (
        "import sys\n"
        f"sys.argv = ['portalhub', *{args!r}]\n"
        "import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    loaded = done.stderr.split()
    assert "cli" in loaded and "hub.commands.collectors" in loaded
    ours = [m for m in loaded if m.split(".")[0] in {"hub", "connectors", "mappings", "rules", "status_sync"}]
    assert [m for m in ours if m != "hub" and not m.startswith("hub.commands")] == []
    heavy = ("sqlalchemy", "sqlmodel", "httpx", "lxml", "yaml", "alembic", "apscheduler")
    assert [m for m in loaded if m.split(".")[0] in heavy] == []


def test_audit_shows_who_did_what_verifies_the_chains_and_exports_the_log(
    workspace: DemoWorkspace, tmp_path: Path
) -> None:
    code, output = invoke(workspace, "audit", "INV-24001", "--json")
    assert code == 0
    events = json.loads(output)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["actor"] == "ar:ar-sql"  # created from the AR record, then moved on by the daemon
    assert any(e["actor"].startswith("daemon:") for e in events) and all(len(e["hash"]) == 64 for e in events)
    code, output = invoke(workspace, "audit", "verify")
    assert code == 0 and "verified" in output
    code, _ = invoke(workspace, "audit", "export", "--since", "30d", "--out", str(tmp_path / "log.jsonl"))
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert code == 0 and {"INV-24001", "INV-24015"} <= {line["invoice_number"] for line in lines}
    assert all(line["hash"] and line["actor"] for line in lines)
