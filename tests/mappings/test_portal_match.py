"""Our document or another one under the same number: the comparison, and what each portal's lookup
answer gives it to compare (answers written by hand from the documented shapes, not by the hub)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.webportal.reading import _content as listed_total
from hub.errors import MappingError
from hub.model import PortalContent, PortalStatusUpdate
from mappings.ariba_vocabulary import parse_listing_record, with_document_id
from mappings.coupa_vocabulary import parse_invoice_record
from mappings.openinvoice_status import parse_status_record
from mappings.portal_match import Verdict, compare_content, match_record, sent_content
from tests.factories import T0, make_invoice

SENT = make_invoice("INV-1", lines=(("BRG-6205", "10", "EA", "12.50"), ("SEAL-22", "5", "EA", "4.20")))


def record(**content: object) -> PortalStatusUpdate:
    payload_id = content.pop("payload_id", None)
    return PortalStatusUpdate(
        invoice_number="INV-1",
        payload_id=payload_id,
        state=None,
        raw_status="approved",
        occurred_at=T0,
        content=PortalContent.model_validate(content) if content else None,
    )


def test_the_payload_id_of_one_of_our_sends_is_our_document_whatever_else() -> None:
    match = match_record(record(payload_id="p-2", total=Decimal("1")), SENT, {"p-1", "p-2"})
    assert match.verdict is Verdict.SAME_DOCUMENT and match.ours


def test_another_payload_id_is_another_document_even_with_the_same_content() -> None:
    match = match_record(record(payload_id="typed-in-ui", total=SENT.total), SENT, {"p-1"})
    assert match.verdict is Verdict.OTHER_DOCUMENT and not match.ours
    assert match.differences == ("payloadID typed-in-ui at the portal is none of our sends",)


def test_same_content_on_every_field_the_portal_shows() -> None:
    held = record(
        total=Decimal("146"),  # 125.00 + 21.00, written without decimals
        currency="usd",
        po_number="PO-100001",
        invoice_date=SENT.invoice_date,
        line_count=2,
        line_amounts=(Decimal("21.0"), Decimal("125")),
    )
    match = match_record(held, SENT, {"p-1"})
    assert match.verdict is Verdict.SAME_CONTENT
    assert match.compared == ("total", "currency", "PO", "invoice date", "line count", "line amounts")


@pytest.mark.parametrize(
    ("content", "difference"),
    [
        ({"total": Decimal("980.00")}, "total 980.00 at the portal, 146.00 sent"),
        ({"currency": "EUR"}, "currency EUR at the portal, USD sent"),
        ({"po_number": "PO-200002"}, "PO PO-200002 at the portal, PO-100001 sent"),
        (
            {"invoice_date": date(2026, 1, 2)},
            f"invoice date 2026-01-02 at the portal, {SENT.invoice_date} sent",
        ),
        ({"line_count": 1}, "line count 1 at the portal, 2 sent"),
        ({"line_amounts": (Decimal("146.00"),)}, "line amounts 146.00 at the portal, 125.00, 21.00 sent"),
    ],
)
def test_one_field_that_differs_makes_it_another_document(
    content: dict[str, object], difference: str
) -> None:
    held = PortalContent.model_validate({"total": SENT.total, **content})
    match = compare_content(held, sent_content(SENT))
    assert match.verdict is Verdict.OTHER_DOCUMENT and difference in match.differences


def test_nothing_to_compare_is_unverifiable_never_ours() -> None:
    assert match_record(record(), SENT, set()).verdict is Verdict.UNVERIFIABLE
    assert compare_content(PortalContent(), sent_content(SENT)).verdict is Verdict.UNVERIFIABLE
    assert not match_record(record(), SENT, set()).ours


def test_coupa_api_record_content() -> None:
    # The supplier API's JSON shape (hyphenated names; refs/PORTALS.md, Coupa's invoice-header docs).
    update = parse_invoice_record(
        {
            "id": 9533,
            "invoice-number": "INV-1",
            "status": "approved",
            "updated-at": "2026-11-21T10:00:00-06:00",
            "invoice-date": "2026-11-20T00:00:00-06:00",
            "gross-total": "146.00",
            "currency": {"code": "USD"},
            "invoice-lines": [
                {"line-num": 1, "total": "125.00", "po-number": "PO-100001"},
                {"line-num": 2, "total": "21.00", "po-number": "PO-100001"},
            ],
        }
    )
    assert update.content == PortalContent(
        total=Decimal("146.00"),
        currency="USD",
        po_number="PO-100001",
        invoice_date=date(2026, 11, 20),
        line_count=2,
        line_amounts=(Decimal("125.00"), Decimal("21.00")),
    )
    bare = parse_invoice_record(
        {"id": 1, "invoice-number": "X", "status": "approved", "updated-at": "2026-11-21T10:00:00+00:00"}
    )
    assert bare.content is None  # a `fields` list without the content: nothing to compare
    with pytest.raises(MappingError, match="gross-total"):
        parse_invoice_record(
            {**{"id": 1, "status": "new", "updated-at": "2026-11-21T10:00:00+00:00"}, "gross-total": "n/a"}
        )


def test_ariba_listing_content_and_identity() -> None:
    raw = {
        "documentId": "AN-7",
        "invoiceNumber": "INV-1",
        "payloadId": "1763.1.ab@supplier",
        "statusType": "sent",
        "updatedAt": "2026-11-20T15:00:00Z",
        "invoiceTotal": "146.00",
        "currency": "USD",
        "invoiceDate": "2026-11-20T00:00:00-06:00",
    }
    update = with_document_id(parse_listing_record(raw), raw)
    assert update.payload_id == "1763.1.ab@supplier" and update.portal_invoice_id == "AN-7"
    assert update.content == PortalContent(
        total=Decimal("146.00"), currency="USD", invoice_date=date(2026, 11, 20)
    )


def test_openinvoice_record_content() -> None:
    update = parse_status_record(
        {
            "invoiceId": "OI-3",
            "invoiceNumber": "INV-1",
            "status": "submitted",
            "lastActionDate": "2026-11-20T15:00:00Z",
            "invoiceTotal": "146.00",
            "currency": "USD",
        }
    )
    assert update.content == PortalContent(total=Decimal("146.00"), currency="USD")


@pytest.mark.parametrize(
    ("cell", "content"),
    [
        ("125.00 USD", PortalContent(total=Decimal("125.00"), currency="USD")),
        ("USD 1,250.00", PortalContent(total=Decimal("1250.00"), currency="USD")),
        ("$99.5", PortalContent(total=Decimal("99.5"))),
        ("", None),
        ("pending", None),
    ],
)
def test_a_web_portals_listed_total(cell: str, content: PortalContent | None) -> None:
    assert listed_total(cell) == content
