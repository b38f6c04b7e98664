"""OpenInvoice's invoice statuses -> the canonical lifecycle (one record of a status listing or lookup).

refs/PORTALS.md: statuses seen are submitted, resubmitted, approved, disputed, cancelled, deleted
(*unverified*); buyers dispute with a reason and comments. `paid` and `rejected` are what the sandbox
and the SOAP services of this family report as well. A status we do not know is kept verbatim with
state None (the hub notes it and changes nothing).

Both transports hand records here in one shape (the REST listing's names; the SOAP connector renames
its fields): invoiceId, invoiceNumber, status, lastActionDate, reasonCode?, comments?, paidAmount?,
paymentDate?.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.errors import MappingError
from hub.model import InvoiceState, PortalContent, PortalStatusUpdate, RejectionCategory
from mappings.pidx_response import category_for
from mappings.portal_values import read_day, read_decimal, read_timestamp

STATUS_STATES: dict[str, InvoiceState] = {
    "submitted": InvoiceState.PENDING_APPROVAL,
    "resubmitted": InvoiceState.PENDING_APPROVAL,
    "pending": InvoiceState.PENDING_APPROVAL,
    "in review": InvoiceState.PENDING_APPROVAL,
    "approved": InvoiceState.APPROVED,
    "on hold": InvoiceState.ON_HOLD,
    "disputed": InvoiceState.DISPUTED,
    "rejected": InvoiceState.REJECTED,
    "paid": InvoiceState.PAID,
    "cancelled": InvoiceState.CANCELLED,
    "canceled": InvoiceState.CANCELLED,
    "deleted": InvoiceState.CANCELLED,
}


def _comments(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [" ".join(str(item).split()) for item in items if str(item).strip()]


def parse_status_record(record: Mapping[str, Any]) -> PortalStatusUpdate:
    """One invoice as OpenInvoice reports it -> canonical status; the portal's words kept verbatim."""
    try:
        raw_status = " ".join(str(record["status"]).split())
        number = str(record["invoiceNumber"])
    except KeyError as exc:
        raise MappingError(f"OpenInvoice invoice record lacks {exc.args[0]!r}") from None
    if not raw_status:
        raise MappingError(f"OpenInvoice invoice record for {number} has an empty status")
    state = STATUS_STATES.get(raw_status.lower())
    reason_code = str(record["reasonCode"]) if record.get("reasonCode") else None
    comments = _comments(record.get("comments"))
    reason = " ".join(comments) or None
    category: RejectionCategory | None = None
    if state in (InvoiceState.DISPUTED, InvoiceState.REJECTED):
        category = category_for(
            reason_code or ("Disputed Content" if state is InvoiceState.DISPUTED else None), reason
        )
    elif state is not None:
        # An old dispute's words linger on an invoice that has moved on; they count only while disputed.
        reason = reason_code = None
    portal_id = record.get("invoiceId")
    return PortalStatusUpdate(
        portal_invoice_id=str(portal_id) if portal_id not in (None, "") else None,
        invoice_number=number,
        state=state,
        raw_status=raw_status,
        reason=reason,
        reason_code=reason_code,
        category=category,
        occurred_at=read_timestamp(record.get("lastActionDate"), "OpenInvoice lastActionDate"),
        paid_amount=read_decimal(record.get("paidAmount"), "OpenInvoice paidAmount")
        if state is InvoiceState.PAID
        else None,
        payment_date=read_day(record.get("paymentDate"), "OpenInvoice paymentDate")
        if state is InvoiceState.PAID
        else None,
        content=_content(record),
    )


def _content(record: Mapping[str, Any]) -> PortalContent | None:
    """`invoiceTotal` and `currency` where the portal lists them (to tell our invoice from another one
    under the same number when an unanswered send is reconciled)."""
    total = record.get("invoiceTotal")
    currency = record.get("currency")
    if total in (None, "") and not currency:
        return None
    return PortalContent(
        total=read_decimal(total, "OpenInvoice invoiceTotal"),
        currency=str(currency) if currency else None,
    )
