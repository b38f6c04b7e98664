"""PIDX InvoiceResponse -> canonical terms (refs/PORTALS.md: StatusCode Accept | Pending | Reject,
ResponseReasonCode Missing Content | Disputed Content | Routing Error | Other, plus comments)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import MappingError
from hub.model import InvoiceState, RejectionCategory
from mappings.pidx_response import (
    LineResponse,
    category_for,
    parse_invoice_response,
    render_invoice_response,
    state_for,
)
from tests.factories import T0

#: Written by hand (not by render_invoice_response): the shape public PIDX 1.61 responses have.
BUYER_REJECT = b"""<?xml version="1.0" encoding="UTF-8"?>
<pidx:InvoiceResponse xmlns:pidx="http://www.pidx.org/schemas/v1.61" pidx:transactionPurposeIndicator="Original" pidx:version="1.61">
  <pidx:InvoiceResponseProperties>
    <pidx:InvoiceResponseNumber>IR-0042</pidx:InvoiceResponseNumber>
    <pidx:StatusCode>Reject</pidx:StatusCode>
    <pidx:InvoiceResponseDate>2026-11-21</pidx:InvoiceResponseDate>
    <pidx:PartnerInformation partnerRoleIndicator="SoldTo">
      <pidx:PartnerIdentifier partnerIdentifierIndicator="DUNSNumber">611222333</pidx:PartnerIdentifier>
    </pidx:PartnerInformation>
    <pidx:InvoiceInformation>
      <pidx:InvoiceNumber>INV-30005</pidx:InvoiceNumber>
      <pidx:InvoiceDate>2026-11-16</pidx:InvoiceDate>
    </pidx:InvoiceInformation>
    <pidx:ResponseReasonCode>Disputed  Content</pidx:ResponseReasonCode>
    <pidx:Comment>Weekend rate not in the MSA.</pidx:Comment>
  </pidx:InvoiceResponseProperties>
  <pidx:InvoiceResponseDetails>
    <pidx:InvoiceResponseLineItem>
      <pidx:LineItemNumber>1</pidx:LineItemNumber>
      <pidx:LineStatusCode>Reject</pidx:LineStatusCode>
      <pidx:Comment>Rate 165.00 above contract rate 140.00.</pidx:Comment>
    </pidx:InvoiceResponseLineItem>
    <pidx:InvoiceResponseLineItem>
      <pidx:LineItemNumber>2</pidx:LineItemNumber>
      <pidx:LineStatusCode>Accept</pidx:LineStatusCode>
    </pidx:InvoiceResponseLineItem>
  </pidx:InvoiceResponseDetails>
  <pidx:InvoiceResponseSummary/>
