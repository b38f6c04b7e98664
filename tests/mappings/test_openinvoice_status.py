"""OpenInvoice status records -> canonical statuses, the portal's words kept verbatim."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from hub.errors import MappingError
from hub.model import InvoiceState, RejectionCategory
from mappings.openinvoice_status import STATUS_STATES, parse_status_record


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "invoiceId": "OI-100001",
        "invoiceNumber": "INV-30001",
        "status": "submitted",
        "lastActionDate": "2026-11-20T15:00:00Z",
    }
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("submitted", InvoiceState.PENDING_APPROVAL),
        ("resubmitted", InvoiceState.PENDING_APPROVAL),
        ("Approved", InvoiceState.APPROVED),
        ("disputed", InvoiceState.DISPUTED),
        ("cancelled", InvoiceState.CANCELLED),
        ("deleted", InvoiceState.CANCELLED),
        ("paid", InvoiceState.PAID),
    ],
)
def test_the_statuses_portals_md_lists_map_to_the_lifecycle(status: str, state: InvoiceState) -> None:
    update = parse_status_record(record(status=status))
    assert update.state is state and update.raw_status == status
    assert update.portal_invoice_id == "OI-100001" and update.invoice_number == "INV-30001"
    assert update.occurred_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def test_an_unknown_status_is_kept_verbatim_and_changes_nothing() -> None:
    update = parse_status_record(record(status="Awaiting  Field Approval", comments=["sent to the field"]))
    assert update.state is None
    assert update.raw_status == "Awaiting Field Approval"
    assert update.reason == "sent to the field"
    assert "awaiting field approval" not in STATUS_STATES


def test_a_dispute_carries_the_buyers_words_code_and_category() -> None:
    update = parse_status_record(
        record(
            status="disputed",
            reasonCode="Disputed Content",
            comments=["Line 1: unit price 165.00 for SVC-HOTOIL is above the contract rate 140.00."],
        )
    )
    assert update.state is InvoiceState.DISPUTED
    assert update.reason_code == "Disputed Content"
    assert update.reason == "Line 1: unit price 165.00 for SVC-HOTOIL is above the contract rate 140.00."
    assert update.category is RejectionCategory.PRICE_QUANTITY


def test_a_dispute_without_words_is_still_a_dispute() -> None:
    update = parse_status_record(record(status="disputed"))
    assert update.category is RejectionCategory.DISPUTED and update.reason is None


def test_an_old_dispute_reason_does_not_follow_an_approved_invoice() -> None:
    update = parse_status_record(
        record(status="approved", reasonCode="Disputed Content", comments=["old words"])
    )
    assert update.reason is None and update.reason_code is None and update.category is None


def test_payment_amount_and_date_are_read_for_paid_invoices_only() -> None:
    paid = parse_status_record(record(status="paid", paidAmount="1680.00", paymentDate="2026-12-01"))
    assert paid.paid_amount == Decimal("1680.00") and paid.payment_date == date(2026, 12, 1)
    approved = parse_status_record(record(status="approved", paidAmount="1680.00", paymentDate="2026-12-01"))
    assert approved.paid_amount is None and approved.payment_date is None


def test_zeep_values_are_read_as_well_as_json_text() -> None:
    update = parse_status_record(
        record(
            lastActionDate=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
            status="paid",
            paidAmount=Decimal("10.50"),
            paymentDate=date(2026, 11, 21),
        )
    )
    assert update.occurred_at == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    assert update.paid_amount == Decimal("10.50") and update.payment_date == date(2026, 11, 21)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"lastActionDate": "2026-11-20T15:00:00"}, "no timezone"),
        ({"lastActionDate": "yesterday"}, "not a timestamp"),
        ({"status": "  "}, "empty status"),
        ({"status": "paid", "paidAmount": "lots"}, "not a number"),
        ({"status": "paid", "paymentDate": "someday"}, "not a date"),
    ],
)
def test_unreadable_records_are_mapping_errors(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(MappingError, match=words):
        parse_status_record(record(**fields))


@pytest.mark.parametrize("missing", ["status", "invoiceNumber"])
def test_a_record_without_status_or_number_is_a_mapping_error(missing: str) -> None:
    broken = record()
    del broken[missing]
    with pytest.raises(MappingError, match=missing):
        parse_status_record(broken)
