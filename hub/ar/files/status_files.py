"""Status events written back as files the AR system imports: `status-<UTC time>-<n>.csv` (or .jsonl).

Each event is written once, even across crashes and restarts: a batch is written as `<name>.part`
(never picked up by an importer), its event ids and file name are committed to the ledger in one
transaction, then the file is renamed into place. A crash before the commit leaves a `.part` file
that is deleted at the next write (its events were not recorded, so the outbox delivers them again);
a crash after it leaves a pending name that the next write finishes renaming.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from hub.ar import ArUnavailableError
from hub.ar.files.entries import create_new, real_folder
from hub.ar.files.ledger import Ledger
from hub.errors import ConfigError

#: The columns of a CSV status file; JSONL lines carry every key of the event.
STATUS_COLUMNS = (
    "event_id",
    "at",
    "invoice_number",
    "customer_id",
    "state",
    "previous_state",
    "category",
    "reason",
    "raw_status",
    "portal_invoice_id",
    "profile_id",
    "source",
    "ar_key",
)
_PREFIX = "status-"


class StatusFiles:
    def __init__(self, folder: Path, fmt: Literal["csv", "jsonl"], ledger: Ledger):
        self.folder = folder
        self.format = fmt
        self.ledger = ledger
        self._sequence = 0

    def recover(self) -> None:
        """Finish what a crash interrupted (see the module docstring)."""
        real_folder(self.folder, "status_folder")
        pending = set(self.ledger.pending_status_files())
        for name in sorted(pending):
            part = self.folder / f"{name}.part"
            if part.exists():
                os.replace(part, self.folder / name)
            self.ledger.finish_status_file(name)
        for part in self.folder.glob(f"{_PREFIX}*.part"):
            if part.name.removesuffix(".part") not in pending:
                part.unlink(missing_ok=True)

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Write the events not written before into one new status file."""
        try:
            self._write(events)
        except ConfigError as exc:  # the status folder is a planted link: kept until someone fixes it
            raise ArUnavailableError(f"cannot write status files to {self.folder}: {exc}") from None
        except OSError as exc:  # disk full, folder gone, no permission: the outbox keeps the events
            raise ArUnavailableError(
                f"cannot write status files to {self.folder}: {exc.strerror or exc}"
            ) from None

    def _write(self, events: Sequence[dict[str, Any]]) -> None:
        self.recover()
        fresh_ids = self.ledger.unwritten(str(e["event_id"]) for e in events)
        fresh: dict[str, dict[str, Any]] = {}
        for event in events:
            event_id = str(event["event_id"])
            if event_id in fresh_ids and event_id not in fresh:
                fresh[event_id] = event
        if not fresh:
            return
        name = self._name()
        part = self.folder / f"{name}.part"
        # A new file, never one planted there: a link named like it would be written through.
        with io.TextIOWrapper(create_new(part), encoding="utf-8", newline="") as file:
            file.write(self._render(list(fresh.values())))
            file.flush()
            os.fsync(file.fileno())
        self.ledger.commit_status_file(name, fresh)
        os.replace(part, self.folder / name)
        self.ledger.finish_status_file(name)

    def _name(self) -> str:
        self._sequence += 1
        now = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{_PREFIX}{now}-{self._sequence:04d}.{self.format}"
        while os.path.lexists(self.folder / name):  # another process with the same sequence (a restart)
            self._sequence += 1
            name = f"{_PREFIX}{now}-{self._sequence:04d}.{self.format}"
        return name

    def _render(self, events: list[dict[str, Any]]) -> str:
        if self.format == "jsonl":
            return "".join(
                json.dumps(e, sort_keys=True, ensure_ascii=False, default=str) + "\n" for e in events
            )
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, what spreadsheet imports expect
        writer.writerow(STATUS_COLUMNS)
        for event in events:
            writer.writerow(["" if event.get(c) is None else str(event.get(c)) for c in STATUS_COLUMNS])
        return buffer.getvalue()
