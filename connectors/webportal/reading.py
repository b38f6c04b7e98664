"""Reading the portal: its invoice list (filters, pages) and, for rejected or disputed invoices, the
reason on the invoice's own page. Used by `poll`, by `lookup` and before every submission."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from connectors.base import PollResult, PortalRecord
from connectors.polling import newest_change, watermark_window
from connectors.webportal.browser import Browsing
from connectors.webportal.flow import Observer, StepRunner, Values
from connectors.webportal.session import Portal, PortalSession
from connectors.webportal.values import portal_instant
from hub.model import InvoiceState, PortalContent, PortalStatusUpdate, RejectionCategory
from mappings.rejection_words import categorize

# One round trip for the whole table: header texts, then each body row's cell texts and links.
_READ_TABLE = """(table) => {
  const clean = (el) => (el.innerText || "").replace(/\\s+/g, " ").trim();
  const headerRow = Array.from(table.querySelectorAll("tr")).find((tr) => tr.querySelector("th"));
  const headers = headerRow ? Array.from(headerRow.querySelectorAll("th,td")).map(clean) : [];
  const rows = Array.from(table.querySelectorAll("tr"))
    .filter((tr) => tr !== headerRow && tr.querySelector("td"))
    .map((tr) => Array.from(tr.querySelectorAll("th,td")).map((cell) => {
      const link = cell.querySelector("a[href]");
      return [clean(cell), link ? link.href : null];
    }));
  return { headers, rows };
}"""


@dataclass(frozen=True)
class Row:
    number: str
    status: str
    updated: datetime
    portal_invoice_id: str | None
    detail_url: str | None
    total: str = ""  # as the list shows it, when the recipe names the column


class InvoiceList:
    def __init__(self, session: PortalSession, observer: Observer | None = None):
        self.session = session
        self.recipe = session.portal.recipe
        self.spec = self.recipe.invoice_list
        self.observer = observer
        self.pages_read = 0
        self.truncated = False  # stopped at `max_pages` with more pages to go

    def _runner(self) -> StepRunner:
        def refused(step: str, words: list[str]) -> NoReturn:
            # The portal refusing our own filter: the recipe types it in a form the portal does not take.
            self.session.page.mismatch(step, f"a list, and the portal refused the filter: {'; '.join(words)}")

        return StepRunner(self.session, self.spec.errors, refused, observer=self.observer)

    def search(self, number: str | None = None, since: datetime | None = None) -> tuple[list[Row], list[str]]:
        """Every row the list shows for the filters, over all its pages; (rows, rows it could not read)."""
        spec, page = self.spec, self.session.page
        fields: dict[str, str] = {}
        if number is not None:
            fields["invoice_number"] = number
        if since is not None:
            fields["updated_since"] = portal_instant(self.recipe, "updated_since", since)
        self._runner().run("invoice_list", spec.steps, Values(fields=fields))
        rows: list[Row] = []
        unreadable: list[str] = []
        for number_of_page in range(1, self.session.portal.max_pages + 1):
            self._read_page(rows, unreadable, number_of_page)
            self.pages_read += 1
            if spec.next_page is None or not page.visible(spec.next_page):
                break
            step = f"invoice_list: page {number_of_page + 1}"
            self.session.press(spec.next_page, step)
            page.check_loaded(step)
        else:
            self.truncated = True
        if since is not None:  # a portal without that filter (or with a coarser one): the connector filters
            rows = [row for row in rows if row.updated > since]
        return rows, unreadable

    def _read_page(self, rows: list[Row], unreadable: list[str], number: int) -> None:
        spec, page = self.spec, self.session.page
        step = f"invoice_list: read page {number}"
        table = page.locate(spec.table)
        try:
            table.first.wait_for(state="attached", timeout=page.step_timeout_ms)
            data: dict[str, Any] = table.first.evaluate(_READ_TABLE)
        except page.timeout_error:
            page.mismatch(step, spec.table.describe())
        headers = [h.casefold() for h in data["headers"]]
        columns: dict[str, int | None] = {}
        wanted = spec.columns.model_dump()
        wanted["detail_link"] = wanted["detail_link"] or wanted["invoice_number"]
        for key, title in wanted.items():
            if title is None:
                columns[key] = None
                continue
            if title.casefold() not in headers:
                page.mismatch(step, f"a column {title!r} (the columns are: {', '.join(data['headers'])})")
            columns[key] = headers.index(title.casefold())
        zone = ZoneInfo(spec.timezone)
        empty = [re.compile(pattern) for pattern in spec.empty]
        for cells in data["rows"]:
            whole = " ".join(str(text) for text, _ in cells).strip()
            if any(pattern.search(whole) for pattern in empty):
                continue  # the portal's "nothing found", not an invoice

            def cell(key: str, cells: list[list[Any]] = cells) -> tuple[str, str | None]:
                index = columns[key]
                if index is None or index >= len(cells):
                    return "", None
                return str(cells[index][0]), cells[index][1]

            number_text = cell("invoice_number")[0]
            try:
                updated = datetime.strptime(cell("updated")[0], spec.updated_format)
            except ValueError:
                unreadable.append(
                    f"{number_text or '?'}: updated {cell('updated')[0]!r} is not {spec.updated_format}"
                )
                continue
            if updated.tzinfo is None:
                updated = updated.replace(tzinfo=zone)
            updated = updated.astimezone(UTC)  # the cursor and the events in one zone, whatever the portal's
            link = cell("detail_link")[1]
            rows.append(
                Row(
                    number_text,
                    cell("status")[0],
                    updated,
                    cell("portal_invoice_id")[0] or None,
                    link,
                    cell("total")[0],
                )
            )

    def update(self, row: Row, want_id: bool = False) -> PortalStatusUpdate:
        """The row as a canonical status, with the reason from the detail page when its state has one
        (and, `want_id`, the portal's id from there when the list does not show it)."""
        state = self.recipe.state_of(row.status)
        reads: dict[str, str | None] = {}  # empty: the detail page was not read
        has_reason = state in self.recipe.reason_states
        if (
            row.detail_url
            and self.recipe.invoice_detail.steps
            and (has_reason or (want_id and not row.portal_invoice_id))
        ):
            reads = self._detail(row)
        reason = reads.get("reason") if has_reason else None
        category = None
        if has_reason and reads:
            default = (
                RejectionCategory.DISPUTED if state is InvoiceState.DISPUTED else RejectionCategory.OTHER
            )
            category = categorize(reason, default)
        return PortalStatusUpdate(
            portal_invoice_id=row.portal_invoice_id or reads.get("portal_invoice_id"),
            invoice_number=row.number or None,
            state=state,
            raw_status=row.status,
            reason=reason,
            reason_code=reads.get("reason_code") if has_reason else None,
            category=category,
            occurred_at=row.updated,
            content=_content(row.total),
        )

    def _detail(self, row: Row) -> dict[str, str | None]:
        assert row.detail_url is not None
        self.session.open(row.detail_url, f"invoice_detail: open invoice {row.number}")
        return self._runner().run("invoice_detail", self.recipe.invoice_detail.steps, Values())


def _content(total: str) -> PortalContent | None:
    """`125.00 USD`, `USD 125.00`, `1,250.00` -> amount (and currency); None when absent or unreadable
    (an unreadable total only means there is nothing to compare)."""
    words = total.replace(",", "").split()
    amount = currency = None
    for word in words:
        if re.fullmatch(r"[A-Z]{3}", word):
            currency = word
        else:
            try:
                amount = Decimal(word.lstrip("$"))
            except InvalidOperation:
                return None
    if amount is None:
        return None
    return PortalContent(total=amount, currency=currency)


def lookup(browsing: Browsing, portal: Portal, number: str) -> PortalRecord | None:
    """The portal's record of an invoice number (the newest, if it lists several), or None."""
    session = PortalSession(browsing, portal, number)
    listing = InvoiceList(session)
    rows, _ = listing.search(number=number)
    matches = [row for row in rows if row.number == number]
    if not matches:
        return None
    return listing.update(max(matches, key=lambda row: row.updated), want_id=True)


def poll(browsing: Browsing, portal: Portal, cursor: str | None, overlap_seconds: int) -> PollResult:
    """Changes since the cursor (the newest 'updated' seen), re-reading `overlap_seconds` before it."""
    session = PortalSession(browsing, portal, "_poll")
    listing = InvoiceList(session)
    watermark, since = watermark_window(cursor, timedelta(seconds=overlap_seconds))
    rows, unreadable = listing.search(since=since)
    updates = [listing.update(row) for row in rows]
    newest = newest_change(updates, watermark)
    if listing.truncated:
        pages = portal.max_pages
        if all(a.updated <= b.updated for a, b in pairwise(rows)):
            unreadable.append(f"stopped after {pages} pages; the newer changes come with the next poll")
        else:
            # Newest first: the pages not read hold changes older than any read, so a cursor moved
            # past them would lose them for good. It stays, and the problem shows.
            newest = watermark
            unreadable.append(
                f"stopped after {pages} pages of a list that shows the newest changes first; the cursor "
                "stays where it was: raise connection.max_pages to read them all"
            )
    return PollResult(
        updates=updates,
        next_cursor=newest.isoformat() if newest is not None else None,
        requests=listing.pages_read + sum(1 for u in updates if u.reason is not None),
        unreadable=unreadable,
    )
