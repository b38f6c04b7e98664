"""The files adapter: invoices from exports dropped in a folder, statuses back as files beside them."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from hub.ar import ArAdapter, ArContext, ArRecord
from hub.ar.files.common import Export, FileProblem, Found
from hub.ar.files.csv_format import read_csv
from hub.ar.files.inbox import Inbox, ProblemLog, Refused, fingerprint
from hub.ar.files.json_format import read_json
from hub.ar.files.ledger import Ledger
from hub.ar.files.settings import FilesSettings
from hub.ar.files.status_files import StatusFiles
from hub.ar.files.xml_format import read_xml
from hub.errors import ConfigError

log = logging.getLogger(__name__)
STATE = ".portalhub"


class FilesArAdapter(ArAdapter):
    """Source: every complete export in `folder` is imported once (by content hash) and moved to
    done/ or error/ (with `<name>.error.txt`). Sink: status events as CSV or JSONL files in
    `status_folder`, each event once. Either role alone works (`ar:` or `feedback:`)."""

    kind = "files"
    settings_model = FilesSettings
    batched_intake = True  # an export is filed away only after `settle()`

    def __init__(
        self, settings: FilesSettings, context: ArContext, *, clock: Callable[[], float] = time.time
    ):
        super().__init__(settings, context)
        folder = settings.folder if settings.folder.is_absolute() else context.base_dir / settings.folder
        if not folder.is_dir():
            raise ConfigError(
                f"the AR folder {folder} does not exist (files adapter `folder:`); create it or fix the path"
            )
        self.folder = folder.resolve()
        for key in ("done_folder", "error_folder", "status_folder"):
            if (self.folder / getattr(settings, key)).resolve() == self.folder:
                # Files put there would be read again as exports (status files as invoices).
                raise ConfigError(
                    f"the files adapter's {key} cannot be the watched folder itself; use a subfolder"
                )
        self.state = self.folder / STATE
        self.scratch = self.state / "tmp"
        self.ledger = Ledger(self.state / "ledger.sqlite3")
        self.inbox = Inbox(settings, self.folder, clock)
        self.status = StatusFiles(self.folder / settings.status_folder, settings.status_format, self.ledger)
        self.supplier = context.supplier

    # --- source ----------------------------------------------------------------------------------------
    def pull(self, keys: Collection[str] | None = None) -> Iterator[ArRecord]:
        """Records of the complete exports, oldest file first; each file is moved once every record in it
        has been taken (a crash before leaves it in place: it is read again, and the hub skips what it
        already has). With `keys`: those records, from the folder or done/, newest first; nothing moves."""
        if keys is not None:
            yield from self._reread(set(keys))
            return
        for item in self.inbox.scan():
            if isinstance(item, Refused):
                yield self._refuse(item)
            else:
                yield from self._import(item)

    def _read(self, export: Export) -> Iterator[Found]:
        if export.format in ("csv", "csv-pair"):
            return read_csv(export, self.settings, self.supplier, self.scratch)
        if export.format in ("json", "jsonl"):
            return read_json(export, self.settings, self.supplier)
        return read_xml(export, self.settings, self.supplier)

    def _import(self, export: Export) -> Iterator[ArRecord]:
        earlier = self.ledger.imported(export.sha256)
        if earlier is not None:
            log.info(
                "%s repeats %s (read %s): not imported again", export.name, earlier.name, earlier.imported_at
            )
            repeated = (
                f"Not imported again: {export.name} has the same content as {earlier.name}, read at "
                f"{earlier.imported_at}"
            )
            if earlier.outcome == "error":  # the same problems as before: it belongs with them
                repeated += f", which had problems (see {earlier.name}.error.txt in this folder)"
            self.inbox.file_away(export.paths, earlier.outcome, repeated + ".")
            return
        before = fingerprint(export.paths)
        problems = ProblemLog(self.scratch)
        records = held = 0
        failure: str | None = None  # why the file (or the rest of it) could not be read
        try:
            try:
                for found in self._read(export):
                    records += 1
                    if found.record.error is not None:
                        held += 1
                        problems.add(found)
                    yield found.record
            except FileProblem as exc:
                failure = str(exc)
            except (OSError, sqlite3.OperationalError) as exc:
                # The disk, not the export: a full scratch disk or a vanished file is tried again.
                log.warning(
                    "%s could not be read (%s); it stays and is read again next time", export.name, exc
                )
                return
            except Exception as exc:
                # A document no check foresaw must not stop the folder: left in place it would be read
                # first at every cycle and fail again, with every later export waiting behind it.
                log.exception("%s could not be read", export.name)
                failure = (
                    f"{export.name} could not be read: portalhub failed on it ({type(exc).__name__}: {exc}); "
                    "please report this to portalhub's maintainers with the file"
                )
            if failure is not None:
                problems.add_line(failure)
                yield ArRecord(
                    key=f"file:{export.paths[0].name}",
                    raw={"file": export.name, "sha256": export.sha256},
                    error=failure,
                )
            # Every record has been taken by now (the hub asked for the next one): the file is done.
            if fingerprint(export.paths) != before:
                log.warning("%s changed while it was read; it is read again next time", export.name)
                return
            outcome = "error" if problems.count else "done"
            self.settle()  # the hub stores every record of the file before it is filed away
            self.ledger.mark_imported(export.sha256, export.name, outcome, records)
            note = _note(export, records - held, held, failure) if problems.count else None
            self.inbox.file_away(export.paths, outcome, note, problems)
            log.info(
                "imported %s: %d record(s), %d with problems -> %s/", export.name, records, held, outcome
            )
        finally:
            problems.close()

    def _refuse(self, refused: Refused) -> ArRecord:
        reason = f"{refused.name} was not read: {refused.reason}"
        self.inbox.file_away(refused.paths, "error", reason)
        log.warning("%s", reason)
        return ArRecord(key=f"file:{refused.paths[0].name}", raw={"file": refused.name}, error=reason)

    def _reread(self, keys: set[str]) -> Iterator[ArRecord]:
        wanted = set(keys)
        folders: list[tuple[Path, bool]] = [(self.folder, True)]
        if self.inbox.done.is_dir():
            folders.append((self.inbox.done, False))
        for folder, settle in folders:
            exports = [item for item in self.inbox.scan(folder, settle=settle) if isinstance(item, Export)]
            newest_first = sorted(
                exports, key=lambda e: max(os.lstat(p).st_mtime for p in e.paths), reverse=True
            )
            for export in newest_first:
                try:
                    for found in self._read(export):
                        if found.record.key in wanted:
                            wanted.discard(found.record.key)
                            yield found.record
                except (FileProblem, OSError):
                    continue
                if not wanted:
                    return

    # --- sink ------------------------------------------------------------------------------------------
    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Status events into a new status file; an event id written before changes nothing."""
        self.status.write(events)


def _note(export: Export, imported: int, held: int, failure: str | None) -> str:
    """The head of `<name>.error.txt`: what happened to the file, and what to do; the problems follow."""
    fix = (
        "Fix them in the AR system and export them again; the whole file may be exported again: what was "
        "imported is not sent twice, and a corrected record replaces the one held back."
    )
    if failure is not None and imported + held == 0:
        return (
            f"portalhub did not import {export.name}: the file could not be read, for the reason below.\n"
            "Fix the export (or the setting the reason names) and drop it in the folder again."
        )
    if failure is not None:
        return (
            f"portalhub stopped reading {export.name} part-way: {imported} record(s) imported, {held} held "
            f"back, the rest not read, for the reason last below.\n{fix}"
        )
    rows = " (rows count from the header, row 1)" if export.format.startswith("csv") else ""
    return (
        f"portalhub did not import everything in {export.name}: {imported} record(s) imported, {held} not, "
        f"listed below{rows}.\n{fix}"
    )
