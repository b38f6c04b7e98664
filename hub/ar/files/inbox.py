"""The watched folder: which exports are complete, and where they go once read.

A file is complete when (1) its name does not say it is still being written (hidden, or ending in
.part, .tmp, .partial, .crdownload, .filepart, ~), (2) it has not been modified for `settle_seconds`,
and (3) its size and modification time are the same before and after it is hashed (and after it is
read: the adapter checks again). AR systems that write `name.csv.part` and rename it when done are
picked up at once with `settle_seconds: 0`; the quiet period covers those that write in place.

Once read, a file moves to `done/` or `error/` (an existing name there gets `~2`, `~3`, ...), with
`<name>.error.txt` (or `<name>.duplicate.txt`) beside it saying what happened.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hub.ar.files.common import Export, Found
from hub.ar.files.entries import NotAnExport, create_new, open_export, real_folder, refusal
from hub.ar.files.settings import FilesSettings

INCOMPLETE_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".filepart", "~")
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xml": "xml"}
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Refused:
    """A file that will never be read (an unknown type, half of a pair whose other half never came)."""

    paths: tuple[Path, ...]
    reason: str

    @property
    def name(self) -> str:
        return " + ".join(path.name for path in self.paths)


Fingerprint = tuple[tuple[int, int], ...]


def fingerprint(paths: tuple[Path, ...]) -> Fingerprint | None:
    """Size and modification time of each entry itself (a link is never followed)."""
    try:
        return tuple((s.st_size, s.st_mtime_ns) for s in (os.lstat(p) for p in paths))
    except FileNotFoundError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open_export(path) as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Inbox:
    def __init__(self, settings: FilesSettings, folder: Path, clock: Callable[[], float]):
        self.settings = settings
        self.folder = folder
        self.done = folder / settings.done_folder
        self.error = folder / settings.error_folder
        self.clock = clock
        # The adapter's own folders are never exports, whatever they are (they are checked on use).
        self._own = {self.done, self.error, folder / settings.status_folder}

    # --- what is ready -----------------------------------------------------------------------------------
    def scan(self, folder: Path | None = None, settle: bool = True) -> Iterator[Export | Refused]:
        """Complete exports in `folder` (the inbox by default), oldest first."""
        folder = folder or self.folder
        csv = self.settings.csv
        entries = []
        for path in folder.iterdir():
            name = path.name
            if name.startswith(".") or name.endswith(INCOMPLETE_SUFFIXES) or path in self._own:
                continue
            if name.endswith((".error.txt", ".duplicate.txt")):
                continue
            try:
                st = os.lstat(path)  # the entry itself: a link is looked at, never followed
            except FileNotFoundError:
                continue  # moved away between the listing and the look
            if stat.S_ISDIR(st.st_mode):
                continue  # a real subfolder; a link to a folder is refused below like any link
            entries.append((st.st_mtime, name, path, refusal(name, st)))
        present = {name for _, name, _, refused in entries if refused is None}
        for mtime, name, path, refused in sorted(entries):
            age = self.clock() - mtime
            if settle and age < self.settings.settle_seconds:
                continue
            if refused is not None:
                yield Refused((path,), refused)
                continue
            lower = name.lower()
            if lower.endswith(csv.header_suffix.lower()):
                partner = name[: -len(csv.header_suffix)] + csv.lines_suffix
                if partner in present:
                    settled = not settle or (
                        self.clock() - os.lstat(folder / partner).st_mtime >= self.settings.settle_seconds
                    )
                    if settled and (found := self._hashed((path, folder / partner), "csv-pair")) is not None:
                        yield found
                elif settle and age >= self.settings.pair_timeout_seconds:
                    yield Refused(
                        (path,), f"its lines file {partner} did not arrive within {self._timeout()}"
                    )
                continue
            if lower.endswith(csv.lines_suffix.lower()):
                partner = name[: -len(csv.lines_suffix)] + csv.header_suffix
                if partner not in present and settle and age >= self.settings.pair_timeout_seconds:
                    yield Refused(
                        (path,), f"its header file {partner} did not arrive within {self._timeout()}"
                    )
                continue  # read with its header file
            kind = FORMATS.get(path.suffix.lower())
            if kind is None:
                yield Refused(
                    (path,),
                    f"portalhub reads {', '.join(sorted(FORMATS))} exports; this file type is not one",
                )
                continue
            if (found := self._hashed((path,), kind)) is not None:
                yield found

    def _timeout(self) -> str:
        seconds = self.settings.pair_timeout_seconds
        return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"

    def _hashed(self, paths: tuple[Path, ...], kind: str) -> Export | Refused | None:
        before = fingerprint(paths)
        try:
            digests = [_sha256(path) for path in paths]
        except FileNotFoundError:
            return None
        except NotAnExport as exc:  # swapped for a link (or linked) since the listing
            return Refused(paths, str(exc))
        except PermissionError as exc:  # left in place it would stop the folder at every look
            name = Path(exc.filename).name if exc.filename else paths[0].name
            return Refused(
                paths, f"{name} cannot be opened by portalhub's user (permission denied): make it readable"
            )
        if before is None or fingerprint(paths) != before:
            return None  # still being written: look again next time
        digest = digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode()).hexdigest()
        return Export(paths=paths, format=kind, sha256=digest)

    # --- where it goes -----------------------------------------------------------------------------------
    def file_away(
        self,
        paths: tuple[Path, ...],
        outcome: str,
        note: str | None = None,
        problems: ProblemLog | None = None,
    ) -> Path:
        """Move the files to done/ or error/; with a note, write `<name>.error.txt` (error/) or
        `<name>.duplicate.txt` (done/) beside the first, the problems line by line after the note."""
        target = self.done if outcome == "done" else self.error
        real_folder(target, "done_folder" if outcome == "done" else "error_folder")
        moved = [_move(path, target) for path in paths]
        if note is not None:
            suffix = ".error.txt" if outcome == "error" else ".duplicate.txt"
            _write_note(target / f"{moved[0].name}{suffix}", note, problems)
        return moved[0]


def _move(path: Path, folder: Path) -> Path:
    target = folder / path.name
    n = 1
    while os.path.lexists(target):  # a dangling link counts as taken too
        n += 1
        stem, dot, suffix = path.name.partition(".")
        target = folder / f"{stem}~{n}{dot}{suffix}"
    shutil.move(str(path), str(target))
    return target


def _write_note(path: Path, text: str, problems: ProblemLog | None) -> None:
    part = path.with_name(path.name + ".part")
    # A new file, never one planted there: a link named like the note would be written through.
    with io.TextIOWrapper(create_new(part), encoding="utf-8") as file:
        file.write(text.rstrip("\n") + "\n")
        if problems is not None and problems.count:
            file.write("\n")
            problems.copy_to(file)
    os.replace(part, path)


class ProblemLog:
    """The problems of one export, line by line; spills to disk so a file of a million bad rows does
    not live in memory."""

    def __init__(self, scratch: Path):
        scratch.mkdir(parents=True, exist_ok=True)
        # Closed by close(): the log outlives any one block (the adapter reads, then reports).
        self._file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=1024 * 1024, mode="w+", encoding="utf-8", dir=str(scratch)
        )
        self.count = 0

    def add(self, found: Found) -> None:
        number = f" ({found.record.invoice_number})" if found.record.invoice_number else ""
        self.add_line(f"{found.where}{number}: {found.message}")

    def add_line(self, line: str) -> None:
        self._file.write(line.replace("\n", " ") + "\n")
        self.count += 1

    def copy_to(self, target: IO[str]) -> None:
        self._file.seek(0)
        shutil.copyfileobj(self._file, target)

    def close(self) -> None:
        self._file.close()
