"""Which way imports go (DESIGN.md, ../shared/architecture.json): cli -> hub -> connectors, status_sync ->
mappings, rules -> hub.model / hub.errors. Checked on the source, so a wrong import fails here before it
tangles.

The status sync is a step like the pipeline's, one layer below the daemon that runs it: it takes the hub
(as the narrow `status_sync.sync_hub.SyncHub`, which the assembled `hub.runtime.Hub` satisfies) and
uses the store, the lifecycle, the AR sink, the clock and the connector contract; never the assembled
hub, the pipeline, the daemon, the rules language or a portal family."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The hub's core that the lower layers may use (model, errors, the portal profile and secrets for everyone;
#: store/lifecycle for status_sync). The profile and the secrets sit at the bottom with the model and errors
#: (../shared/architecture.json): connectors and the status sync never import the rules language.
BOTTOM = {"hub.model", "hub.states", "hub.errors", "hub.secrets", "hub.profile"}
ALLOWED = {
    "mappings": BOTTOM | {"mappings"},
    # The bounded YAML reader is shared with the web portal recipes, and DTD/XSD validation with the
    # families' document checks: both live with the safe XML parsing.
    "rules": BOTTOM | {"rules", "mappings.yaml_safety", "mappings.xml_schema"},
    "connectors": BOTTOM | {"connectors", "mappings"},
    # A step below the daemon: the hub's store, lifecycle, AR sink and clock, and portals only through the
    # connector contract (status_sync/sync_hub.py says what it needs of the hub).
    "status_sync": BOTTOM
    | {
        "status_sync",
        "connectors.base",  # the contract only: what a pushed status means is the family's
        "mappings",
        "hub.store",
        "hub.lifecycle",
        "hub.ar",
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


#: The contract (connectors/base.py, connectors/http.py): all the hub knows of connectors. A family module
#: (connectors.coupa, connectors.ariba, connectors.cxml, connectors.openinvoice, connectors.webportal, or a
#: third party's) is reached through the registry only, so a new family edits nothing in hub/.
CONTRACT = {"connectors.base", "connectors.http"}
#: hub/demo/ starts the sandbox portals for `portalhub demo` (issue 16 moves that wiring out).
HUB_FAMILY_EXEMPT = ROOT / "hub" / "demo"


def _family_imports(package: Path, exempt: Path | None = None) -> list[str]:
    wrong = []
    for path in sorted(package.rglob("*.py")):
        if exempt is not None and exempt in path.parents:
            continue
        for name in _project_imports(path):
            if name.split(".")[0] == "connectors" and not _allowed(name, CONTRACT):
                wrong.append(f"{path.relative_to(package)} imports {name}")
    return wrong


def test_the_hub_knows_connectors_only_through_the_contract() -> None:
    assert _family_imports(ROOT / "hub", exempt=HUB_FAMILY_EXEMPT) == []


def test_the_family_import_check_sees_a_family_import(tmp_path: Path) -> None:
    (tmp_path / "service.py").write_text(
        "from connectors.base import Connector\n"
        "def f():\n    from connectors.cxml import CxmlConnector\n    import connectors.openinvoice.settings\n",
        encoding="utf-8",
    )
    found = sorted(line.split(" imports ")[1] for line in _family_imports(tmp_path))
    assert found == ["connectors.cxml", "connectors.openinvoice.settings"]


def test_model_and_errors_import_nothing_of_the_project() -> None:
    for module in ("model", "states", "errors", "secrets", "profile"):
        assert _project_imports(ROOT / "hub" / f"{module}.py") <= BOTTOM_ALLOWED


#: Who runs the status sync steps: the daemon (the HTTP listener they share with the web pages is
#: hub/http_listener.py).
STATUS_SYNC_RUNNERS = {"hub/daemon.py"}


def test_only_the_daemon_runs_the_status_sync() -> None:
    importers = {
        str(p.relative_to(ROOT))
        for package in ("hub", "connectors", "mappings", "rules")
        for p in (ROOT / package).rglob("*.py")
        if any(name.split(".")[0] == "status_sync" for name in _project_imports(p))
    }
    assert importers == STATUS_SYNC_RUNNERS


def test_the_sync_steps_take_the_hub_like_the_pipeline_steps() -> None:
    # mypy checks that the daemon's hub satisfies the protocol; this checks that the steps take it first.
    import inspect

    from hub.runtime import Hub
    from status_sync import feedback, poller
    from status_sync.sync_hub import SyncHub

    for step in (poller.poll_profile, feedback.deliver):
        first = next(iter(inspect.signature(step).parameters.values()))
        assert (first.name, first.annotation) == ("hub", "SyncHub")
    wanted = {name for name in vars(SyncHub) if not name.startswith("_")}
    assert "connector" in wanted and wanted <= set(Hub.__dataclass_fields__) | set(vars(Hub))


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
