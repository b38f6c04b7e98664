"""PIDX InvoiceResponse -> canonical terms (refs/PORTALS.md: StatusCode Accept | Pending | Reject,
ResponseReasonCode Missing Content | Disputed Content | Routing Error | Other, plus comments).

The documents are written by hand from SCHEMA_PIDX_1.61_InvoiceResponse.xsd (and validated against it
here, so they are what the schema allows), plus one in the looser form some buyers send; none is
produced by portalhub's or the sandbox's code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from hub.errors import MappingError
from hub.model import InvoiceState, RejectionCategory
from mappings.pidx_response import category_for, parse_invoice_response, state_for
from tests.conftest import schema_problems

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<pidx:InvoiceResponse xmlns:pidx="http://www.pidx.org/schemas/v1.61" '
    'pidx:transactionPurposeIndicator="Original" pidx:version="1.61">'
)
_PARTNERS = """
    <pidx:PartnerInformation partnerRoleIndicator="Seller">
      <pidx:PartnerIdentifier partnerIdentifierIndicator="DUNSNumber">123456789</pidx:PartnerIdentifier>
    </pidx:PartnerInformation>
    <pidx:PartnerInformation partnerRoleIndicator="SoldTo">
      <pidx:PartnerIdentifier partnerIdentifierIndicator="DUNSNumber">611222333</pidx:PartnerIdentifier>
      <pidx:PartnerName>Llano Estacado Oil &amp; Gas</pidx:PartnerName>
    </pidx:PartnerInformation>"""

#: Schema form: a buyer accepts, with a comment and one line.
ACCEPT = f"""{_HEAD}
  <pidx:InvoiceResponseProperties>
    <pidx:InvoiceResponseNumber>IR-0007</pidx:InvoiceResponseNumber>
    <pidx:StatusCode>Accept</pidx:StatusCode>
    <pidx:InvoiceResponseDate>2026-11-22</pidx:InvoiceResponseDate>{_PARTNERS}
    <pidx:InvoiceInformation>
      <pidx:InvoiceNumber>INV-30001</pidx:InvoiceNumber>
      <pidx:InvoiceDate>2026-11-20</pidx:InvoiceDate>
    </pidx:InvoiceInformation>
    <pidx:Comment>Approved for payment, net 30.</pidx:Comment>
  </pidx:InvoiceResponseProperties>
  <pidx:InvoiceResponseDetails>
    <pidx:InvoiceResponseLineItem>
      <pidx:LineItemNumber>1</pidx:LineItemNumber>
      <pidx:StatusCode>Accept</pidx:StatusCode>
    </pidx:InvoiceResponseLineItem>
  </pidx:InvoiceResponseDetails>
  <pidx:InvoiceResponseSummary/>
</pidx:InvoiceResponse>""".encode()

#: Schema form: received and waiting; the minimum the schema allows (an empty line item, no comment).
PENDING = f"""{_HEAD}
  <pidx:InvoiceResponseProperties>
    <pidx:InvoiceResponseNumber>IR-0008</pidx:InvoiceResponseNumber>
    <pidx:StatusCode>Pending</pidx:StatusCode>
    <pidx:InvoiceResponseDate>2026-11-20</pidx:InvoiceResponseDate>{_PARTNERS}
    <pidx:InvoiceInformation><pidx:InvoiceNumber>INV-30002</pidx:InvoiceNumber></pidx:InvoiceInformation>
  </pidx:InvoiceResponseProperties>
  <pidx:InvoiceResponseDetails><pidx:InvoiceResponseLineItem/></pidx:InvoiceResponseDetails>
  <pidx:InvoiceResponseSummary/>
</pidx:InvoiceResponse>""".encode()

#: Schema form: a rejection with two reasons (each with its words), a header comment, and a line
#: rejected with its own reason.
REJECT = f"""{_HEAD}
  <pidx:InvoiceResponseProperties>
    <pidx:InvoiceResponseNumber>IR-0009</pidx:InvoiceResponseNumber>
    <pidx:StatusCode>Reject</pidx:StatusCode>
    <pidx:InvoiceResponseReason>
      <pidx:ResponseReasonCode>Missing Content</pidx:ResponseReasonCode>
      <pidx:ResponseReasonCodeXPath>/pidx:Invoice/pidx:InvoiceDetails/pidx:InvoiceLineItem[1]</pidx:ResponseReasonCodeXPath>
      <pidx:ResponseReasonComments>Line 1: an AFE number is required.</pidx:ResponseReasonComments>
    </pidx:InvoiceResponseReason>
    <pidx:InvoiceResponseReason>
      <pidx:ResponseReasonCode>Other</pidx:ResponseReasonCode>
      <pidx:ResponseReasonComments>Cost center CC-9 is not valid.</pidx:ResponseReasonComments>
    </pidx:InvoiceResponseReason>
    <pidx:InvoiceResponseDate>2026-11-21</pidx:InvoiceResponseDate>{_PARTNERS}
    <pidx:InvoiceInformation>
      <pidx:InvoiceNumber>INV-30003</pidx:InvoiceNumber>
      <pidx:InvoiceTypeCode>ProductOrService</pidx:InvoiceTypeCode>
    </pidx:InvoiceInformation>
    <pidx:Comment>Correct and resubmit under the same number.</pidx:Comment>
  </pidx:InvoiceResponseProperties>
  <pidx:InvoiceResponseDetails>
    <pidx:InvoiceResponseLineItem>
      <pidx:LineItemNumber>1</pidx:LineItemNumber>
      <pidx:StatusCode>Reject</pidx:StatusCode>
      <pidx:InvoiceResponseReason>
        <pidx:ResponseReasonCode>Missing Content</pidx:ResponseReasonCode>
        <pidx:ResponseReasonComments>No AFE.</pidx:ResponseReasonComments>
      </pidx:InvoiceResponseReason>
      <pidx:Comment>See the AFE list of 2026.</pidx:Comment>
    </pidx:InvoiceResponseLineItem>
    <pidx:InvoiceResponseLineItem>
      <pidx:LineItemNumber>2</pidx:LineItemNumber>
      <pidx:StatusCode>Accept</pidx:StatusCode>
    </pidx:InvoiceResponseLineItem>
  </pidx:InvoiceResponseDetails>
  <pidx:InvoiceResponseSummary>
    <pidx:TotalLineItems>2</pidx:TotalLineItems>
  </pidx:InvoiceResponseSummary>
