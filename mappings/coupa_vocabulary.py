"""Coupa's vocabularies: cXML transmission codes -> outcome, invoice statuses -> canonical lifecycle.

Sources: Coupa's "Invoice cXML Transmission Error Codes" and the Coupa Supplier Portal REST API
(refs/PORTALS.md). Statuses we do not know are kept verbatim with state None.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.errors import MappingError
from hub.model import InvoiceState, PortalContent, PortalStatusUpdate, RejectionCategory
from mappings.cxml_response import CxmlStatus
from mappings.portal_values import read_day, read_decimal, read_timestamp
from mappings.rejection_words import categorize


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # permanent: fix the invoice
    AUTH = "auth"  # permanent for the whole profile: fix credentials / enablement
    TRANSIENT = "transient"  # not processed: send again later
    IN_DOUBT = "in_doubt"  # may have been processed: reconcile first


@dataclass(frozen=True)
class Classification:
    outcome: Outcome
    category: RejectionCategory | None = None
    duplicate: bool = False


ACCEPTED_CODES = frozenset({200, 201, 202, 204})
AUTH_CODES = frozenset({401, 403})
TRANSIENT_CODES = frozenset({409, 429, 503, 550, 551, 560})
_DOCUMENT_CODES = {
    406: RejectionCategory.DOCUMENT,
    450: RejectionCategory.DOCUMENT,
    400: RejectionCategory.DOCUMENT,
}
_SIGNATURE_CODES = frozenset({475, 476, 477})
#: Coupa's 500 text when the invoice itself is wrong (invalid PO, UOM, PO line, missing tags).
COULD_NOT_CREATE = "server could not create invoice"


def classify_status(status: CxmlStatus) -> Classification:
    """What a cXML Status code from Coupa means for this invoice."""
    code, words = status.code, status.words
    if code in ACCEPTED_CODES:
        return Classification(Outcome.ACCEPTED)
    if code in AUTH_CODES:
        return Classification(Outcome.AUTH, RejectionCategory.CREDENTIALS)
    if code in TRANSIENT_CODES:
        return Classification(Outcome.TRANSIENT)
    if code in _SIGNATURE_CODES:
        return Classification(Outcome.AUTH, RejectionCategory.CREDENTIALS)
    if code in _DOCUMENT_CODES:
        return Classification(Outcome.REJECTED, _DOCUMENT_CODES[code])
    if code == 417:
        category = categorize(words, RejectionCategory.OTHER)
        return Classification(Outcome.REJECTED, category, duplicate=category is RejectionCategory.DUPLICATE)
    if code == 500 and COULD_NOT_CREATE in words.lower():
        return Classification(Outcome.REJECTED, categorize(status.detail, RejectionCategory.PO))
    if 400 <= code < 500:
        category = categorize(words, RejectionCategory.OTHER)
        return Classification(Outcome.REJECTED, category, duplicate=category is RejectionCategory.DUPLICATE)
    # 500 "Unexpected server error." and any other 5xx: the invoice may exist now. Reconcile, then resend.
    return Classification(Outcome.IN_DOUBT)


STATUS_STATES: dict[str, InvoiceState] = {
    "new": InvoiceState.PENDING_APPROVAL,
    "draft": InvoiceState.PENDING_APPROVAL,
    "pending_approval": InvoiceState.PENDING_APPROVAL,
    "pending_receipt": InvoiceState.PENDING_APPROVAL,
    "processing": InvoiceState.PENDING_APPROVAL,
    "approved": InvoiceState.APPROVED,
    "payable_adjustment": InvoiceState.APPROVED,
    "on_hold": InvoiceState.ON_HOLD,
    "ap_hold": InvoiceState.ON_HOLD,
    "booking_hold": InvoiceState.ON_HOLD,
    "pending_action": InvoiceState.ON_HOLD,
    "rejected": InvoiceState.REJECTED,
    "invalid": InvoiceState.REJECTED,
    "disputed": InvoiceState.DISPUTED,
    "abandoned": InvoiceState.CANCELLED,
    "voided": InvoiceState.CANCELLED,
}

DISPUTE_CATEGORIES: dict[str, RejectionCategory] = {
    "INCORRECT-QUANTITY": RejectionCategory.PRICE_QUANTITY,
    "INCORRECT-PRICE": RejectionCategory.PRICE_QUANTITY,
    "INCORRECT-UOM": RejectionCategory.PRICE_QUANTITY,
    "INVALID-PO": RejectionCategory.PO,
    "MISSING-PO": RejectionCategory.PO,
    "DUPLICATE": RejectionCategory.DUPLICATE,
    "INCORRECT-TAX": RejectionCategory.TAX,
    "MISSING-ATTACHMENT": RejectionCategory.ATTACHMENTS,
}

#: Attributes asked of the invoices API (`fields=`): Coupa answers are large and slow otherwise.
API_FIELDS = (
    '["id","invoice-number","status","updated-at","paid","payment-date",'
    '{"dispute-reason":["code","description"]},{"payments":["amount-paid","payment-date","notes"]},'
    # The content, to tell our invoice from another one under the same number (reconciliation).
    '"invoice-date","gross-total",{"currency":["code"]},{"invoice-lines":["line-num","total","po-number"]}]'
)


def parse_invoice_record(record: dict[str, Any]) -> PortalStatusUpdate:
    """One `invoice-header` of the supplier invoices API (JSON shape) -> canonical status, raw kept."""
    try:
        raw_status = str(record["status"])
        portal_id = str(record["id"])
    except KeyError as exc:
        raise MappingError(f"Coupa invoice record lacks {exc.args[0]!r}") from None
    updated = read_timestamp(record.get("updated-at"), "Coupa updated-at")
    state = STATUS_STATES.get(raw_status)
    reason = code = None
    category = None
    # Coupa may leave an old dispute-reason on an invoice that has moved on; it counts only while disputed.
    dispute = (record.get("dispute-reason") or None) if state is InvoiceState.DISPUTED else None
    if dispute:
        code = dispute.get("code")
        reason = " - ".join(part for part in (code, dispute.get("description")) if part)
        category = DISPUTE_CATEGORIES.get(
            str(code or "").upper(), categorize(reason, RejectionCategory.DISPUTED)
        )
    elif state is InvoiceState.REJECTED:
        category = RejectionCategory.OTHER
    paid_amount = None
    payment_date = None
    payments = record.get("payments") or []
    if record.get("paid"):
        state = InvoiceState.PAID
        try:
            paid_amount = sum((Decimal(str(p.get("amount-paid", "0"))) for p in payments), Decimal(0)) or None
        except InvalidOperation:
            raise MappingError("Coupa payment amount is not a number") from None
        dates = [str(p["payment-date"]) for p in payments if p.get("payment-date")]
        raw_date = record.get("payment-date") or (max(dates) if dates else None)
        if raw_date:
            payment_date = read_day(raw_date, "Coupa payment-date")
        # Coupa keeps the approval status and flags payment beside it; keep both words.
        raw_status = f"{raw_status}; paid"
    return PortalStatusUpdate(
        portal_invoice_id=portal_id,
        invoice_number=record.get("invoice-number"),
        state=state,
        raw_status=raw_status,
        reason=reason,
        reason_code=code,
        category=category,
        occurred_at=updated,
        paid_amount=paid_amount,
        payment_date=payment_date,
        content=parse_content(record),
    )


def parse_content(record: dict[str, Any]) -> PortalContent | None:
    """The invoice's content as the API shows it (`gross-total`, `currency`, `invoice-date`,
    `invoice-lines`); None when the answer carries none of it (a `fields` list without them)."""
    currency = record.get("currency")
    code = currency.get("code") if isinstance(currency, dict) else currency
    raw_date = record.get("invoice-date")
    lines = record.get("invoice-lines")
    if not isinstance(lines, list):
        lines = None
    if record.get("gross-total") in (None, "") and not code and not raw_date and lines is None:
        return None
    # Coupa writes the date as a local midnight (2026-11-20T00:00:00-06:00): the date part is the date.
    invoice_date = read_day(str(raw_date)[:10], "Coupa invoice-date") if raw_date else None
    amounts = None
    po_number = None
    if lines is not None:
        amounts = tuple(
            amount
            for amount in (
                read_decimal(line.get("total"), "Coupa invoice line total")
                for line in lines
                if isinstance(line, dict)
            )
            if amount is not None
        )
        orders = {
            str(line.get("po-number") or line.get("order-header-num") or "")
            for line in lines
            if isinstance(line, dict)
        }
        po_number = orders.pop() if len(orders) == 1 else None
    return PortalContent(
        total=read_decimal(record.get("gross-total"), "Coupa gross-total"),
        currency=str(code) if code else None,
        invoice_date=invoice_date,
        po_number=po_number,
        line_count=len(lines) if lines is not None else None,
        line_amounts=amounts
        if lines is not None and amounts is not None and len(amounts) == len(lines)
        else None,
    )
