"""Which way imports go (DESIGN.md): cli -> hub -> connectors, status_sync -> mappings, rules ->
hub.model / hub.errors. Checked on the source, so a wrong import fails here before it tangles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The hub's core that the lower layers may use (model and errors for everyone; store/lifecycle for status_sync).
BOTTOM = {"hub.model", "hub.errors"}
ALLOWED = {
    "mappings": BOTTOM | {"mappings"},
    "rules": BOTTOM | {"rules"},
    "connectors": BOTTOM | {"connectors", "mappings", "rules"},
    "status_sync": BOTTOM
    | {
        "status_sync",
        "connectors",
        "mappings",
        "rules",
        "hub.store",
        "hub.lifecycle",
        "hub.ar",
        "hub.secrets",
        "hub.clock",
    },
}
#: hub.model and hub.errors are the bottom: they import nothing of the project.
BOTTOM_ALLOWED: set[str] = {"hub.errors", "hub.model"}


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in {"hub", "connectors", "mappings", "rules", "status_sync", "cli"}:
                found.add(name)
    return found


def _allowed(name: str, allowed: set[str]) -> bool:
    return any(name == a or name.startswith(a + ".") for a in allowed)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layers_import_only_downwards(package: str) -> None:
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _project_imports(path):
            if not _allowed(name, ALLOWED[package]):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_model_and_errors_import_nothing_of_the_project() -> None:
    for module in ("model", "errors"):
        assert _project_imports(ROOT / "hub" / f"{module}.py") <= BOTTOM_ALLOWED


def test_nothing_imports_the_cli() -> None:
    importers = [
        p
        for p in ROOT.rglob("*.py")
        if ".venv" not in p.parts
        and p.name != "cli.py"
        and "tests" not in p.parts
        and "cli" in _project_imports(p)
    ]
    assert importers == []


#: Sandbox portals that judge what the hub sends with their own parsing and the official schema (issue
#: 14): they, and every sandbox module they use, import nothing of mappings/, hub/, rules/ or the
#: connectors outside connectors/sandbox/.
INDEPENDENT_SANDBOXES = ["connectors/sandbox/openinvoice"]


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@pytest.mark.parametrize("folder", INDEPENDENT_SANDBOXES)
def test_independent_sandboxes_import_only_the_sandbox(folder: str) -> None:
    pending = sorted((ROOT / folder).rglob("*.py"))
    seen: set[Path] = set()
    wrong = []
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _project_imports(path):
            if not _allowed(name, {"connectors.sandbox"}):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
                continue
            used = _module_file(name)
            if used is not None:
                pending.append(used)
    assert len(seen) > 5  # the walk did reach the package's modules
    assert wrong == []
