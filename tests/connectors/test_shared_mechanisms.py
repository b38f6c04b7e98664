"""The mechanisms every portal family shares: the watermark poll loop, multipart bodies, settings types.

Each family's own tests drive these through a sandbox; these pin the shared rules themselves, with
hand-made pages, so a family cannot quietly depend on a behaviour the others do not get."""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.multipart import content_ids, pack, unpack
from connectors.polling import CannotPage, offset_pages, poll_changes
from connectors.settings import PerProfile, TimeZoneName
from hub.errors import MappingError
from hub.model import Attachment, PortalStatusUpdate
from hub.profile import PortalProfile, Strict

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def parse(record: dict[str, Any]) -> PortalStatusUpdate:
    if "at" not in record:
        raise MappingError("no time")
    return PortalStatusUpdate(
        portal_invoice_id=record["id"],
        state=None,
        raw_status="x",
        occurred_at=T0 + timedelta(minutes=record["at"]),
    )


def pages_of(*pages: list[dict[str, Any]], since_seen: list[datetime | None] | None = None) -> Any:
    def read(since: datetime | None) -> Iterator[Sequence[Any]]:
        if since_seen is not None:
            since_seen.append(since)
        yield from pages

    return read


def test_a_poll_reads_from_the_overlap_before_the_watermark_and_never_moves_the_cursor_back() -> None:
    asked: list[datetime | None] = []
    cursor = (T0 + timedelta(minutes=10)).isoformat()
    result = poll_changes(
        pages_of([{"id": "A", "at": 9}], since_seen=asked),
        parse,
        cursor,
        id_key="id",
        overlap=timedelta(minutes=5),
    )
    assert asked == [T0 + timedelta(minutes=5)]
    assert [u.portal_invoice_id for u in result.updates] == ["A"]
    assert result.next_cursor == cursor  # the overlap re-read an older change: the cursor stays
    assert result.requests == 1


def test_the_cursor_moves_to_the_newest_change_read() -> None:
    result = poll_changes(pages_of([{"id": "A", "at": 1}], [{"id": "B", "at": 3}]), parse, None, id_key="id")
    assert result.next_cursor == (T0 + timedelta(minutes=3)).isoformat()
    assert result.requests == 2


def test_nothing_read_from_the_beginning_leaves_no_cursor() -> None:
    assert poll_changes(pages_of([]), parse, None, id_key="id").next_cursor is None


def test_an_unreadable_record_is_reported_by_its_portal_id_and_the_others_are_kept() -> None:
    result = poll_changes(pages_of([{"id": "A"}, {"id": "B", "at": 2}, "junk"]), parse, None, id_key="id")
    assert [u.portal_invoice_id for u in result.updates] == ["B"]
    assert result.unreadable[0] == "record A: no time"
    assert result.unreadable[1].startswith("record ?:")


def test_offset_pages_that_shift_keep_the_cursor_where_it_was() -> None:
    cursor = T0.isoformat()
    shifted = pages_of([{"id": "A", "at": 1}, {"id": "B", "at": 2}], [{"id": "A", "at": 3}])
    assert poll_changes(shifted, parse, cursor, id_key="id").next_cursor == cursor
    # Keyset paging moves a changed record forward: seeing it twice is no shift.
    keyset = pages_of([{"id": "A", "at": 1}, {"id": "B", "at": 2}], [{"id": "A", "at": 3}])
    moved = poll_changes(keyset, parse, cursor, id_key="id", pages_can_shift=False)
    assert moved.next_cursor == (T0 + timedelta(minutes=3)).isoformat()


def test_a_reader_that_cannot_page_keeps_what_it_read_and_says_why() -> None:
    def read(since: datetime | None) -> Iterator[Sequence[Any]]:
        yield [{"id": "A", "at": 1}]
        raise CannotPage("no key to page from")

    result = poll_changes(read, parse, None, id_key="id", pages_can_shift=False)
    assert [u.portal_invoice_id for u in result.updates] == ["A"]
    assert result.unreadable == ["no key to page from"]
    assert result.next_cursor == (T0 + timedelta(minutes=1)).isoformat()
    assert result.requests == 1


def test_offset_pages_stop_at_the_last_page_or_an_empty_one() -> None:
    asked: list[int] = []

    def fetch(skip: int) -> tuple[list[int], bool]:
        asked.append(skip)
        return ([1, 2], True) if skip < 4 else ([], True)

    assert list(offset_pages(fetch)) == [[1, 2], [1, 2], []]
    assert asked == [0, 2, 4]


def test_multipart_puts_the_document_first_and_names_each_file_by_a_stable_content_id() -> None:
    files = [
        Attachment(filename="INV-1.pdf", content=b"%PDF-1.4 one"),
        Attachment(filename='bad "name"\r\nX-Injected: 1.pdf', content=b"%PDF-1.4 two"),
    ]
    ids = content_ids(files)
    assert ids == content_ids(list(files))  # a resend renders the same document
    content_type, body = pack("p1@hub", b"<Invoice/>", files, ids, xml_type="application/xml")
    assert content_type.startswith('multipart/related; boundary="portalhub-')
    assert 'type="application/xml"; start="<p1@hub>"' in content_type
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["application/xml", "application/pdf", "application/pdf"]
    assert all("X-Injected" not in p for p in parts)  # no file name can add a header
    xml, unpacked = unpack(content_type, body)
    assert xml == b"<Invoice/>"
    assert [(p.content_id, p.content) for p in unpacked] == [(ids[f.filename], f.content) for f in files]


def test_a_document_without_files_travels_alone() -> None:
    assert pack("p1@hub", b"<cXML/>", [], {}, xml_type="text/xml") == ("text/xml; charset=UTF-8", b"<cXML/>")
    assert unpack("text/xml; charset=UTF-8", b"<cXML/>") == (b"<cXML/>", [])


class Zoned(Strict):
    timezone: TimeZoneName = "UTC"


def test_a_time_zone_is_checked_when_the_settings_load() -> None:
    assert Zoned(timezone="America/Chicago").timezone == "America/Chicago"
    with pytest.raises(ValidationError, match="unknown time zone 'Central'"):
        Zoned(timezone="Central")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Zoned.model_validate({"timezone": "UTC", "time_zone": "UTC"})


def _profile(identity: str) -> PortalProfile:
    return PortalProfile.model_validate(
        {
            "id": "p",
            "buyer": "B",
            "connector": "coupa",
            "match": {"customer_id": ["C-1"]},
            "connection": {"id": identity},
        }
    )


def test_per_profile_works_a_profile_out_once_and_a_reloaded_profile_again() -> None:
    built: list[str] = []

    def build(profile: PortalProfile) -> str:
        built.append(profile.connection["id"])
        return f"settings of {profile.connection['id']}"

    per_profile = PerProfile(build, size=2)
    first = _profile("one")
    assert per_profile(first) == per_profile(first) == "settings of one"
    assert built == ["one"]
    reloaded = _profile("two")  # the same profile id, read again with other settings: a new object
    assert per_profile(reloaded) == "settings of two"
    assert built == ["one", "two"]
    third = _profile("three")
    per_profile(third)  # over the bound: what was kept is let go, and worked out again when asked
    assert per_profile(first) == "settings of one"
    assert built == ["one", "two", "three", "one"]
