"""The command line is a thin face (DESIGN.md, issue 16): `cli.py` assembles the command groups of
hub/commands/, and the command code parses, calls the hub's services and prints. It imports only the
services and what every layer may use (config, errors, model), never the store, a connector, a
mapping, the status sync or the rules language's internals; it opens no store session and calls no
private helper of a service. Checked on the source, lazy imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"hub", "connectors", "mappings", "rules", "status_sync", "cli"}

#: What command code may import from the project: the command package itself, the bottom, and the
#: hub's service modules (each takes the hub, or a path, and returns a result to print).
COMMANDS_MAY_IMPORT = {
    "hub.commands",
    # the bottom
    "hub.config",
    "hub.config_file",
    "hub.errors",
    "hub.model",
    "hub.money",
    # services for collectors, rules maintainers and operators
    "hub.services",
    "hub.invoice_actions",
    "hub.operations",
    "hub.worklist",
    "hub.corrections",
    "hub.unplaced",
    "hub.rules_tools",
    "hub.rules_schema",
    "hub.rules_new",
    "hub.recipe_check",
    "hub.config_check",
    "hub.config_docs",
    "hub.store_schema",
    "hub.readonly",
    "hub.text_table",  # plain-text tables for long worklists
    "hub.registry",
    "hub.ar.files",
    "hub.ar.webhook",
    "hub.signing",
    # what runs: the hub and its daemon, the web pages, the demo, logging
    "hub.runtime",
    "hub.daemon",
    "hub.web",
    "hub.demo",
    "hub.logs",
}
#: What command code never imports, whatever the list above grows to (../shared/architecture.json:
#: "commands go through services").
NEVER = ("hub.store", "connectors", "mappings", "status_sync", "rules", "hub.pipeline", "hub.preflight")


def command_files() -> list[Path]:
    return [ROOT / "cli.py", *sorted((ROOT / "hub" / "commands").rglob("*.py"))]


def _within(name: str, prefixes: set[str] | tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(path: Path) -> list[str]:
    """What is wrong with one file of command code: imports outside the allowed list, private names
    taken from a module, store sessions opened, the store handled."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [(node.module, [alias.name for alias in node.names])]
        else:
            modules = []
        for module, names in modules:
            if module.split(".")[0] not in PROJECT:
                continue
            if _within(module, NEVER) or not _within(module, COMMANDS_MAY_IMPORT):
                wrong.append(f"{path.name} imports {module}")
            for name in names or ():
                if name.startswith("_"):
                    wrong.append(f"{path.name} takes the private {module}.{name}")
        # `hub.store` (the hub a command opened) and any `.session()`: the store is the services' business.
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "session"
        ):
            wrong.append(f"{path.name} opens a session (line {node.lineno}): ask a service")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "store"
            and isinstance(node.value, ast.Name)
            and node.value.id == "hub"
        ):
            wrong.append(f"{path.name} uses hub.store (line {node.lineno}): ask a service")
    return wrong


@pytest.mark.parametrize("path", command_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_command_code_calls_services_only(path: Path) -> None:
    assert violations(path) == []


def test_cli_is_the_assembly_of_the_command_groups() -> None:
    imported = {
        node.module
        for node in ast.walk(ast.parse((ROOT / "cli.py").read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"__future__", "hub.commands"}
    assert len((ROOT / "cli.py").read_text(encoding="utf-8").splitlines()) < 60


def test_the_command_check_sees_what_a_command_must_not_do(tmp_path: Path) -> None:
    # The check itself must be able to fail: lazy imports count, and so do private helpers and sessions.
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from hub.services import _invoice_row, timeline\n"
        "import hub.store.tables\n"
        "def show(hub):\n"
        "    from connectors.coupa import CoupaConnector\n"
        "    from rules.engine import compile_rules\n"
        "    from hub.pipeline.submit import submit_profile\n"
        "    with hub.store.session() as session:\n"
        "        return session\n",
        encoding="utf-8",
    )
    assert sorted(violations(bad)) == [
        "bad.py imports connectors.coupa",
        "bad.py imports hub.pipeline.submit",
        "bad.py imports hub.store.tables",
        "bad.py imports rules.engine",
        "bad.py opens a session (line 7): ask a service",
        "bad.py takes the private hub.services._invoice_row",
        "bad.py uses hub.store (line 7): ask a service",
    ]


def test_every_command_sets_up_logging_when_it_runs() -> None:
    # The log (with its secret redaction) is set up by context.Command when a command runs: a command
    # made without it would log through Python's last-resort handler, unredacted.
    from typer.main import get_command

    import cli
    from hub.commands.context import Command

    def leaves(command: Any, path: str) -> list[tuple[str, Any]]:
        children = getattr(command, "commands", None)
        if children is None:
            return [(path, command)]
        return [leaf for name, child in children.items() for leaf in leaves(child, f"{path} {name}")]

    found = leaves(get_command(cli.app), "portalhub")
    assert len(found) > 30
    assert [path for path, command in found if not isinstance(command, Command)] == []


def test_a_command_turns_the_garbage_collector_back_on_a_read_only_one_leaves_it_off() -> None:
    """`cli.main` turns the collector off while the command line is read: the daemon and every command
    that may run long get it back; a collector's question (hub/commands/collectors.py) answers without it."""
    import gc

    from hub.commands.context import Command, ReadOnlyCommand

    seen: dict[str, bool] = {}
    for kind in (Command, ReadOnlyCommand):

        def probe(name: str = kind.__name__) -> None:
            seen[name] = gc.isenabled()

        gc.disable()
        try:
            kind(name="probe", callback=probe).main([], standalone_mode=False)
        finally:
            gc.enable()
    assert seen == {"Command": True, "ReadOnlyCommand": False}


def test_the_collectors_commands_are_read_only_commands() -> None:
    import typer.main

    import cli

    group: Any = typer.main.get_command(cli.app)  # a group: it has `commands`
    kinds = {
        name: type(group.commands[name]).__name__
        for name in ("status", "show", "rejections", "quarantine", "run", "web")
    }
    assert kinds == {
        "status": "ReadOnlyCommand",
        "show": "ReadOnlyCommand",
        "rejections": "ReadOnlyCommand",
        "quarantine": "ReadOnlyCommand",
        "run": "Command",
        "web": "Command",
    }
