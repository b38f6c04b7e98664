"""What the sandbox web portals (connectors/sandbox/webportal, connectors/sandbox/supplierportal) share
below their own pages and flows: HTML answers and redirects, the session cookie, reading what a browser
posts (urlencoded or multipart/form-data), amounts as people type them, paged lists, and statuses on a
timeline."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, TypeVar
from urllib.parse import parse_qs

from connectors.sandbox.multipart import parts, payload
from connectors.sandbox.server import Reply, Request

HTML = "text/html; charset=utf-8"
T = TypeVar("T")
CENT = Decimal("0.01")


def html(body: bytes, status: int = 200) -> Reply:
    # A fresh socket per request, so a dropped connection is never a stale kept-alive one. (Chromium
    # may still resend a form whose answer was lost; the connector is built for that.)
    return Reply(status, body, HTML, {"Cache-Control": "no-store", "Connection": "close"})


def redirect(location: str, cookie: str | None = None) -> Reply:
    headers = {"Location": location, "Connection": "close"}
    if cookie is not None:
        headers["Set-Cookie"] = cookie
    return Reply(303, b"", HTML, headers)


def cookie(request: Request, name: str) -> str | None:
    """The value of cookie `name` the browser sent, if any."""
    for item in request.headers.get("cookie", "").split(";"):
        key, _, value = item.strip().partition("=")
        if key == name:
            return value
    return None


class Upload(NamedTuple):
    filename: str
    content_type: str
    content: bytes


def read_form(request: Request) -> tuple[dict[str, str], dict[str, Upload]]:
    """Fields and uploaded files of a urlencoded or multipart/form-data POST."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        parsed = parse_qs(request.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}, {}
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in parts(content_type, request.body):
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        content = payload(part)
        filename = part.get_filename()
        if filename is None:
            fields[name] = content.decode("utf-8", errors="replace")
        elif filename or content:  # a file input left empty still sends an empty part
            files[name] = Upload(filename, part.get_content_type(), content)
    return fields, files


def amount(text: str) -> Decimal | None:
    """An amount as typed in a form ("1,250.00"), or None when it is not one."""
    try:
        return Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None


def page_of(rows: list[T], requested: str | None, size: int) -> tuple[list[T], int, int]:
    """The rows of the page asked for (`?page=`; out of range: the nearest page), its number and the
    number of pages (at least one, even when empty)."""
    count = max(1, -(-len(rows) // size))
    text = requested or "1"
    number = min(max(int(text) if text.isdigit() else 1, 1), count)
    return rows[(number - 1) * size : number * size], number, count


def status_at(
    timeline: list[tuple[datetime, str, str | None]], now: datetime
) -> tuple[str, str | None, datetime]:
    """(status, reason, since) in force at `now` on a timeline of (when, status, reason) entries: the
    last entry at or before it (the first one before the timeline starts)."""
    when, status, reason = timeline[0]
    for entry in timeline:
        if entry[0] <= now:
            when, status, reason = entry
    return status, reason, when
