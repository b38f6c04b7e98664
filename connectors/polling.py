"""Incremental status polling, the one loop every polling portal family uses: changes since a watermark.

The cursor is the newest change time seen (ISO 8601). A poll asks for records changed at or after the
watermark minus `overlap` (a change the portal commits late is still seen; the hub drops what it already
has by event key), oldest first, page by page: it costs pages of changes, never one request per open
invoice. How a family pages is its own (offset, keyset, ...): it gives the loop an iterator of pages.

- A record that cannot be read is reported in `unreadable` and skipped: one bad record must not stop
  every later poll of the portal.
- Offset paging (`pages_can_shift`): a record seen twice while paging moved to the end, so the pages
  shifted under us and one record may have been skipped: the cursor stays where it was and the next
  poll reads again. Keyset paging moves a changed record forward instead, so seeing it twice is normal.
- The cursor never moves backwards: the overlap re-reads older changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.base import PollResult
from hub.errors import MappingError
from hub.model import PortalStatusUpdate

__all__ = ["CannotPage", "ReadPages", "newest_change", "offset_pages", "poll_changes", "watermark_window"]

#: since (None: from the beginning) -> the pages of records changed since then, oldest change first;
#: each page is one request.
ReadPages = Callable[[datetime | None], Iterable[Sequence[Any]]]


class CannotPage(Exception):
    """Raised by a page iterator that cannot ask for the next page: what was read is kept, the reason
    is reported with the unreadable records, and the next poll goes on from what was read."""


def offset_pages(fetch: Callable[[int], tuple[Sequence[Any], bool]]) -> Iterator[Sequence[Any]]:
    """Pages asked for by offset: `fetch(skip)` answers (records, whether more pages follow)."""
    skip = 0
    while True:
        page, more = fetch(skip)
        yield page
        skip += len(page)
        if not more or not page:
            return


def poll_changes(
    read_pages: ReadPages,
    parse: Callable[[Any], PortalStatusUpdate],
    cursor: str | None,
    *,
    id_key: str,
    overlap: timedelta = timedelta(0),
    pages_can_shift: bool = True,
) -> PollResult:
    """Every change since `cursor` (None: from the beginning), and the next cursor.

    `parse` reads one record (MappingError: unreadable); `id_key` names the record's id in the portal,
    for the message about a record that cannot be read."""
    watermark, since = watermark_window(cursor, overlap)
    updates: list[PortalStatusUpdate] = []
    unreadable: list[str] = []
    seen: set[str] = set()
    shifted = False
    requests = 0
    pages = iter(read_pages(since))
    while True:
        try:
            page = next(pages)
        except StopIteration:
            break
        except CannotPage as exc:
            unreadable.append(str(exc))
            break
        requests += 1
        for record in page:
            try:
                update = parse(record)
            except MappingError as exc:
                unreadable.append(f"record {_record_id(record, id_key)}: {exc}")
                continue
            if pages_can_shift:
                key = update.portal_invoice_id or update.invoice_number or "?"
                shifted = shifted or key in seen
                seen.add(key)
            updates.append(update)
    newest = newest_change(updates, watermark)
    next_cursor = cursor if shifted else (newest.isoformat() if newest else None)
    return PollResult(updates=updates, next_cursor=next_cursor, requests=requests, unreadable=unreadable)


def watermark_window(cursor: str | None, overlap: timedelta) -> tuple[datetime | None, datetime | None]:
    """(watermark, since): the cursor read back, and where this poll starts reading (`overlap` before it);
    both None without a cursor (from the beginning)."""
    watermark = datetime.fromisoformat(cursor) if cursor else None
    return watermark, (watermark - overlap if watermark is not None else None)


def newest_change(updates: Iterable[PortalStatusUpdate], watermark: datetime | None) -> datetime | None:
    """The next watermark: the newest change read, never before the current one (the overlap re-reads
    older changes)."""
    newest = max((u.occurred_at for u in updates), default=watermark)
    if watermark is not None and newest is not None:
        newest = max(newest, watermark)
    return newest


def _record_id(record: Any, key: str) -> str:
    return str(record.get(key, "?")) if isinstance(record, dict) else "?"