</pidx:InvoiceResponse>""".encode()

#: Schema form: the same rejection as a dispute of the content.
DISPUTE = REJECT.replace(b"Missing Content", b"Disputed Content").replace(b"IR-0009", b"IR-0010")


@pytest.mark.parametrize(
    "document", [ACCEPT, PENDING, REJECT, DISPUTE], ids=["accept", "pending", "reject", "dispute"]
)
def test_the_hand_written_responses_are_what_the_schema_allows(
    document: bytes, pidx_response_schema: etree.XMLSchema
) -> None:
    assert schema_problems(pidx_response_schema, document) == []


def test_an_accept_is_approved_with_its_comment() -> None:
    response = parse_invoice_response(ACCEPT)
    assert (response.status, response.reason_code, response.invoice_number) == ("Accept", None, "INV-30001")
    assert response.response_number == "IR-0007"
    assert response.response_date == "2026-11-22"
    assert response.comments == ("Approved for payment, net 30.",)
    assert response.received
    assert response.code == "Accept"
    assert state_for(response.status, response.reason_code) is InvoiceState.APPROVED


def test_the_minimal_pending_response_is_received() -> None:
    response = parse_invoice_response(PENDING)
    assert (response.status, response.comments, response.lines) == ("Pending", (), ())
    assert response.received
    assert state_for(response.status, response.reason_code) is InvoiceState.PENDING_APPROVAL


def test_a_rejection_keeps_every_reason_and_comment_in_order() -> None:
    response = parse_invoice_response(REJECT)
    assert response.status == "Reject"
    assert response.reason_code == "Missing Content"
    assert response.reason_codes == ("Missing Content", "Other")
    assert response.code == "Reject/Missing Content"
    assert response.comments == (
        "Line 1: an AFE number is required.",
        "Cost center CC-9 is not valid.",
        "Correct and resubmit under the same number.",
    )
    assert [(line.line_number, line.status, line.reason_code) for line in response.lines] == [
        ("1", "Reject", "Missing Content"),
        ("2", "Accept", None),
    ]
    assert response.lines[0].comments == ("No AFE.", "See the AFE list of 2026.")
    assert response.words.endswith("line 1: No AFE. line 1: See the AFE list of 2026.")
    assert not response.received
    assert state_for(response.status, response.reason_code) is InvoiceState.REJECTED
    assert category_for(response.reason_code, response.words) is RejectionCategory.MISSING_FIELD


def test_a_disputed_content_reason_means_disputed() -> None:
    response = parse_invoice_response(DISPUTE)
    assert response.code == "Reject/Disputed Content"
    assert state_for(response.status, response.reason_code) is InvoiceState.DISPUTED


#: The looser form some buyers send (not the schema's): a ResponseReasonCode directly in the properties,
#: LineStatusCode in the lines, elements out of order.
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


_WORDS = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=30)


@given(
    status=st.sampled_from(["Accept", "Pending", "Reject"]),
    reasons=st.lists(
        st.tuples(
            st.sampled_from(["Missing Content", "Disputed Content", "Routing Error", "Other"]),
            st.none() | _WORDS,
        ),
        max_size=3,
    ),
    comment=st.none() | _WORDS,
)
def test_any_schema_shaped_response_reads_its_status_reasons_and_words(
    status: str, reasons: list[tuple[str, str | None]], comment: str | None
) -> None:
    # Assembled here from the schema's element names, not by any code of portalhub's.
    reason_xml = "".join(
        "<pidx:InvoiceResponseReason>"
        f"<pidx:ResponseReasonCode>{code}</pidx:ResponseReasonCode>"
        + (f"<pidx:ResponseReasonComments>{words}</pidx:ResponseReasonComments>" if words else "")
        + "</pidx:InvoiceResponseReason>"
        for code, words in reasons
    )
    comment_xml = f"<pidx:Comment>{comment}</pidx:Comment>" if comment else ""
    document = PENDING.replace(
        b"<pidx:StatusCode>Pending</pidx:StatusCode>",
        f"<pidx:StatusCode>{status}</pidx:StatusCode>{reason_xml}".encode(),
    ).replace(b"</pidx:InvoiceInformation>", f"</pidx:InvoiceInformation>{comment_xml}".encode())
    response = parse_invoice_response(document)
    assert response.status == status
    assert response.reason_codes == tuple(code for code, _ in reasons)
    assert response.reason_code == (reasons[0][0] if reasons else None)
    assert response.comments == tuple(w for _, w in reasons if w) + ((comment,) if comment else ())
    assert response.received is (status != "Reject")
