"""Ariba's vocabularies, pure: coded rejections, synchronous status codes, status words."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hub.errors import MappingError
from hub.model import InvoiceState, RejectionCategory
from mappings.ariba_vocabulary import (
    CODED_REJECTIONS,
    Outcome,
    classify_response,
    parse_listing_record,
    rejection_code,
    status_state,
    status_update,
)
from mappings.cxml_response import CxmlStatus

S = InvoiceState
AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("words", "code"),
    [
        ("INV-98: Tax ID is required.", "INV-98"),
        ("Bad Request INV-143: Cannot create a non-PO invoice", "INV-143"),
        ("The network says INVOICE_DUPLICATE for this one", "INVOICE_DUPLICATE"),  # a known code anywhere
        ("TRC-017: back-dated", "TRC-017"),
        ("Note: please call us", None),  # a plain word with a colon is no code
        ("OK", None),
        ("", None),
        ("INV-1430: a different code", "INV-1430"),  # INV-143 must not match inside INV-1430
    ],
)
def test_rejection_codes_are_read_verbatim(words: str, code: str | None) -> None:
    assert rejection_code(words) == code


@given(
    prefix=st.from_regex(r"[A-Z][A-Z0-9]{0,6}", fullmatch=True),
    suffix=st.from_regex(r"[A-Z0-9]{1,6}", fullmatch=True),
    separator=st.sampled_from("-_"),
    text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
)
def test_any_buyer_code_is_kept_exactly(prefix: str, suffix: str, separator: str, text: str) -> None:
    code = f"{prefix}{separator}{suffix}"
    assert rejection_code(f"{code}: {text}") in {code} | set(CODED_REJECTIONS)


@given(code=st.integers(min_value=100, max_value=999), detail=st.text(max_size=60))
@example(code=400, detail="INVOICE_DUPLICATE: An invoice with the same ID has already been received.")
@example(code=560, detail="INVOICE_DUPLICATE")
@example(code=201, detail="INVOICE_DUPLICATE")
def test_every_status_code_has_an_outcome_and_only_the_duplicate_code_is_a_duplicate(
    code: int, detail: str
) -> None:
    verdict = classify_response(CxmlStatus(code, "text", detail))
    assert verdict.outcome in Outcome
    if verdict.duplicate:
        assert "INVOICE_DUPLICATE" in detail and not 200 <= code < 300
    if rejection_code(detail) == "INVOICE_DUPLICATE" and not 200 <= code < 300:
        assert verdict.duplicate and verdict.category is RejectionCategory.DUPLICATE
    if verdict.outcome is Outcome.REJECTED:
        assert verdict.category is not None


def test_each_published_code_has_its_category() -> None:
    for code, known in CODED_REJECTIONS.items():
        verdict = classify_response(CxmlStatus(400, "Bad Request", f"{code}: words"))
        assert (verdict.outcome, verdict.category, verdict.code) == (Outcome.REJECTED, known.category, code)
        assert verdict.duplicate is (code == "INVOICE_DUPLICATE")


def test_a_duplicate_order_is_not_a_duplicate_invoice() -> None:
    verdict = classify_response(CxmlStatus(400, "Bad Request", "INV-13: obsolete or duplicate order"))
    assert verdict.category is RejectionCategory.PO and not verdict.duplicate


@pytest.mark.parametrize(
    ("kind", "word", "state"),
    [
        ("InvoiceStatus", "processing", S.PENDING_APPROVAL),
        ("InvoiceStatus", "reconciled", S.APPROVED),
        ("InvoiceStatus", "paying", S.APPROVED),
        ("InvoiceStatus", "paid", S.PAID),
        ("InvoiceStatus", "rejected", S.REJECTED),
        ("InvoiceStatus", "canceled", S.CANCELLED),
        ("DocumentStatus", "approved", S.APPROVED),
        ("DocumentStatus", "Failed", S.REJECTED),
        ("DocumentStatus", "Obsoleted", S.CANCELLED),
        ("DocumentStatus", "Acknowledged", S.PENDING_APPROVAL),
        ("DocumentStatus", "Queued", None),
        ("InvoiceStatus", "awaiting_receipt", None),
        ("PaymentStatus", "Settlement", None),
    ],
)
def test_status_words(kind: str, word: str, state: InvoiceState | None) -> None:
    assert status_state(kind, word) is state


def test_a_paid_status_carries_amount_and_date_and_a_rejection_its_category() -> None:
    paid = status_update(
        kind="InvoiceStatus",
        status_type="paid",
        comments=["Paid by ACH."],
        occurred_at=AT,
        invoice_number="INV-1",
        payload_id="p@x",
        paid_amount=Decimal("10.50"),
    )
    assert (paid.paid_amount, paid.payment_date, paid.reason) == (
        Decimal("10.50"),
        date(2026, 11, 21),
        "Paid by ACH.",
    )
    rejected = status_update(
        kind="InvoiceStatus",
        status_type="rejected",
        comments=["INV-98: Tax ID is required."],
        occurred_at=AT,
        invoice_number="INV-1",
        payload_id=None,
        paid_amount=Decimal("1"),
    )
    assert (rejected.category, rejected.reason_code, rejected.paid_amount) == (
        RejectionCategory.TAX,
        "INV-98",
        None,
    )


def test_a_listing_record_and_a_push_of_one_change_share_their_dedupe_key() -> None:
    pushed = status_update(
        kind="DocumentStatus",
        status_type="approved",
        comments=["ok"],
        occurred_at=AT,
        invoice_number="INV-1",
        payload_id="p@x",
    )
    polled = parse_listing_record(
        {
            "documentId": "INV00000009",
            "invoiceNumber": "INV-1",
            "payloadId": "p@x",
            "statusKind": "DocumentStatus",
            "statusType": "approved",
            "comments": ["ok"],
            "updatedAt": AT.isoformat(),
        }
    )
    assert polled == pushed and polled.dedupe_key("p") == pushed.dedupe_key("p")


@pytest.mark.parametrize(
    "record",
    [
        [],
        {"statusType": "paid", "updatedAt": AT.isoformat()},
        {"invoiceNumber": "INV-1", "statusType": "paid", "updatedAt": "2026-11-21T09:30:00"},
        {"invoiceNumber": "INV-1", "statusType": "paid", "updatedAt": AT.isoformat(), "paidAmount": "x"},
        {"invoiceNumber": "INV-1", "statusType": "paid", "updatedAt": AT.isoformat(), "comments": "text"},
    ],
    ids=["not-an-object", "no-number", "naive-time", "bad-amount", "comments-not-a-list"],
)
def test_unreadable_listing_records_are_mapping_errors(record: object) -> None:
    with pytest.raises(MappingError):
        parse_listing_record(record)
