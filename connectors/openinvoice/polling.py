"""Incremental polling, shared by both transports: changes since a last-action watermark, page by page.

The cursor is the newest lastActionDate seen. A poll asks for records whose last action is at or after
the watermark minus `overlap` (a change the portal commits late is still seen; the hub drops what it
already has by event key), oldest first, in pages; it costs pages of changes, never one request per
open invoice. A record seen twice while paging means the pages shifted under us (a record moved to
the end): one may have been skipped, so the cursor stays where it was and the next poll reads again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from connectors.base import PollResult
from hub.errors import MappingError
from mappings.openinvoice_status import parse_status_record

#: (since or None, skip, top) -> (records oldest first, whether more pages follow)
FetchPage = Callable[[datetime | None, int, int], tuple[list[dict[str, Any]], bool]]


def poll_changes(fetch: FetchPage, cursor: str | None, page_size: int, overlap: timedelta) -> PollResult:
    """Every change since `cursor` (an ISO timestamp; None: from the beginning), and the next cursor."""
    watermark = datetime.fromisoformat(cursor) if cursor else None
    since = watermark - overlap if watermark is not None else None
    updates = []
    unreadable: list[str] = []
    seen: set[str] = set()
    shifted = False
    requests = 0
    skip = 0
    while True:
        page, more = fetch(since, skip, page_size)
        requests += 1
        for record in page:
            try:
                update = parse_status_record(record)
            except MappingError as exc:
                # One record we cannot read must not stop every later poll of this portal.
                unreadable.append(f"record {record.get('invoiceId', '?')}: {exc}")
                continue
            key = update.portal_invoice_id or update.invoice_number or "?"
            shifted = shifted or key in seen
            seen.add(key)
            updates.append(update)
        skip += len(page)
        if not more or not page:
            break
    newest = max((u.occurred_at for u in updates), default=watermark)
    if watermark is not None and newest is not None:
        newest = max(newest, watermark)  # the overlap re-reads older changes: never move backwards
    next_cursor = cursor if shifted else (newest.isoformat() if newest else None)
    return PollResult(updates=updates, next_cursor=next_cursor, requests=requests, unreadable=unreadable)
