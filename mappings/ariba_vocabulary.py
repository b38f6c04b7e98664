"""SAP Ariba Network's vocabularies: synchronous cXML answers and coded rejections -> outcome and
rejection category; invoice statuses (pushed StatusUpdateRequests, the status listing) -> lifecycle.

Sources: refs/PORTALS.md, "SAP Ariba Network" and "cXML, common to Coupa and Ariba". Ariba's code
list is never complete (buyers write their own rejection messages), so a code we do not know is kept
verbatim and its words decide the category. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hub.errors import MappingError
from hub.model import InvoiceState, PortalContent, PortalStatusUpdate, RejectionCategory
from mappings.cxml_response import (
    DOCUMENT_STATUS_STATES,
    INVOICE_STATUS_STATES,
    CxmlStatus,
    StatusUpdateRequest,
)
from mappings.portal_values import read_decimal, read_timestamp
from mappings.rejection_words import categorize


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # permanent: fix the invoice
    AUTH = "auth"  # permanent for the whole profile: credentials, relationship, account mode
    TRANSIENT = "transient"  # not processed: send again later


@dataclass(frozen=True)
class CodedRejection:
    code: str
    category: RejectionCategory
    meaning: str  # what the code means, in a collector's words


#: The network's published codes (PORTALS.md). INV-13 speaks of a duplicate *order*: that is a PO
#: problem, not "this invoice is already there", so only INVOICE_DUPLICATE counts as a duplicate.
CODED_REJECTIONS: dict[str, CodedRejection] = {
    c.code: c
    for c in (
        CodedRejection(
            "INVOICE_DUPLICATE",
            RejectionCategory.DUPLICATE,
            "an invoice with the same number has already been received",
        ),
        CodedRejection("INVOICE_NO_ID", RejectionCategory.MISSING_FIELD, "the invoice has no invoice number"),
        CodedRejection(
            "SHIPPING_IN_LINE_ERROR",
            RejectionCategory.DOCUMENT,
            "the customer does not accept shipping charges on invoice lines",
        ),
        CodedRejection(
            "SUMMARY_AND_DETAIL",
            RejectionCategory.DOCUMENT,
            "tax or shipping is given both in the summary and on the lines",
        ),
        CodedRejection("INV-13", RejectionCategory.PO, "the order is obsolete or a duplicate"),
        CodedRejection(
            "INV-15",
            RejectionCategory.PO,
            "the customer does not accept invoices for orders sent outside the network",
        ),
        CodedRejection(
            "INV-98", RejectionCategory.TAX, "the customer requires the supplier's tax ID on invoices"
        ),
        CodedRejection(
            "INV-143", RejectionCategory.PO, "the customer does not accept non-PO invoices with pricing"
        ),
    )
}
DUPLICATE_CODE = "INVOICE_DUPLICATE"

_KNOWN_CODE = re.compile(
    r"(?<![A-Z0-9_-])(" + "|".join(map(re.escape, CODED_REJECTIONS)) + r")(?![A-Z0-9_-])"
)
#: A buyer's own code: upper-case words joined by - or _ with a colon after it ("TRC-017: ...").
_ANY_CODE = re.compile(r"(?:^|\s)([A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)+)\s*:")

ACCEPTED_CODES = frozenset({200, 201, 202, 204})
AUTH_CODES = frozenset({401, 403, 475, 476, 477})
#: 409: another request is in process; 429: throttled. Neither was processed.
TRANSIENT_CODES = frozenset({409, 429})


def rejection_code(*texts: str | None) -> str | None:
    """The coded rejection in the network's words (known codes anywhere, a buyer's `CODE:` prefix),
    verbatim; None when the words carry no code."""
    for text in texts:
        if text:
            found = _KNOWN_CODE.search(text)
            if found:
                return found.group(1)
    for text in texts:
        if text:
            found = _ANY_CODE.search(text)
            if found:
                return found.group(1)
    return None


def rejection_category(code: str | None, words: str | None, default: RejectionCategory) -> RejectionCategory:
    """A known code decides; otherwise the words do (a buyer's custom message), else `default`."""
    known = CODED_REJECTIONS.get(code or "")
    return known.category if known is not None else categorize(words, default)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    category: RejectionCategory | None = None
    duplicate: bool = False
    code: str | None = None  # the coded rejection, verbatim (INV-98, INVOICE_DUPLICATE, a buyer's own)


def classify_response(status: CxmlStatus) -> Verdict:
    """What the network's synchronous cXML Status means for the invoice just sent.

    2xx accepted; 401/403 and signature codes are the account's problem; 409/429 and every 5xx
    (560 is "temporary server error") were not processed and are retried; other 4xx are permanent
    and keep the network's words. INVOICE_DUPLICATE is a duplicate whatever the status code."""
    code = status.code
    if code in ACCEPTED_CODES:
        return Verdict(Outcome.ACCEPTED)
    coded = rejection_code(status.detail, status.text)
    if coded == DUPLICATE_CODE:
        return Verdict(Outcome.REJECTED, RejectionCategory.DUPLICATE, duplicate=True, code=coded)
    if code in AUTH_CODES:
        return Verdict(Outcome.AUTH, RejectionCategory.CREDENTIALS, code=coded)
    if code in TRANSIENT_CODES or code >= 500:
        return Verdict(Outcome.TRANSIENT, code=coded)
    default = RejectionCategory.DOCUMENT if code in (406, 450) else RejectionCategory.OTHER
    return Verdict(Outcome.REJECTED, rejection_category(coded, status.words, default), code=coded)


# --- statuses ----------------------------------------------------------------------------------------------

#: Ariba's words beyond cXML's InvoiceStatus / DocumentStatus types: routing statuses (Queued, Sent,
#: Acknowledged, Failed, Obsoleted) and the invoice statuses the supplier's outbox shows.
ARIBA_STATES: dict[str, InvoiceState] = {
    "sent": InvoiceState.PENDING_APPROVAL,
    "acknowledged": InvoiceState.PENDING_APPROVAL,
    "approved": InvoiceState.APPROVED,
    "failed": InvoiceState.REJECTED,  # "didn't follow your customer's invoicing rules"
    "obsoleted": InvoiceState.CANCELLED,
}


def status_state(kind: str | None, status_type: str) -> InvoiceState | None:
    """The canonical state of a status word; None (kept verbatim) for a word we do not know.
    `queued` stays None on purpose: the network holds the invoice, the buyer has not seen it."""
    word = status_type.lower()
    table = DOCUMENT_STATUS_STATES if kind == "DocumentStatus" else INVOICE_STATUS_STATES
    return table.get(word) or ARIBA_STATES.get(word)


def status_update(
    *,
    kind: str | None,
    status_type: str,
    comments: list[str],
    occurred_at: datetime,
    invoice_number: str | None,
    payload_id: str | None,
    paid_amount: Decimal | None = None,
    portal_invoice_id: str | None = None,
) -> PortalStatusUpdate:
    """One Ariba status, however it arrived (pushed or polled), as the hub's canonical update.

    Both ways produce the same raw status and time for the same change, so an invoice whose statuses
    arrive by push *and* by poll records each change once (the dedupe key)."""
    state = status_state(kind, status_type)
    reason = " | ".join(c for c in comments if c) or None
    code = rejection_code(reason) if reason else None
    category = None
    if state is InvoiceState.REJECTED:
        category = rejection_category(code, reason, RejectionCategory.OTHER)
    elif state is InvoiceState.DISPUTED:
        category = rejection_category(code, reason, RejectionCategory.DISPUTED)
    paid = state is InvoiceState.PAID
    return PortalStatusUpdate(
        portal_invoice_id=portal_invoice_id,
        invoice_number=invoice_number,
        payload_id=payload_id,
        state=state,
        raw_status=status_type,
        reason=reason,
        reason_code=code,
        category=category,
        occurred_at=occurred_at,
        paid_amount=paid_amount if paid else None,
        # The network reports a payment when it happens: its time is the payment's date.
        payment_date=occurred_at.date() if paid else None,
    )


def from_status_request(request: StatusUpdateRequest, received_at: datetime) -> PortalStatusUpdate:
    """A StatusUpdateRequest the network pushed -> canonical update. A request without a status
    element keeps its Status code as the raw status (`status-200`), never dropped."""
    comments = list(request.comments)
    if not comments and not request.status.success and request.status.words:
        comments = [request.status.words]
    update = status_update(
        kind=request.kind,
        status_type=request.status_type or f"status-{request.status.code}",
        comments=comments,
        occurred_at=request.timestamp or received_at,
        invoice_number=request.invoice_number,
        payload_id=request.document_payload_id,
        paid_amount=request.partial_amount,
    )
    # Dated by its arrival: a replay arrives at another time, so it is recognised by its content.
    return update if request.timestamp else update.model_copy(update={"timestamped": False})


def parse_listing_record(record: Any) -> PortalStatusUpdate:
    """One record of the network's invoice status listing (JSON) -> canonical update, words kept."""
    if not isinstance(record, dict):
        raise MappingError("an Ariba status record is not an object")
    try:
        number = str(record["invoiceNumber"])
        status_type = str(record["statusType"])
    except KeyError as exc:
        raise MappingError(f"Ariba status record lacks {exc.args[0]!r}") from None
    comments = record.get("comments") or []
    if not isinstance(comments, list):
        raise MappingError("Ariba status record: comments is not a list")
    return status_update(
        kind=record.get("statusKind"),
        status_type=status_type,
        comments=[str(c) for c in comments],
        occurred_at=read_timestamp(record.get("updatedAt"), "Ariba updatedAt"),
        invoice_number=number,
        payload_id=record.get("payloadId") or None,
        paid_amount=read_decimal(record.get("paidAmount"), "Ariba paidAmount"),
        portal_invoice_id=None,
    )


def with_document_id(update: PortalStatusUpdate, record: Any) -> PortalStatusUpdate:
    """The update with the network's document id and what the listing shows of the invoice's content
    (what `lookup` reports for reconciliation: the payloadID, else total, currency and date)."""
    if not isinstance(record, dict):
        return update
    changes: dict[str, Any] = {"content": listing_content(record)}
    if record.get("documentId"):
        changes["portal_invoice_id"] = str(record["documentId"])
    return update.model_copy(update=changes)


def listing_content(record: dict[str, Any]) -> PortalContent | None:
    """`invoiceTotal`, `currency`, `invoiceDate` of a listing record, where the listing gives them."""
    total = record.get("invoiceTotal")
    raw_date = record.get("invoiceDate")
    if total in (None, "") and not raw_date:
        return None
    amount = read_decimal(total, "Ariba invoiceTotal")
    try:
        day = date.fromisoformat(str(raw_date)[:10]) if raw_date else None
    except ValueError:
        raise MappingError(f"Ariba invoiceDate {raw_date!r} is not a date") from None
    return PortalContent(total=amount, currency=record.get("currency") or None, invoice_date=day)
