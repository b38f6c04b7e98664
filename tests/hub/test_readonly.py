"""The read-only hub (hub/readonly/): profiles in outline from the rules folder as plain YAML, and
the rules files `status` reports as broken, without the rules engine or any connector."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from hub.readonly import ReadOnlyHub

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rules"


def test_outlines_and_broken_files(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "acme-coupa.yaml", tmp_path / "acme-coupa.yaml")
    (tmp_path / "typo.yaml").write_text("id: typo\nconnector: coupa\nmatch: {customer_id: [C-9]\n")
    (tmp_path / "extra.yaml").write_text(
        "id: extra\nbuyer: B\nconnector: coupa\nmatch: {customer_id: [C-8]}\nconnection: {}\nrulez: []\n"
    )
    view = ReadOnlyHub(cast(Any, SimpleNamespace(rules_dir=tmp_path)), cast(Any, None))
    assert set(view.profile_outlines) == {"acme-coupa"}
    assert "C-1001" in view.profile_outlines["acme-coupa"].customers
    broken = view.broken_profiles
    assert set(broken) == {str(tmp_path / "typo.yaml"), str(tmp_path / "extra.yaml")}
    assert "not valid YAML" in broken[str(tmp_path / "typo.yaml")][0]
    assert any("rulez" in problem for problem in broken[str(tmp_path / "extra.yaml")])


def test_reading_the_outlines_loads_no_rules_engine(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "acme-coupa.yaml", tmp_path / "acme-coupa.yaml")
    probe = (
        "import sys\nfrom types import SimpleNamespace\nfrom hub.readonly import ReadOnlyHub\n"
        f"view = ReadOnlyHub(SimpleNamespace(rules_dir={str(tmp_path)!r}), None)\n"
        "assert view.profile_outlines and not view.broken_profiles\n"
        "print(sorted(m for m in sys.modules if m.startswith(('rules.engine', 'rules.loader', 'connectors'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_rules_file_of_a_profile_is_found_without_the_rules_schema_once_the_outline_is_kept(
    tmp_path: Path,
) -> None:
    shutil.copy(FIXTURES / "acme-coupa.yaml", tmp_path / "acme-coupa.yaml")
    (tmp_path / "extra.yaml").write_text(
        "id: extra\nbuyer: B\nconnector: coupa\nmatch: {customer_id: [C-8]}\nconnection: {}\nrulez: []\n"
    )
    probe = (
        "import sys\nfrom types import SimpleNamespace\nfrom hub.readonly import ReadOnlyHub\n"
        f"view = ReadOnlyHub(SimpleNamespace(rules_dir={str(tmp_path)!r}), None)\n"
        "print(view.rules_file('acme-coupa'), view.rules_file('extra'), view.rules_file('nobody'))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('rules.schema', 'sqlalchemy'))))\n"
    )
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    # The first command reads the folder (and its schema) and keeps the outline (hub/readonly/outline_cache.py).
    assert first.stdout.strip().splitlines()[1] == "['rules.schema']"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    files, loaded = done.stdout.strip().splitlines()
    # `show` says where a rule goes: a file that does not fit the schema is still where rules are written.
    assert files == f"{tmp_path / 'acme-coupa.yaml'} {tmp_path / 'extra.yaml'} None"
    assert loaded == "[]"
