"""The collectors' commands on a real demo workspace (issue 18): what `validate` checks, full text at
every width, typos refused, one lookup for every number the buyer sees, quarantined records named,
no deployment secret for reading, confirmation before changing what a portal holds, the next step
after a portal's refusal, and no connector or rules engine loaded to answer a read-only question."""

from __future__ import annotations

import inspect
import io
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli import app
from hub.commands import context
from hub.commands import output as command_output
from hub.demo import DemoWorkspace, prepare, run_until_settled
from hub.model import RejectionCategory
from hub.next_steps import NEXT_STEPS
from hub.worklist import said

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorkspace]:
    ws = prepare(tmp_path_factory.mktemp("collectors"))
    run_until_settled(ws)
    yield ws
    ws.close()


def invoke(
    ws: DemoWorkspace, *args: str, config: Path | None = None, **kwargs: object
) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config or ws.config_path), *args], **kwargs)  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


# --- 2. the fix is never cut -----------------------------------------------------------------------------------
def _column(output: str, index: int) -> str:
    """Every fragment of one column (1-based) of the rich tables in `output`, joined, without
    whitespace: a wrapped cell's lines follow one another."""
    fragments = [line.split("│")[index] for line in output.splitlines() if line.count("│") == 8]
    return re.sub(r"\s+", "", "".join(fragments))


