"""Whoever can drop a file in the watched folder can drop a link: only regular files whose one name is in
the folder are read; links, hard links, pipes are refused by what they are (the note names the entry and
never shows what it points at), and nothing the hub writes beside goes through a link planted there."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from hub.ar import ArUnavailableError
from hub.ar.files.entries import NotAnExport, open_export
from hub.ar.files.inbox import Refused
from hub.errors import ConfigError
from tests.ar.support import CSV_HEADER, csv_row, drop, files_adapter, pull

SECRET = "root:x:0:0:SECRET-FIRST-LINE:/root:/bin/bash\nsecond line\n"
VALID = CSV_HEADER + "\n" + csv_row("INV-OUTSIDE") + "\n"


def _outside(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / "elsewhere" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def _old_link(target: Path, link: Path) -> None:
    link.symlink_to(target)
    os.utime(link, (1, 1), follow_symlinks=False)  # settled long ago


def _error_notes(inbox: Path) -> str:
    return "".join(p.read_text() for p in sorted((inbox / "error").glob("*.error.txt")))


def test_a_symlink_to_an_export_outside_the_folder_is_refused_not_imported(tmp_path: Path) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    outside = _outside(tmp_path, "other-team.csv", VALID)
    _old_link(outside, inbox / "invoices.csv")
    records = pull(adapter)
    assert [r.invoice is None for r in records] == [True]  # nothing imported from outside
    assert records[0].key == "file:invoices.csv"
    assert records[0].error is not None and "invoices.csv is a symbolic link" in records[0].error
    assert "INV-OUTSIDE" not in _error_notes(inbox)
    assert (inbox / "error" / "invoices.csv").is_symlink()  # the link itself filed away, not its target
    assert outside.read_text() == VALID  # the target is left as it was


def test_the_note_of_a_refused_link_names_the_entry_never_its_content(tmp_path: Path) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    for name in ("passwd.csv", "passwd.json", "passwd.xml", "passwd.jsonl"):
        _old_link(_outside(tmp_path, "passwd", SECRET), inbox / name)
    records = pull(adapter)
    assert sorted(r.key for r in records) == [
        "file:passwd.csv",
        "file:passwd.json",
        "file:passwd.jsonl",
        "file:passwd.xml",
    ]
    notes = _error_notes(inbox)
    assert notes.count("is a symbolic link") == 4
    assert "SECRET" not in notes and "root:x" not in notes
    assert all("SECRET" not in (r.error or "") and "SECRET" not in str(r.raw) for r in records)


def test_a_hard_link_to_a_file_elsewhere_is_refused(tmp_path: Path) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    outside = _outside(tmp_path, "secret.csv", SECRET)
    os.link(outside, inbox / "looks-like-an-export.csv")
    os.utime(inbox / "looks-like-an-export.csv", (1, 1))
    [record] = pull(adapter)
    assert record.invoice is None
    assert record.error is not None and "has 2 hard links" in record.error
    assert "SECRET" not in _error_notes(inbox)
    assert outside.read_text() == SECRET


def test_a_named_pipe_is_refused_without_being_opened(tmp_path: Path) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    os.mkfifo(inbox / "feed.csv")
    os.utime(inbox / "feed.csv", (1, 1))
    result: list[list[str | None]] = []
    reader = threading.Thread(target=lambda: result.append([r.error for r in pull(adapter)]), daemon=True)
    reader.start()
    reader.join(timeout=20)  # opening a pipe for reading would block until a writer came
    assert not reader.is_alive(), "the pipe was opened"
    [[error]] = result
    assert error is not None and "feed.csv is a named pipe" in error


def test_a_symlink_to_a_folder_is_not_followed(tmp_path: Path) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    elsewhere = _outside(tmp_path, "invoices.csv", VALID).parent
    os.utime(elsewhere / "invoices.csv", (1, 1))
    _old_link(elsewhere, inbox / "more")
    records = pull(adapter)
    assert [r.invoice for r in records] == [None]
    assert records[0].error is not None and "more is a symbolic link" in records[0].error
    assert (elsewhere / "invoices.csv").read_text() == VALID  # neither read nor moved


def test_a_file_swapped_for_a_link_after_the_listing_is_refused_when_opened(tmp_path: Path) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    drop(inbox, "a.csv", VALID.replace("INV-OUTSIDE", "INV-A"), age=120)
    drop(inbox, "b.csv", VALID.replace("INV-OUTSIDE", "INV-B"), age=60)
    scan = adapter.inbox.scan()
    first = next(scan)  # both were regular files when the folder was listed
    (inbox / "b.csv").unlink()
    (inbox / "b.csv").symlink_to(_outside(tmp_path, "passwd", SECRET))
    second = next(scan)
    assert first.name == "a.csv" and isinstance(second, Refused)
    assert "b.csv is a symbolic link" in second.reason and "SECRET" not in second.reason
    with pytest.raises(NotAnExport, match=r"b\.csv is a symbolic link"):
        open_export(inbox / "b.csv")


def test_a_link_planted_where_the_error_note_is_written_is_not_written_through(tmp_path: Path) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    victim = _outside(tmp_path, "victim.txt", "precious\n")
    (inbox / "error").mkdir()
    (inbox / "error" / "bad.csv.error.txt.part").symlink_to(victim)
    (inbox / "error" / "bad.csv.error.txt").symlink_to(victim)
    drop(inbox, "bad.csv", CSV_HEADER + "\n" + csv_row("INV-1", currency="usd") + "\n")
    [record] = pull(adapter)
    assert record.error is not None
    assert victim.read_text() == "precious\n"
    note = inbox / "error" / "bad.csv.error.txt"
    assert not note.is_symlink() and "INV-1" in note.read_text()


@pytest.mark.parametrize("folder", ["error", "done"])
def test_a_done_or_error_folder_that_is_a_planted_link_stops_the_move(tmp_path: Path, folder: str) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (inbox / folder).symlink_to(elsewhere, target_is_directory=True)
    row = csv_row("INV-1", currency="usd" if folder == "error" else "USD")
    drop(inbox, "x.csv", CSV_HEADER + "\n" + row + "\n")
    with pytest.raises(ConfigError, match=f"{folder}_folder .* is a symbolic link"):
        pull(adapter)
    assert list(elsewhere.iterdir()) == []  # nothing moved or written through the link
    assert (inbox / "x.csv").is_file()  # the export stays, read again once the folder is fixed
    (inbox / folder).unlink()
    pull(adapter)
    assert (inbox / folder / "x.csv").is_file()


def test_a_status_folder_that_is_a_planted_link_keeps_the_events(tmp_path: Path) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (inbox / "status").symlink_to(elsewhere, target_is_directory=True)
    event = {"event_id": "evt-1", "invoice_number": "INV-1", "state": "SUBMITTED"}
    with pytest.raises(ArUnavailableError, match=r"status_folder .* is a symbolic link"):
        adapter.write([event])
    assert list(elsewhere.iterdir()) == []
    (inbox / "status").unlink()
    adapter.write([event])
    assert len(list((inbox / "status").iterdir())) == 1


def test_a_file_portalhub_may_not_open_is_refused_not_a_stop_of_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "ar"
    adapter = files_adapter(inbox)
    drop(inbox, "locked.csv", SECRET, age=120)
    drop(inbox, "fine.csv", VALID, age=60)
    real_open = os.open

    def denied(path: object, flags: int, *args: object, **kwargs: object) -> int:
        # Tests run as root, which no file mode stops: the kernel's answer for anyone else.
        if str(path).endswith("locked.csv"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    records = pull(adapter)
    assert [(r.key, r.invoice is not None) for r in records] == [
        ("file:locked.csv", False),
        ("INV-OUTSIDE", True),
    ]
    assert "locked.csv cannot be opened by portalhub's user (permission denied)" in (records[0].error or "")
    assert "SECRET" not in _error_notes(inbox)
