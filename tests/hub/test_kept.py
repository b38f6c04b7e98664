"""Answers kept between read-only commands (hub/readonly/kept.py): the rules folder's outline and the
settings read of portalhub.yaml, used while nothing they come from changed, worked out again after any
edit, never trusted when they cannot be read, and never holding a password."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from hub.errors import ConfigError
from hub.readonly import kept as kept_module
from hub.readonly import views
from hub.readonly.settings import view_settings
from hub.readonly.views import Outlines
from tests.factories import SUPPLIER


def _profile(folder: Path, name: str, customers: list[str]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "id": name,
                "buyer": "Acme",
                "connector": "coupa",
                "match": {"customer_id": customers},
                "connection": {"invoice_url": "https://example.test/cxml"},
            }
        )
    )
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PORTALHUB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    _profile(rules, "acme-coupa", ["C-1"])
    (rules / "broken.yaml").write_text("id: [unclosed\n")
    return rules


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders read for an outline (each read is the work the cache saves)."""
    done: list[Path] = []
    read = views.read_outline

    def counted(folder: Path) -> views.FolderOutline:
        done.append(folder)
        return read(folder)

    monkeypatch.setattr(views, "read_outline", counted)
    return done


def outline(folder: Path) -> views.FolderOutline:
    view = Outlines()
    view.config = SimpleNamespace(rules_dir=folder)  # type: ignore[assignment]
    return view._outline


def test_the_outline_is_read_once_while_the_folder_does_not_change(folder: Path, reads: list[Path]) -> None:
    first = outline(folder)
    second = outline(folder)
    assert len(reads) == 1
    assert second == first
    assert second.profiles["acme-coupa"].customers == ("C-1",)
    assert list(second.broken) == [str(folder.resolve() / "broken.yaml")]
    assert second.files == {"acme-coupa": str(folder.resolve() / "acme-coupa.yaml")}


def test_an_edit_an_added_file_or_a_removed_file_reads_the_folder_again(
    folder: Path, reads: list[Path]
) -> None:
    outline(folder)
    _profile(folder, "acme-coupa", ["C-2"])  # same size, maybe the same second: content counts
    assert outline(folder).profiles["acme-coupa"].customers == ("C-2",)
    _profile(folder, "beta-coupa", ["C-3"])
    assert set(outline(folder).profiles) == {"acme-coupa", "beta-coupa"}
    (folder / "broken.yaml").unlink()
    assert outline(folder).broken == {}
    assert len(reads) == 4


def test_a_damaged_cache_is_ignored_and_replaced(folder: Path, reads: list[Path], cache: Path) -> None:
    expected = outline(folder)
    [entry] = cache.glob("outline-*.json")
    entry.write_text('{"key": "')  # cut short
    assert outline(folder) == expected and len(reads) == 2
    assert outline(folder) == expected and len(reads) == 2


def test_an_unwritable_cache_folder_only_costs_the_reading(
    folder: Path, reads: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("PORTALHUB_CACHE_DIR", str(blocker / "cache"))
    assert outline(folder).profiles["acme-coupa"].customers == ("C-1",)
    outline(folder)
    assert len(reads) == 2


# --- the settings read of portalhub.yaml -------------------------------------------------------------
def _config(tmp_path: Path, **extra: Any) -> Path:
    path = tmp_path / "portalhub.yaml"
    content = {
        "store_url": "sqlite:///hub.db",
        "supplier": SUPPLIER.model_dump(mode="json"),
        "ar": {"url": "sqlite:///ar.db"},
        **extra,
    }
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    from hub import config

    done: list[Path] = []
    load = config.load_config

    def counted(path: Path) -> Any:
        done.append(path)
        return load(path)

    monkeypatch.setattr(config, "load_config", counted)
    return done


def test_settings_are_loaded_in_full_once_then_kept(tmp_path: Path, loads: list[Path]) -> None:
    path = _config(tmp_path, daemon={"in_doubt_worklist_hours": 7})
    first = view_settings(path)
    assert view_settings(path) == first and len(loads) == 1
    assert first.store_url == f"sqlite:///{tmp_path.resolve() / 'hub.db'}"
    assert first.rules_dir == tmp_path.resolve() / "rules.d"
    assert first.daemon.in_doubt_worklist_hours == 7 and first.notifications is None
    _config(tmp_path, daemon={"in_doubt_worklist_hours": 9})
    assert view_settings(path).daemon.in_doubt_worklist_hours == 9 and len(loads) == 2


def test_a_broken_file_is_reported_every_time_and_never_kept(tmp_path: Path, loads: list[Path]) -> None:
    path = _config(tmp_path, daemon={"in_doubt_worlist_hours": 7})  # misspelt
    for _ in range(2):
        with pytest.raises(ConfigError, match="in_doubt_worlist_hours"):
            view_settings(path)
    assert len(loads) == 2


def test_the_store_url_from_the_environment_counts(
    tmp_path: Path, loads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _config(tmp_path)
    view_settings(path)
    monkeypatch.setenv("PORTALHUB_STORE_URL", "postgresql://hub@db.internal/hub")
    assert view_settings(path).store_url == "postgresql://hub@db.internal/hub" and len(loads) == 2


def test_a_store_url_with_a_password_is_never_written_to_the_cache(
    tmp_path: Path, loads: list[Path], cache: Path
) -> None:
    path = _config(tmp_path, store_url="postgresql://hub:s3cr3t-pw@db.internal/hub")
    assert view_settings(path).store_url == "postgresql://hub:s3cr3t-pw@db.internal/hub"
    view_settings(path)
    assert len(loads) == 2  # read every time
    assert not any("s3cr3t-pw" in entry.read_text() for entry in cache.glob("*"))


def test_the_key_covers_the_code(folder: Path, reads: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A new portalhub version (other code) works the answers out again."""
    outline(folder)
    monkeypatch.setattr(kept_module, "FORMAT", kept_module.FORMAT + 1)
    outline(folder)
    assert len(reads) == 2
