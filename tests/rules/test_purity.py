"""`rules/` and `mappings/` are pure (DESIGN.md): no I/O libraries, no clock, no environment.

What they need (now, payloadID, profile) is passed in; this test keeps it that way by reading their source.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ("rules", "mappings")
FORBIDDEN_MODULES = frozenset(
    {
        "httpx",
        "sqlmodel",
        "sqlalchemy",
        "apscheduler",
        "playwright",
        "zeep",
        "connectors",
        "status_sync",
        "cli",
    }
)
#: The only parts of the hub the pure layers may use: the bottom (the rules language extends the portal
#: profile and checks that secrets are written as references; it never resolves one).
ALLOWED_HUB = frozenset({"hub", "hub.model", "hub.states", "hub.errors", "hub.profile", "hub.secrets"})
#: Clock and environment, by their full names (aliases are resolved before comparing).
FORBIDDEN_NAMES = frozenset(
    {
        "os.environ",
        "os.getenv",
        "os.environb",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
        "time.time",
        "time.time_ns",
    }
)


def pure_modules() -> list[Path]:
    return sorted(path for package in PURE_PACKAGES for path in (ROOT / package).rglob("*.py"))


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def impurities(source: str) -> list[str]:
    """What in this module's source breaks purity, as 'line: what'."""
    tree = ast.parse(source)
    found: list[str] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        imported: list[tuple[str, str]] = []  # (full name, local name)
        if isinstance(node, ast.Import):
            imported = [(a.name, a.asname or a.name.split(".")[0]) for a in node.names]
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported = [(f"{node.module}.{a.name}", a.asname or a.name) for a in node.names]
            for full, local in imported:
                aliases[local] = full
        for full, _local in imported:
            top = full.split(".")[0]
            if top in FORBIDDEN_MODULES:
                found.append(f"{node.lineno}: imports {full}")
            elif top == "hub" and ".".join(full.split(".")[:2]) not in ALLOWED_HUB:
                found.append(
                    f"{node.lineno}: imports {full} (only the bottom: hub.model, hub.errors, hub.profile, hub.secrets)"
                )
            elif full in FORBIDDEN_NAMES:
                found.append(f"{node.lineno}: imports {full}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted is None:
                continue
            first, _, rest = dotted.partition(".")
            resolved = aliases.get(first, first) + (f".{rest}" if rest else "")
            if resolved in FORBIDDEN_NAMES:
                found.append(f"{node.lineno}: uses {resolved}")
    return found


def test_there_are_modules_to_check() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in pure_modules()}
    assert {
        "rules/engine.py",
        "rules/loader.py",
        "mappings/cxml_invoice.py",
        "mappings/xml_safety.py",
    } <= names


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_module_is_pure(path: Path) -> None:
    assert impurities(path.read_text(encoding="utf-8")) == []


def test_the_checker_catches_what_it_should() -> None:
    bad = textwrap.dedent(
        """\
        import os
        import time as clock
        import datetime as dt
        import httpx
        from sqlalchemy import select
        from apscheduler.schedulers.background import BackgroundScheduler
        from datetime import date, datetime as DT
        from os import environ
        from hub.store.database import Store
        import playwright.sync_api
        import zeep, sqlmodel

        def f():
            a = os.environ["X"]
            b = os.getenv("Y")
            c = DT.now()
            d = date.today()
            e = clock.time()
            g = dt.datetime.utcnow()
            h = dt.date.today()
        """
    )
    found = impurities(bad)
    for expected in [
        "4: imports httpx",
        "5: imports sqlalchemy.select",
        "6: imports apscheduler.schedulers.background.BackgroundScheduler",
        "8: imports os.environ",
        "9: imports hub.store.database.Store",
        "10: imports playwright.sync_api",
        "11: imports zeep",
        "11: imports sqlmodel",
        "14: uses os.environ",
        "15: uses os.getenv",
        "16: uses datetime.datetime.now",
        "17: uses datetime.date.today",
        "18: uses time.time",
        "19: uses datetime.datetime.utcnow",
        "20: uses datetime.date.today",
    ]:
        assert any(f.startswith(expected) for f in found), (expected, found)


def test_the_checker_lets_pure_code_through() -> None:
    good = textwrap.dedent(
        """\
        from datetime import UTC, date, datetime, timedelta
        from decimal import Decimal
        from lxml import etree
        from hub.model import Invoice
        from hub.errors import MappingError

        def f(today: date, now: datetime) -> datetime:
            return datetime.fromisoformat("2026-01-01T00:00:00+00:00") + timedelta(days=1)
        """
    )
    assert impurities(good) == []


def test_importing_the_pure_layers_pulls_in_nothing_impure() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in pure_modules()
    ]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(result.stdout))
    assert {name for name in loaded if name.split(".")[0] in FORBIDDEN_MODULES} == set()
    assert {name for name in loaded if name.split(".")[0] == "hub"} <= ALLOWED_HUB
