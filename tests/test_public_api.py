"""The API third-party connectors and AR adapters import is pinned: each module's `__all__` names what
exists, and docs/public-api.md lists exactly those names, so neither drifts without the other."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGE = DOCS / "public-api.md"
#: The modules a package outside this repository may import from.
PUBLIC = (
    "hub.model",
    "hub.errors",
    "hub.profile",
    "hub.secrets",
    "hub.ar",
    "connectors.base",
    "connectors.http",
    "connectors.settings",
    "connectors.polling",
    "connectors.multipart",
)
_CODE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _documented_imports(text: str) -> dict[str, list[list[str]]]:
    """module -> the name lists of every `from <module> import ...` in the page's Python blocks."""
    found: dict[str, list[list[str]]] = {}
    for block in _CODE.findall(text):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.setdefault(node.module, []).append([alias.name for alias in node.names])
    return found


@pytest.mark.parametrize("module", PUBLIC)
def test_every_exported_name_exists(module: str) -> None:
    loaded = importlib.import_module(module)
    exported = loaded.__all__
    assert exported, f"{module} pins no names"
    assert len(exported) == len(set(exported)), f"{module}.__all__ names something twice"
    assert [name for name in exported if not hasattr(loaded, name)] == []


@pytest.mark.parametrize("module", PUBLIC)
def test_the_documented_list_is_the_modules_all(module: str) -> None:
    documented = _documented_imports(PAGE.read_text(encoding="utf-8")).get(module)
    assert documented is not None, f"docs/public-api.md has no `from {module} import ...`"
    assert len(documented) == 1, f"docs/public-api.md imports from {module} more than once"
    assert sorted(documented[0]) == sorted(importlib.import_module(module).__all__)


def test_the_page_documents_only_public_modules() -> None:
    assert set(_documented_imports(PAGE.read_text(encoding="utf-8"))) == set(PUBLIC)


def test_the_other_docs_import_only_pinned_names() -> None:
    # A guide (ar-adapters.md, ...) must not teach an import the public API does not promise.
    wrong = []
    for page in sorted(DOCS.glob("*.md")):
        for module, lists in _documented_imports(page.read_text(encoding="utf-8")).items():
            if module not in PUBLIC:
                continue
            pinned = set(importlib.import_module(module).__all__)
            wrong.extend(
                f"{page.name}: {module}.{name}" for names in lists for name in names if name not in pinned
            )
    assert wrong == []


def test_the_documented_list_check_reads_every_form() -> None:
    # The parser must see one-line and parenthesised imports, and only inside Python blocks.
    text = (
        "from hub.model import Invoice\n\n"
        "```python\nfrom hub.errors import ConfigError, PortalError\n"
        "from hub.ar import (\n    ArAdapter,\n    ArRecord,\n)\n```\n"
    )
    assert _documented_imports(text) == {
        "hub.errors": [["ConfigError", "PortalError"]],
        "hub.ar": [["ArAdapter", "ArRecord"]],
    }