</pidx:InvoiceResponse>"""


def test_a_buyers_response_is_read_in_any_order_with_every_comment() -> None:
    response = parse_invoice_response(BUYER_REJECT)
    assert response.status == "Reject"
    assert response.reason_code == "Disputed Content"  # whitespace normalised, words kept
    assert response.invoice_number == "INV-30005"
    assert response.response_number == "IR-0042"
    assert response.comments == ("Weekend rate not in the MSA.",)
    assert response.words == "Weekend rate not in the MSA. line 1: Rate 165.00 above contract rate 140.00."
    assert [(line.line_number, line.status) for line in response.lines] == [("1", "Reject"), ("2", "Accept")]
    assert response.code == "Reject/Disputed Content"
    assert not response.received
    assert state_for(response.status, response.reason_code) is InvoiceState.DISPUTED


def test_the_older_pidxml_namespace_is_read_too() -> None:
    legacy = BUYER_REJECT.replace(b"http://www.pidx.org/schemas/v1.61", b"http://www.api.org/pidXML/v1.0")
    assert parse_invoice_response(legacy).status == "Reject"


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (
            b"<pidx:Invoice xmlns:pidx='http://www.pidx.org/schemas/v1.61'/>",
            "expected a PIDX InvoiceResponse",
        ),
        (
            b"<InvoiceResponse><InvoiceResponseProperties/></InvoiceResponse>",
            "expected a PIDX InvoiceResponse",
        ),
        (
            b"<pidx:InvoiceResponse xmlns:pidx='http://www.pidx.org/schemas/v1.61'/>",
            "no InvoiceResponseProperties",
        ),
        (
            b"<pidx:InvoiceResponse xmlns:pidx='http://www.pidx.org/schemas/v1.61'>"
            b"<pidx:InvoiceResponseProperties><pidx:Comment>hi</pidx:Comment></pidx:InvoiceResponseProperties>"
            b"</pidx:InvoiceResponse>",
            "no StatusCode",
        ),
        (b"<pidx:InvoiceResponse", "not well-formed"),
        (
            b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<pidx:InvoiceResponse xmlns:pidx='http://www.pidx.org/schemas/v1.61'>&x;</pidx:InvoiceResponse>",
            "entities",
        ),
    ],
)
def test_what_is_not_an_invoice_response_is_a_mapping_error(document: bytes, words: str) -> None:
    with pytest.raises(MappingError, match=words):
        parse_invoice_response(document)


@pytest.mark.parametrize(
    ("status", "reason", "state"),
    [
        ("Accept", None, InvoiceState.APPROVED),
        ("Pending", None, InvoiceState.PENDING_APPROVAL),
        ("Reject", "Disputed Content", InvoiceState.DISPUTED),
        ("Reject", "Missing Content", InvoiceState.REJECTED),
        ("Reject", "Routing Error", InvoiceState.REJECTED),
        ("Reject", "Other", InvoiceState.REJECTED),
        ("reject", None, InvoiceState.REJECTED),
        ("Escalated", None, None),
    ],
)
def test_status_codes_map_to_the_lifecycle(
    status: str, reason: str | None, state: InvoiceState | None
) -> None:
    assert state_for(status, reason) is state


@pytest.mark.parametrize(
    ("reason", "words", "category"),
    [
        ("Routing Error", "no buyer with this identifier", RejectionCategory.CONFIG),
        ("Disputed Content", "the crew was on site 8 hours, not 12", RejectionCategory.DISPUTED),
        ("Disputed Content", "unit price above the contract rate", RejectionCategory.PRICE_QUANTITY),
        ("Missing Content", "the AFE is not on the invoice", RejectionCategory.MISSING_FIELD),
        ("Missing Content", "a purchase order number is required", RejectionCategory.PO),
        ("Other", "Duplicate invoice: INV-1 has already been submitted", RejectionCategory.DUPLICATE),
        ("Other", "does not follow the PIDX 1.61 schema", RejectionCategory.DOCUMENT),
        ("Other", "something else entirely", RejectionCategory.OTHER),
        (None, None, RejectionCategory.OTHER),
    ],
)
def test_reason_codes_and_words_give_a_category(
    reason: str | None, words: str | None, category: RejectionCategory
) -> None:
    assert category_for(reason, words) is category


_WORDS = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P")), min_size=1, max_size=30)


@given(
    status=st.sampled_from(["Accept", "Pending", "Reject"]),
    reason=st.none() | st.sampled_from(["Missing Content", "Disputed Content", "Routing Error", "Other"]),
    comments=st.lists(_WORDS, max_size=3),
    line_comments=st.lists(_WORDS, max_size=2),
)
def test_what_the_sandbox_writes_reads_back_the_same(
    status: str, reason: str | None, comments: list[str], line_comments: list[str]
) -> None:
    lines = [LineResponse("1", "Reject", reason, tuple(line_comments))] if line_comments else []
    body = render_invoice_response(status, "INV-9", T0, reason_code=reason, comments=comments, lines=lines)
    response = parse_invoice_response(body)
    assert (response.status, response.reason_code, response.invoice_number) == (status, reason, "INV-9")
    assert response.comments == tuple(comments)
    assert response.received is (status != "Reject")
    for comment in [*comments, *line_comments]:
        assert comment in response.words
