"""The rules folder's outline kept between read-only commands (hub/readonly/outline_cache.py): used
while nothing changed, read again after any edit, and never trusted when it cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.readonly import outline_cache
from hub.readonly.views import FolderOutline, read_outline


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


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PORTALHUB_CACHE_DIR", str(tmp_path / "cache"))
    rules = tmp_path / "rules.d"
    rules.mkdir()
    _profile(rules, "acme-coupa", ["C-1"])
    (rules / "broken.yaml").write_text("id: [unclosed\n")
    return rules


class CountingReader:
    def __init__(self) -> None:
        self.reads = 0

    def __call__(self, folder: Path) -> FolderOutline:
        self.reads += 1
        return read_outline(folder)


def test_the_outline_is_read_once_while_the_folder_does_not_change(folder: Path) -> None:
    reader = CountingReader()
    first = outline_cache.outline_of(folder, reader)
    second = outline_cache.outline_of(folder, reader)
    assert reader.reads == 1
    assert second == first
    assert second.profiles["acme-coupa"].customers == ("C-1",)
    assert list(second.broken) == [str(folder.resolve() / "broken.yaml")]
    assert second.files == {"acme-coupa": str(folder.resolve() / "acme-coupa.yaml")}


def test_an_edit_an_added_file_or_a_removed_file_reads_the_folder_again(folder: Path) -> None:
    reader = CountingReader()
    outline_cache.outline_of(folder, reader)
    _profile(folder, "acme-coupa", ["C-2"])  # same size, maybe the same second: content counts
    assert outline_cache.outline_of(folder, reader).profiles["acme-coupa"].customers == ("C-2",)
    _profile(folder, "beta-coupa", ["C-3"])
    assert set(outline_cache.outline_of(folder, reader).profiles) == {"acme-coupa", "beta-coupa"}
    (folder / "broken.yaml").unlink()
    assert outline_cache.outline_of(folder, reader).broken == {}
    assert reader.reads == 4


def test_a_damaged_cache_is_ignored_and_replaced(folder: Path) -> None:
    reader = CountingReader()
    expected = outline_cache.outline_of(folder, reader)
    [entry] = outline_cache.cache_dir().glob("outline-*.json")
    entry.write_text('{"key": "')  # cut short
    assert outline_cache.outline_of(folder, reader) == expected
    assert reader.reads == 2
    assert outline_cache.outline_of(folder, reader) == expected and reader.reads == 2


def test_an_unwritable_cache_folder_only_costs_the_reading(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("PORTALHUB_CACHE_DIR", str(blocker / "cache"))
    reader = CountingReader()
    assert outline_cache.outline_of(folder, reader).profiles["acme-coupa"].customers == ("C-1",)
    outline_cache.outline_of(folder, reader)
    assert reader.reads == 2