@pytest.mark.parametrize("width", [80, 100, None])  # None: piped (the CLI's own console)
def test_the_worklist_wraps_the_portals_words_and_the_fix_in_full(
    workspace: DemoWorkspace, width: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, listing, _ = invoke(workspace, "rejections", "--json")
    rows = [r for r in json.loads(listing) if r["invoice_number"]]
    buffer = io.StringIO()
    if width is not None:
        monkeypatch.setattr(command_output, "out", Console(file=buffer, width=width, color_system=None))
    code, output, _ = invoke(workspace, "rejections")
    text = buffer.getvalue() if width is not None else output
    assert code == 1
    assert "…" not in text
    assert re.search(r"┃\s*Portal\s", text)  # the columns: ..., Days, Portal said / rule, What to do
    words, fixes = _column(text, 6), _column(text, 7)
    for row in rows:
        fix = f"{row['hint']} ({row['who']})"
        assert re.sub(r"\s+", "", fix) in fixes, (width, row["invoice_number"])
        found = (
            "; ".join(f"[{r['rule_id']}] {r['message']}" for r in row["rules"])
            if row["rules"]
            else said(row["portal_code"], row["portal_words"]) or row["reason"] or ""
        )
        assert re.sub(r"\s+", "", found) in words, (width, row["invoice_number"])


# --- 3. typos are not "nothing to do" -------------------------------------------------------------------------
def test_an_unknown_profile_or_customer_is_a_usage_error_with_a_suggestion(workspace: DemoWorkspace) -> None:
    code, output, error = invoke(workspace, "rejections", "--portal", "acme-copa")
    assert code == 2 and "need fixing" not in output
    assert "no profile 'acme-copa'" in error and "did you mean 'acme-coupa'" in error
    code, _, error = invoke(workspace, "rejections", "--customer", "C-0000")
    assert code == 2 and "no customer 'C-0000'" in error and "did you mean" in error
    code, _, error = invoke(workspace, "rejections", "--customer", "c-1001", "--json")
    assert code == 2 and "did you mean 'C-1001'" in error
    code, output, _ = invoke(workspace, "rejections", "--customer", "C-1001", "--json")
    assert code == 1 and {r["customer_id"] for r in json.loads(output)} == {"C-1001"}


def test_conflicting_output_flags_are_refused(workspace: DemoWorkspace) -> None:
    code, output, error = invoke(workspace, "rejections", "--grouped")
    assert code == 2 and "--grouped" in error and "--json" in error and output == ""
    code, output, error = invoke(workspace, "rejections", "--csv", "--json")
    assert code == 2 and "conflict" in error and output == ""
    code, output, _ = invoke(workspace, "rejections", "--grouped", "--json")
    assert code == 1 and "label" in json.loads(output)[0]


# --- 4. one lookup for every number the buyer sees; quarantined records -----------------------------------
def test_show_finds_an_invoice_by_its_correction_number_in_any_case(workspace: DemoWorkspace) -> None:
    store = sqlite3.connect(workspace.root / "portalhub.db")
    with store:
        store.execute(
            "UPDATE invoices SET portal_invoice_number = 'INV-24018-R1' WHERE invoice_number = 'INV-24018'"
        )
    store.close()
    for asked in ("INV-24018-R1", "inv-24018-r1", "inv-24018"):
        code, output, error = invoke(workspace, "show", asked, "--json")
        assert code == 0, error
        assert json.loads(output)["invoice"]["invoice_number"] == "INV-24018"
    code, _, error = invoke(workspace, "audit", "inv-24018-R1")
    assert code == 0, error
    # Every command that takes an invoice number looks it up the same way (hub.corrections.find_invoice).
    code, output, error = invoke(workspace, "validate", "inv-24018-r1", "--stored", "--json")
    assert code in (0, 1), error
    assert json.loads(output)["invoice_number"] == "INV-24018"
    code, _, error = invoke(workspace, "submit", "inv-24018-r1")
    assert "no invoice" not in error, error  # found: sent, or refused for its state


def test_a_quarantined_record_says_so_and_why(workspace: DemoWorkspace) -> None:
    code, _, error = invoke(workspace, "show", "INV-24402")
    assert code == 2
    assert "INV-24402 is quarantined" in error and "ISO 4217" in error
    assert "is it posted" not in error
    code, output, _ = invoke(workspace, "quarantine", "--json")
    assert code == 1
    records = {q["invoice_number"]: q for q in json.loads(output)}
    assert {"INV-24401", "INV-24402", "INV-24403", "INV-24404"} <= set(records)
    assert "C-7777" in records["INV-24403"]["reason"]
    code, output, _ = invoke(workspace, "quarantine")
    assert code == 1 and "2026-13-45" in output


# --- 7. the next step after a portal's refusal ------------------------------------------------------------
def test_every_rejection_category_has_a_next_step() -> None:
    assert set(NEXT_STEPS) == set(RejectionCategory)
    assert all(sentence.endswith(".") for sentence in NEXT_STEPS.values())


def test_show_gives_the_next_step_and_where_a_rule_would_have_caught_it(workspace: DemoWorkspace) -> None:
    code, output, _ = invoke(workspace, "show", "INV-24016", "--json")
    step = json.loads(output)["next_step"]
    assert step["category"] == "po" and step["sentence"] == NEXT_STEPS[RejectionCategory.PO]
    assert step["suggest"] == "portalhub rules suggest --profile acme-coupa"
    file, _, line = step["rules_file"].rpartition(":")
    assert Path(file).name == "acme-coupa.yaml"
    assert Path(file).read_text().splitlines()[int(line) - 1].startswith("rules:")
    code, output, _ = invoke(workspace, "show", "INV-24016")
    flat = " ".join(output.split())
    assert code == 0 and "next step (missing/invalid PO)" in flat
    assert "rules suggest --profile acme-coupa" in flat
    _, output, _ = invoke(workspace, "show", "INV-24001", "--json")  # accepted: nothing to do
    assert json.loads(output)["next_step"] is None


# --- 6. least privilege ----------------------------------------------------------------------------------
def test_reading_needs_no_deployment_secret(
    workspace: DemoWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AR_WEBHOOK_SECRET", raising=False)
    config = workspace.root / "portalhub-webhook.yaml"
    config.write_text(
        workspace.config_path.read_text()
        + "feedback:\n  kind: webhook\n  url: http://127.0.0.1:9/ar\n  secret: env:AR_WEBHOOK_SECRET\n"
    )
    for command in (["status"], ["show", "INV-24016"], ["rejections", "--json"], ["quarantine"]):
        code, _, error = invoke(workspace, *command, config=config)
        assert code in (0, 1), (command, error)
        assert "AR_WEBHOOK_SECRET" not in error


def test_cancel_and_resubmit_ask_first(workspace: DemoWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    _, before, _ = invoke(workspace, "show", "INV-24016", "--json")
    for command in (["cancel", "INV-24016"], ["resubmit", "INV-24016"]):
        code, _, error = invoke(workspace, *command)  # no terminal, no --yes
        assert code == 2 and "pass --yes" in error
    monkeypatch.setattr(context, "interactive", lambda: True)
    code, _, error = invoke(workspace, "cancel", "INV-24016", input="n\n")
    assert code == 2 and "nothing done" in error and "Withdraw INV-24016" in error
    _, after, _ = invoke(workspace, "show", "INV-24016", "--json")
    assert json.loads(after)["attempts"] == json.loads(before)["attempts"]  # nothing went out


# --- 1. validate checks what AR holds now -----------------------------------------------------------------
def test_validate_reads_ar_afresh_and_says_what_it_checked(workspace: DemoWorkspace) -> None:
    code, output, _ = invoke(workspace, "validate", "INV-24015", "--json")
    assert code == 1 and json.loads(output)["checked"] == "ar"
    ar = sqlite3.connect(workspace.ar_path)
    with ar:  # the collector fixes the PO in AR
        ar.execute("UPDATE ar_invoices SET po_number = 'PO-100101' WHERE invoice_number = 'INV-24015'")
    ar.close()
    code, output, _ = invoke(workspace, "validate", "INV-24015", "--json")
    checked = json.loads(output)
    assert code == 0 and checked["passed"] and checked["checked"] == "ar"
    assert "the AR system (read now" in checked["read_from"]
    code, output, _ = invoke(workspace, "validate", "INV-24015", "--stored", "--json")
    stored = json.loads(output)
    assert code == 1 and stored["checked"] == "stored"
    assert [v["rule_id"] for v in stored["violations"]] == ["acme-po-format"]
    code, output, _ = invoke(workspace, "validate", "INV-24015")
    assert code == 0 and "checked: the AR system (read now" in " ".join(output.split())


# --- 8. read-only questions load no connector and no rules engine ----------------------------------------
HEAVY = (
    "zeep",
    "playwright",
    "lxml",
    "connectors",
    "mappings",
    "rules.engine",
    "rules.loader",
    "httpx",
    "alembic",
    # With its kept answers in place (hub/readonly/kept.py), a question reads no YAML and builds no
    # pydantic model: pydantic alone is ~60 ms to import, and Typer 0.29's parameter adapters over 150.
    "pydantic",
    "yaml",
)
#: The bounded YAML reader (rules files in outline) sits in mappings beside the safe XML parsing; it loads
#: PyYAML and the error tree only.
LIGHT = ("mappings", "mappings.yaml_safety")


@pytest.mark.parametrize(
    "command", [["status"], ["show", "INV-24016"], ["rejections"], ["quarantine"], ["--help"]]
)
def test_read_only_commands_do_not_import_connectors_or_the_rules_engine(
    workspace: DemoWorkspace, command: list[str]
) -> None:
    probe = (
        "import sys\n"
        f"sys.argv = ['portalhub', '--config', {str(workspace.config_path)!r}, *{command!r}]\n"
        "import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "import json\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    for _ in range(2):  # the first run keeps the answers worked out from the files; the second reads them
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert "cli" in loaded
    heavy = sorted(
        m for m in loaded if m not in LIGHT and any(m == h or m.startswith(h + ".") for h in HEAVY)
    )
    assert heavy == [], f"{command} loaded {heavy}"
    # Plain text (hub/commands/output.py `page`, `line`): rich is ~40 ms to import.
    assert sorted(m for m in loaded if m.split(".")[0] == "rich") == []
    if command[0] != "--help":
        assert "hub.store_reader" in loaded  # it did answer from the store...
        # ...through the database driver: SQLAlchemy and SQLModel cost ~0.3 to 0.7 s to import.
        orm = sorted(m for m in loaded if m.split(".")[0] in ("sqlalchemy", "sqlmodel"))
        assert orm == [], f"{command} loaded {orm[:5]}"


def _callbacks(typer_app: Any) -> Iterator[tuple[str, Any]]:
    for info in typer_app.registered_commands:
        yield info.callback.__name__, info.callback
    for group in typer_app.registered_groups:
        yield from _callbacks(group.typer_instance)


def test_every_command_signature_holds_objects_not_strings() -> None:
    """Typer reads the signature of every command to build the tree at each start; an annotation kept
    as a string (`from __future__ import annotations` in a command module) is compiled then: ~35 ms of
    every command, read-only questions included (hub/commands/__init__.py)."""
    found = dict(_callbacks(app))
    assert {"status", "show", "rejections", "validate", "run"} <= set(found)
    strings = sorted(
        f"{name}({parameter})"
        for name, callback in found.items()
        for parameter, annotation in inspect.get_annotations(callback).items()
        if isinstance(annotation, str)
    )
    assert strings == []
