"""Where an adapter's incremental reads of the AR system stand: read only what changed.

The AR system moves a column forward on every change of an invoice (a last-modified time, a row
version). Each ingest reads the rows whose value is at or after a *since* value; this module decides
that value, or that the next read must be a full one.

Why the since value is not simply the newest value seen: an AR transaction stamps its rows when it
starts and shows them when it commits (PostgreSQL's `now()` is the transaction's start), so a row can
appear after a newer one was already read. The since value is therefore the newest value seen by a
read at least `margin_seconds` old: a row is found by the reads made between its commit and
`margin_seconds` after its stamp. Nothing is computed on the column's values (they may be text,
timestamps or numbers), only compared, and the hub's clock never meets the AR system's. What the
margin cannot cover (a transaction longer than the margin, a line changed without touching its
header, a clock set back) the full read every `full_read_seconds` finds; the content hash makes
re-reading an unchanged record cost no store write.

The state lives in the process: a daemon starts with a full read, and a daemon that takes over the
ingest lease from another one starts with its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Watermark:
    margin_seconds: float
    full_read_seconds: float
    #: (when a read ended, the newest value it knew), oldest first: the last one at least
    #: `margin_seconds` old and those after it.
    _reads: list[tuple[float, Any]] = field(default_factory=list)
    _last_full: float | None = None

    def since(self, now: float) -> Any | None:
        """The value to read from at `now` (a monotonic clock), or None for a full read."""
        if self._last_full is None or now - self._last_full >= self.full_read_seconds:
            return None
        old_enough = [n for n, (at, _) in enumerate(self._reads) if at <= now - self.margin_seconds]
        if not old_enough:
            return None  # every read so far is too recent to trust its newest value yet
        del self._reads[: old_enough[-1]]  # later calls come later: older entries are never needed
        return self._reads[0][1]

    def read(self, ended: float, since: Any | None, values: list[Any]) -> None:
        """Record a read that ended at `ended`, made from `since`, that saw `values` of the column
        (every record it yielded is stored). A read that raised is not recorded: the next one reads
        the same again."""
        newest = max((v for v in (since, *values) if v is not None), default=None)
        if since is None:
            self._last_full = ended
        self._reads.append((ended, newest))
