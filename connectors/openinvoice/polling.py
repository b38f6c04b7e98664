"""Incremental polling, shared by both transports: changes since a last-action watermark, page by page.

The cursor is the newest lastActionDate seen; the loop is the one every polling family uses
(connectors/polling.py): at or after the watermark minus `overlap`, oldest first, `$skip`/`$top` pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.base import PollResult
from connectors.polling import offset_pages
from connectors.polling import poll_changes as poll_watermark
from mappings.openinvoice_status import parse_status_record

#: (since or None, skip, top) -> (records oldest first, whether more pages follow)
FetchPage = Callable[[datetime | None, int, int], tuple[list[dict[str, Any]], bool]]


def poll_changes(fetch: FetchPage, cursor: str | None, page_size: int, overlap: timedelta) -> PollResult:
    """Every change since `cursor` (an ISO timestamp; None: from the beginning), and the next cursor."""

    def pages(since: datetime | None) -> Iterator[Sequence[Any]]:
        return offset_pages(lambda skip: fetch(since, skip, page_size))

    return poll_watermark(pages, parse_status_record, cursor, id_key="invoiceId", overlap=overlap)
