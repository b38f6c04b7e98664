"""Coupa's vocabularies: cXML transmission codes, invoice statuses, REST records, rejection words.

The tables below are written from refs/PORTALS.md ("Coupa" and "cXML, common to Coupa and Ariba"), not from
the code; where PORTALS.md is available, a test checks that the tables cover everything it lists.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import MappingError
from hub.model import InvoiceState, RejectionCategory
from hub.refs import REPO
from mappings.coupa_vocabulary import STATUS_STATES, Outcome, classify_status, parse_invoice_record
from mappings.cxml_response import CxmlStatus
from mappings.rejection_words import categorize

C = RejectionCategory

# (code, text attribute, element content) -> (outcome, category, duplicate)
TRANSMISSION_CASES: list[tuple[int, str, str, Outcome, RejectionCategory | None, bool]] = [
    (200, "OK", "Successful - invoice id: 9532", Outcome.ACCEPTED, None, False),
    (201, "Accepted", "", Outcome.ACCEPTED, None, False),
    (204, "No Content", "", Outcome.ACCEPTED, None, False),
    (401, "Invalid credentials.", "", Outcome.AUTH, C.CREDENTIALS, False),
    (401, "Unauthorized", "Invalid credentials.", Outcome.AUTH, C.CREDENTIALS, False),
    (403, "cXML invoicing not allowed for supplier.", "", Outcome.AUTH, C.CREDENTIALS, False),
    (406, "Could not parse cXML document.", "", Outcome.REJECTED, C.DOCUMENT, False),
    (406, "Request did not validate successfully with DTD.", "", Outcome.REJECTED, C.DOCUMENT, False),
    (417, "Invalid order/document reference.", "", Outcome.REJECTED, C.PO, False),
    # The fix is in the invoice's data (a field is wrong or missing), not in how the XML is built.
    (417, "Invalid attributes in document.", "", Outcome.REJECTED, C.MISSING_FIELD, False),
    (
        417,
        "Expectation Failed",
        "Invoice number already used for this supplier.",
        Outcome.REJECTED,
        C.DUPLICATE,
        True,
    ),
    (417, "Invoice number INV-1 has already been used", "", Outcome.REJECTED, C.DUPLICATE, True),
    (417, "Duplicate invoice number", "", Outcome.REJECTED, C.DUPLICATE, True),
    (450, "cXML Version of document is not supported.", "", Outcome.REJECTED, C.DOCUMENT, False),
    # 500 "could not create": the invoice is wrong (PO, UOM, PO line, missing tags); the detail picks the category.
    (500, "Server could not create invoice.", "", Outcome.REJECTED, C.PO, False),
    (500, "Server could not create invoice.", "Invalid PO number PO-999999", Outcome.REJECTED, C.PO, False),
    (
        500,
        "Server could not create invoice.",
        "Invalid UOM 'BOX' on line 2",
        Outcome.REJECTED,
        C.PRICE_QUANTITY,
        False,
    ),
    (500, "Server could not create invoice.", "Invalid PO line number 7", Outcome.REJECTED, C.PO, False),
    (
        500,
        "Server could not create invoice.",
        "Missing tag InvoiceDetailItemReference",
        Outcome.REJECTED,
        C.MISSING_FIELD,
        False,
    ),
    (500, "Internal Server Error", "Server could not create invoice.", Outcome.REJECTED, C.PO, False),
    # 500 "unexpected": the invoice may exist now; only a lookup can tell.
    (500, "Unexpected server error.", "", Outcome.IN_DOUBT, None, False),
    (409, "Conflict", "another request is already in process", Outcome.TRANSIENT, None, False),
    (550, "Unable to reach", "", Outcome.TRANSIENT, None, False),
    (551, "Unable to forward request", "", Outcome.TRANSIENT, None, False),
    (560, "Temporary server error", "", Outcome.TRANSIENT, None, False),
    (475, "Signature required", "", Outcome.AUTH, C.CREDENTIALS, False),
    (476, "Signature verification failed", "", Outcome.AUTH, C.CREDENTIALS, False),
    (477, "Signature unacceptable", "", Outcome.AUTH, C.CREDENTIALS, False),
    (400, "Bad Request", "", Outcome.REJECTED, C.DOCUMENT, False),
    (412, "Precondition Failed", "", Outcome.REJECTED, C.OTHER, False),
    (499, "Something the buyer made up", "", Outcome.REJECTED, C.OTHER, False),
    (422, "Unit price exceeds contract price", "", Outcome.REJECTED, C.PRICE_QUANTITY, False),
    (502, "Bad Gateway", "", Outcome.IN_DOUBT, None, False),
    (599, "Whatever", "", Outcome.IN_DOUBT, None, False),
]


@pytest.mark.parametrize(
    ("code", "text", "detail", "outcome", "category", "duplicate"),
    TRANSMISSION_CASES,
    ids=[f"{c[0]}-{c[1][:30]}-{c[2][:20]}" for c in TRANSMISSION_CASES],
)
def test_transmission_codes(
    code: int, text: str, detail: str, outcome: Outcome, category: RejectionCategory | None, duplicate: bool
) -> None:
    verdict = classify_status(CxmlStatus(code, text, detail))
    assert (verdict.outcome, verdict.category, verdict.duplicate) == (outcome, category, duplicate)


def _coupa_section(cxml_refs: Path) -> str:
    """The "Coupa" section of refs/PORTALS.md, which sits beside the cxml/ folder of the DTDs."""
    candidates = [cxml_refs.parent / "PORTALS.md", REPO.parent / "shared" / "refs" / "PORTALS.md"]
    found = next((path for path in candidates if path.is_file()), None)
    assert found is not None, f"refs/PORTALS.md not found in {[str(c) for c in candidates]}"
    return found.read_text(encoding="utf-8").split("\n## Coupa", 1)[1].split("\n## ", 1)[0]


def test_every_coupa_code_and_text_in_portals_md_is_in_the_table(cxml_refs: Path) -> None:
    section = _coupa_section(cxml_refs)
    errors = section.split("Error codes and texts", 1)[1].split("\n- ", 1)[0]
    documented = {
        (int(code), text)
        for code, texts in re.findall(r"(\d{3})\s+((?:`[^`]+`\s*/?\s*)+)", errors)
        for text in re.findall(r"`([^`]+)`", texts)
    }
    assert len(documented) >= 9, documented  # the parse found the whole list
    covered = {(case[0], case[1]) for case in TRANSMISSION_CASES}
    assert documented - covered == set()
    success = re.search(r'<Status code="(\d+)" text="([^"]+)">([^<]*)</Status>', section)
    assert success is not None
    assert classify_status(CxmlStatus(int(success[1]), success[2], success[3])).outcome is Outcome.ACCEPTED


@given(code=st.integers(400, 499), words=st.text(max_size=60))
def test_no_4xx_is_retried_blindly_or_left_in_doubt(code: int, words: str) -> None:
    verdict = classify_status(CxmlStatus(code, words, ""))
    if code in (409, 429):  # "another request already in process" / throttled: not processed
        assert verdict.outcome is Outcome.TRANSIENT
    else:
        assert verdict.outcome in (Outcome.REJECTED, Outcome.AUTH)
        assert verdict.category is not None
    assert verdict.duplicate == (verdict.category is C.DUPLICATE)


@given(code=st.integers(500, 599), words=st.text(max_size=60))
def test_5xx_is_never_accepted_and_in_doubt_unless_known(code: int, words: str) -> None:
    verdict = classify_status(CxmlStatus(code, words, ""))
    assert verdict.outcome not in (Outcome.ACCEPTED, Outcome.AUTH)
    if code in (503, 550, 551, 560):
        assert verdict.outcome is Outcome.TRANSIENT
    elif "server could not create invoice" not in words.lower():
        assert verdict.outcome is Outcome.IN_DOUBT


# --- invoice statuses --------------------------------------------------------------------------------------

S = InvoiceState
#: Every Coupa invoice status (refs/PORTALS.md) and the canonical state a collector should see.
COUPA_STATUSES = {
    "new": S.PENDING_APPROVAL,
    "draft": S.PENDING_APPROVAL,
    "pending_approval": S.PENDING_APPROVAL,
    "pending_receipt": S.PENDING_APPROVAL,
    "processing": S.PENDING_APPROVAL,
    "approved": S.APPROVED,
    "payable_adjustment": S.APPROVED,
    "on_hold": S.ON_HOLD,
    "ap_hold": S.ON_HOLD,
    "booking_hold": S.ON_HOLD,
    "pending_action": S.ON_HOLD,
    "rejected": S.REJECTED,
    "invalid": S.REJECTED,
    "disputed": S.DISPUTED,
    "abandoned": S.CANCELLED,
    "voided": S.CANCELLED,
}


def test_every_status_listed_in_portals_md_is_mapped(cxml_refs: Path) -> None:
    section = _coupa_section(cxml_refs)
    listed = re.search(r"Invoice statuses:(.*?)\(\+ paid", section, re.S)
    assert listed is not None
    statuses = {word.strip() for word in listed[1].replace("\n", " ").split(",") if word.strip()}
    assert len(statuses) >= 10, statuses
    assert statuses - set(STATUS_STATES) == set(), "Coupa statuses without a canonical state"
    assert statuses == set(COUPA_STATUSES)


@pytest.mark.parametrize(("status", "state"), sorted(COUPA_STATUSES.items()))
def test_each_coupa_status_maps_to_its_state(status: str, state: InvoiceState) -> None:
    assert STATUS_STATES[status] is state
    update = parse_invoice_record(record(status=status))
    assert (update.state, update.raw_status) == (state, status)


# --- REST records ------------------------------------------------------------------------------------------


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 9532,
        "invoice-number": "INV-24001",
        "status": "approved",
        "created-at": "2026-11-20T09:00:00-06:00",
        "updated-at": "2026-11-21T10:15:00-06:00",
        "paid": False,
    }
    base.update({k.replace("_", "-"): v for k, v in fields.items()})
    return base


def test_plain_record() -> None:
    update = parse_invoice_record(record())
    assert update.portal_invoice_id == "9532"
    assert update.invoice_number == "INV-24001"
    assert update.state is S.APPROVED
    assert update.occurred_at == datetime(2026, 11, 21, 16, 15, tzinfo=UTC)
    assert update.paid_amount is None and update.payment_date is None
    assert update.reason is None and update.category is None


def test_paid_flag_gives_paid_with_amount_and_date() -> None:
    update = parse_invoice_record(
        record(
            paid=True,
            payment_date="2026-12-01T00:00:00-06:00",
            payments=[
                {"amount-paid": "500.00", "payment-date": "2026-11-28", "notes": "ACH 1"},
                {"amount-paid": "314.04", "payment-date": "2026-12-01", "notes": "ACH 2"},
            ],
        )
    )
    assert update.state is S.PAID
    assert update.paid_amount == Decimal("814.04")
    assert update.payment_date == date(2026, 12, 1)
    assert update.raw_status.startswith("approved")  # Coupa's own status word is kept
    assert "paid" in update.raw_status


def test_paid_flag_without_payment_date_takes_the_last_payment() -> None:
    update = parse_invoice_record(
        record(paid=True, payments=[{"amount-paid": 100, "payment-date": "2026-12-03"}])
    )
    assert (update.state, update.paid_amount, update.payment_date) == (
        S.PAID,
        Decimal(100),
        date(2026, 12, 3),
    )


def test_paid_flag_alone() -> None:
    update = parse_invoice_record(record(paid=True, payment_date="2026-12-01"))
    assert (update.state, update.paid_amount, update.payment_date) == (S.PAID, None, date(2026, 12, 1))


def test_unpaid_record_is_not_paid() -> None:
    update = parse_invoice_record(record(paid=False, payments=[]))
    assert update.state is S.APPROVED


def test_dispute_reason_is_kept_verbatim_with_its_category() -> None:
    update = parse_invoice_record(
        record(
            status="disputed",
            dispute_reason={"code": "INCORRECT-QUANTITY", "description": "Billed 60, received 48"},
        )
    )
    assert update.state is S.DISPUTED
    assert update.reason_code == "INCORRECT-QUANTITY"
    assert "Billed 60, received 48" in update.reason
    assert "INCORRECT-QUANTITY" in update.reason
    assert update.category is C.PRICE_QUANTITY


@pytest.mark.parametrize(
    ("code", "description", "category"),
    [
        ("INVALID-PO", None, C.PO),
        ("ASK-AP", "Please attach the signed field ticket PDF", C.ATTACHMENTS),
        ("OTHER", "Call Maria in AP", C.DISPUTED),
        (None, "Tax rate should be 6.25% for this county", C.TAX),
    ],
)
def test_dispute_categories(code: str | None, description: str | None, category: RejectionCategory) -> None:
    update = parse_invoice_record(
        record(status="disputed", dispute_reason={"code": code, "description": description})
    )
    assert update.category is category
    assert update.reason is not None
    for word in (code, description):
        if word:
            assert word in update.reason


def test_rejected_without_reason_still_has_a_category() -> None:
    update = parse_invoice_record(record(status="rejected"))
    assert (update.state, update.category) == (S.REJECTED, C.OTHER)


@pytest.mark.parametrize("status", ["sent_to_erp", "Pending Supplier Review", ""])
def test_unknown_status_is_kept_raw_without_a_state(status: str) -> None:
    update = parse_invoice_record(record(status=status))
    assert update.state is None
    assert update.raw_status == status


@pytest.mark.parametrize(
    "updated_at",
    [
        None,
        "",
        "yesterday",
        "21/11/2026 10:15",
        "2026-13-01T10:00:00+00:00",
        "2026-11-21T10:15:00",
        "2026-11-21",
        12,
    ],
)
def test_malformed_timestamps_are_mapping_errors(updated_at: Any) -> None:
    with pytest.raises(MappingError, match="updated-at"):
        parse_invoice_record(record(updated_at=updated_at))


def test_timestamp_offsets_are_honoured() -> None:
    update = parse_invoice_record(record(updated_at="2026-11-21T10:15:00+05:30"))
    assert update.occurred_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert update.occurred_at == datetime(
        2026, 11, 21, 10, 15, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"paid": True, "payment_date": "first of December"}, "payment-date"),
        ({"paid": True, "payments": [{"amount-paid": "lots"}]}, "amount"),
    ],
)
def test_malformed_payment_data_is_a_mapping_error(fields: dict[str, Any], complaint: str) -> None:
    with pytest.raises(MappingError, match=complaint):
        parse_invoice_record(record(**fields))


@pytest.mark.parametrize("missing", ["id", "status"])
def test_record_without_id_or_status_is_a_mapping_error(missing: str) -> None:
    incomplete = record()
    del incomplete[missing]
    with pytest.raises(MappingError, match=missing):
        parse_invoice_record(incomplete)


# --- rejection words ---------------------------------------------------------------------------------------

WORDS = [
    ("INVOICE_DUPLICATE: An invoice with the same ID has already been received", C.DUPLICATE),
    ("Invoice number already used for this supplier", C.DUPLICATE),
    ("Duplicate PO reference on invoice", C.DUPLICATE),
    ("Invalid credentials.", C.CREDENTIALS),
    ("INVALID CREDENTIALS", C.CREDENTIALS),
    ("cXML invoicing not allowed for supplier.", C.CREDENTIALS),
    ("Shared secret mismatch", C.CREDENTIALS),
    ("Request did not validate successfully with DTD.", C.DOCUMENT),
    ("Could not parse cXML document.", C.DOCUMENT),
    ("cXML Version of document is not supported.", C.DOCUMENT),
    ("INV-98: Tax ID missing", C.TAX),
    ("Sales tax rate does not match ship-to jurisdiction", C.TAX),
    ("Quantity billed exceeds quantity received", C.PRICE_QUANTITY),
    ("Unit price does not match the PO price", C.PRICE_QUANTITY),
    ("Unit of measure BOX not valid for this item", C.PRICE_QUANTITY),
    ("Invalid PO line item match", C.PO),
    ("INV-143: Cannot create a non-PO invoice with pricing details.", C.PO),
    ("Invalid order/document reference.", C.PO),
    ("Purchase order is closed", C.PO),
    ("Attachment required: signed field ticket", C.ATTACHMENTS),
    ("Please include the PDF copy", C.ATTACHMENTS),
    ("The invoice can only be back-dated by two calendar days", C.DATES),
    ("Invoice date cannot be in the future", C.DATES),
    ("Cost center is required", C.MISSING_FIELD),
    ("Missing remit-to address", C.MISSING_FIELD),
    ("Invalid attributes in document.", C.MISSING_FIELD),
    ("Please call Maria in accounts payable", C.OTHER),
    ("Please update your remit-to phone", C.OTHER),  # "update" is not "date", "phone" is not "PO"
    ("Shipment sent to the wrong depot", C.OTHER),
]


@pytest.mark.parametrize(("text", "category"), WORDS)
def test_categorize_realistic_texts(text: str, category: RejectionCategory) -> None:
    assert categorize(text) is category


@pytest.mark.parametrize("text", [None, "", "Please call Maria"])
def test_categorize_falls_back_to_the_default(text: str | None) -> None:
    assert categorize(text, C.DISPUTED) is C.DISPUTED
    assert categorize(text) is C.OTHER


def test_a_leftover_dispute_reason_does_not_follow_an_approved_invoice() -> None:
    record = {
        "id": 7,
        "invoice-number": "INV-7",
        "status": "approved",
        "updated-at": "2026-11-21T10:00:00+00:00",
        "dispute-reason": {"code": "INCORRECT-PRICE", "description": "old"},
    }
    update = parse_invoice_record(record)
    assert update.state is InvoiceState.APPROVED and update.reason is None and update.category is None


def test_the_payment_date_is_the_latest_payment() -> None:
    record = {
        "id": 8,
        "invoice-number": "INV-8",
        "status": "approved",
        "paid": True,
        "updated-at": "2026-11-21T10:00:00+00:00",
        "payments": [
            {"amount-paid": "50.00", "payment-date": "2026-11-25"},
            {"amount-paid": "25.00", "payment-date": "2026-11-20"},
        ],
    }
    update = parse_invoice_record(record)
    assert str(update.payment_date) == "2026-11-25" and str(update.paid_amount) == "75.00"
