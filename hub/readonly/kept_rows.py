"""The worklist's rows kept between `portalhub rejections` commands, each while its invoice is unchanged.

Working out a row needs every event of its invoice (when the problem began, the portal's words, the
broken rules): on a store of 100,000 invoices with 5,000 open problems, ~29,000 events read and walked
at every command, half of its time. Yet a row changes only when its invoice does, and the store says
when that is without reading the events:
- every change of an invoice appends an event, which moves the invoice's `event_seq` and
  `updated_at` (hub/store/work.py, hub/audit.py);
- the one write that appends none, an answer arriving after its send was given up on
  (hub/pipeline/outcome.py), sets its attempt's `finished_at`; so the number of an invoice's sends and
  the newest `finished_at` among them are part of its version too.
A row is kept under its invoice's id with that version, and used again while the invoice, read afresh
at each command, still has it; any other row is worked out from its events, as without this file.
What depends on the moment is never kept: a row's `days` is worked out again from its `since`, and the
rows of READY invoices whose profile cannot work (their reason is the profile's health) and of the
statuses no invoice took are made at each command.

One JSON file per store in the user's cache folder (hub/readonly/kept.py `cache_dir`), readable by its
owner only: rows hold invoice numbers, customers, amounts and the portals' words (no secret: those are
redacted before they are stored). The file's key covers the store's URL and schema revision and the
code that makes rows; the file is an optimisation only: one that cannot be read, written or trusted is
made again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hub.readonly.kept import cache_dir, keep_file, key_of

#: Bumped when a kept row's form changes.
FORMAT = 1

_ROOT = Path(__file__).resolve().parents[2]
#: The code a row is made by: a changed file makes every row again.
_NAMES = ("worklist.py", "money.py", "states.py", "unplaced.py", "profile_health.py", "store_reader.py")
_SOURCES = (
    *(_ROOT / "hub" / name for name in _NAMES),
    Path(__file__).with_name("answers.py"),
    Path(__file__),
)


def version(invoice: Any) -> list[Any]:
    """What a kept row of `invoice` holds for as long as it is the same (see the module's docstring);
    JSON-shaped, so that it compares equal to itself read back."""
    return [invoice.event_seq, str(invoice.updated_at), invoice.sends, str(invoice.answered)]


class KeptRows:
    """The kept rows of one store: `usable` gives those still true, `keep` writes the rows of a command."""

    def __init__(self, path: Path | None, key: str, entries: dict[str, list[Any]]):
        self.path = path
        self.key = key
        self.entries = entries  # str(invoice id) -> [version, row]
        self._checked: set[int] = set()  # invoices whose kept row `usable` found true

    @classmethod
    def of(cls, url: str, revision: str | None) -> KeptRows:
        key = key_of(f"rows-{FORMAT}", url, lambda: [str(revision).encode()], _SOURCES)
        path = cache_dir() / f"rows-{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"
        entries: dict[str, list[Any]] = {}
        if key is None:
            return cls(None, "", entries)
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
            if found.get("key") == key and isinstance(found.get("rows"), dict):
                entries = found["rows"]
        except (OSError, ValueError, AttributeError):
            pass  # absent, half-written or from elsewhere: every row is made again
        return cls(path, key, entries)

    def usable(self, invoices: Iterable[Any]) -> dict[int, dict[str, Any]]:
        """The kept rows of `invoices` whose version is still theirs, by invoice id (days not yet set)."""
        usable: dict[int, dict[str, Any]] = {}
        entries = self.entries
        for invoice in invoices:
            entry = entries.get(str(invoice.id))
            if entry is not None and entry[0] == version(invoice):
                usable[invoice.id] = entry[1]
        self._checked.update(usable)
        return usable

    def keep(self, stuck: Iterable[Any], fresh: Mapping[int, dict[str, Any]]) -> None:
        """Keep the rows just made (`fresh`, by invoice id) and the kept rows of the other `stuck`
        invoices that are still true (a filtered command makes only some rows); the rows of invoices no
        longer stuck, or changed, are dropped. Written only when something changed."""
        if self.path is None:
            return
        entries: dict[str, list[Any]] = {}
        changed = False
        for invoice in stuck:
            ident = str(invoice.id)
            row = fresh.get(invoice.id)
            if row is not None:
                entries[ident] = [version(invoice), {k: v for k, v in row.items() if k != "days"}]
                changed = True
                continue
            entry = self.entries.get(ident)
            if entry is not None and (invoice.id in self._checked or entry[0] == version(invoice)):
                entries[ident] = entry
        if not changed and len(entries) == len(self.entries):
            return  # nothing made, nothing dropped
        keep_file(self.path, {"key": self.key, "rows": entries})
        self.entries = entries
