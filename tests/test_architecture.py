"""Which way imports go (DESIGN.md): cli -> hub -> connectors, status_sync -> mappings, rules ->
hub.model / hub.errors. Checked on the source, so a wrong import fails here before it tangles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The hub's core that the lower layers may use (model, errors, the portal profile and secrets for everyone;
#: store/lifecycle for status_sync). The profile and the secrets sit at the bottom with the model and errors
#: (../shared/architecture.json): connectors and the status sync never import the rules language.
BOTTOM = {"hub.model", "hub.errors", "hub.secrets", "hub.profile"}
ALLOWED = {
    "mappings": BOTTOM | {"mappings"},
    # The bounded YAML reader is shared with the web portal recipes, so it lives with the safe XML parsing.
    "rules": BOTTOM | {"rules", "mappings.yaml_safety"},
    "connectors": BOTTOM | {"connectors", "mappings"},
    "status_sync": BOTTOM
    | {
        "status_sync",
        "connectors",
        "mappings",
        "hub.store",
        "hub.lifecycle",
        "hub.ar",
        "hub.secrets",
        "hub.clock",
    },
}
#: The bottom imports nothing of the project but itself.
BOTTOM_ALLOWED: set[str] = BOTTOM


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
    for module in ("model", "errors", "secrets", "profile"):
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


def test_only_the_demo_starts_sandboxes() -> None:
    # ../shared/architecture.json: production code never imports a sandbox portal; the demo (hub/demo/,
    # behind `portalhub demo` and `portalhub sandbox`) starts them through their facades.
    wrong = []
    for package in ("hub", "connectors", "status_sync", "mappings", "rules"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] in (("hub", "demo"), ("connectors", "sandbox")):
                continue
            wrong += [
                f"{relative} imports {name}"
                for name in _project_imports(path)
                if name == "connectors.sandbox" or name.startswith("connectors.sandbox.")
            ]
    assert wrong == []


def test_the_benchmarks_stand_alone() -> None:
    # bench/ runs from a checkout without the test suite: what it shares with the tests lives in bench/
    # (the reliability scenario, the verdict) or in the sandbox facades and hub/demo, never in tests/.
    wrong = []
    for path in sorted((ROOT / "bench").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            wrong += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] == "tests"]
    assert wrong == []


#: The sandbox portals are independent judges of what the hub sends (DESIGN.md, issue 14): they read it
#: with their own code, so none of the hub's mappings, connectors, structure tables, rules or services.
SANDBOX = ROOT / "connectors" / "sandbox"
SANDBOX_FORBIDDEN = ("mappings", "connectors", "hub", "rules", "status_sync", "cli")
#: Sandboxes still reading with the hub's code (strict: a listed one fails as soon as it is clean).
SANDBOX_KNOWN_EXCEPTIONS: dict[str, str] = {}


def _sandbox_parts() -> list[str]:
    return sorted(
        p.stem if p.is_file() else p.name for p in SANDBOX.iterdir() if p.suffix == ".py" or p.is_dir()
    )


def _sandbox_violations(target: Path) -> list[str]:
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    wrong = []
    for path in files:
        for name in _project_imports(path):
            if name == "connectors.sandbox" or name.startswith("connectors.sandbox."):
                continue
            if name.split(".")[0] in SANDBOX_FORBIDDEN:
                wrong.append(f"{path.name} imports {name}")
    return wrong


@pytest.mark.parametrize(
    "part",
    [
        pytest.param(part, marks=pytest.mark.xfail(strict=True, reason=SANDBOX_KNOWN_EXCEPTIONS[part]))
        if part in SANDBOX_KNOWN_EXCEPTIONS
        else part
        for part in _sandbox_parts()
        if part != "__pycache__"
    ],
)
def test_sandboxes_read_with_their_own_code(part: str) -> None:
    target = SANDBOX / part
    assert _sandbox_violations(target if target.is_dir() else target.with_suffix(".py")) == []


def test_the_sandbox_import_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    # The check itself must be able to fail: a lazy import inside a function counts, a sandbox import not.
    (tmp_path / "portal.py").write_text(
        "from connectors.sandbox.clock import SandboxClock\n"
        "from connectors.coupa import CoupaConnector\n"
        "def f():\n    from mappings.cxml_response import parse_response\n    import hub.errors\n",
        encoding="utf-8",
    )
    assert sorted(_sandbox_violations(tmp_path)) == [
        "portal.py imports connectors.coupa",
        "portal.py imports hub.errors",
        "portal.py imports mappings.cxml_response",
    ]
