"""cXML documents that come back: the synchronous `Response`, and `StatusUpdateRequest` from a buyer.

Read the `<Status code=...>` inside the document, never the HTTP status: an HTTP 200 can carry a
cXML 401. Status types we do not know are kept verbatim (state None), never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from hub.errors import MappingError
from hub.model import InvoiceState, PortalStatusUpdate, RejectionCategory
from mappings.rejection_words import categorize
from mappings.xml_safety import parse_untrusted

CXML_DTD_1_2_063 = "http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd"


@dataclass(frozen=True)
class CxmlStatus:
    code: int
    text: str
    detail: str  # the element's content: portals put their explanation here

    @property
    def success(self) -> bool:
        return 200 <= self.code < 300

    @property
    def words(self) -> str:
        """The portal's words, verbatim: the text attribute and any detail after it."""
        return f"{self.text} {self.detail}".strip() if self.detail and self.detail != self.text else self.text


def _status(node: etree._Element | None, where: str) -> CxmlStatus:
    if node is None:
        raise MappingError(f"{where} has no <Status>")
    raw_code = node.get("code", "")
    try:
        code = int(raw_code)
    except ValueError:
        raise MappingError(f"{where}: Status code {raw_code!r} is not a number") from None
    return CxmlStatus(code=code, text=node.get("text", ""), detail=(node.text or "").strip())


def parse_response(body: bytes) -> CxmlStatus:
    """The Status of a cXML Response; MappingError if the body is not one."""
    root = parse_untrusted(body)
    if root.tag != "cXML":
        raise MappingError(f"expected a cXML document, got <{root.tag}>")
    return _status(root.find("Response/Status"), "cXML Response")


def render_response(code: int, text: str, payload_id: str, timestamp: datetime, detail: str = "") -> bytes:
    """A cXML Response (what the sandboxes and the inbound status receiver answer)."""
    root = etree.Element("cXML", payloadID=payload_id, timestamp=timestamp.isoformat())
    root.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    response = etree.SubElement(root, "Response")
    status = etree.SubElement(response, "Status", code=str(code), text=text)
    if detail:
        status.text = detail
    body: bytes = etree.tostring(root, encoding="UTF-8")
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + f'<!DOCTYPE cXML SYSTEM "{CXML_DTD_1_2_063}">\n'.encode()
        + body
    )


# --- StatusUpdateRequest -----------------------------------------------------------------------------------

INVOICE_STATUS_STATES: dict[str, InvoiceState] = {
    "processing": InvoiceState.PENDING_APPROVAL,
    "reconciled": InvoiceState.APPROVED,
    "paying": InvoiceState.APPROVED,
    "processing_payment": InvoiceState.APPROVED,
    "paid": InvoiceState.PAID,
    "rejected": InvoiceState.REJECTED,
    "validation_failed": InvoiceState.REJECTED,
    "canceled": InvoiceState.CANCELLED,
    "cancelled": InvoiceState.CANCELLED,
}
DOCUMENT_STATUS_STATES: dict[str, InvoiceState] = {
    "approved": InvoiceState.APPROVED,
    "rejected": InvoiceState.REJECTED,
    "canceled": InvoiceState.CANCELLED,
    "cancelled": InvoiceState.CANCELLED,
    "disputed": InvoiceState.DISPUTED,
    "processing": InvoiceState.PENDING_APPROVAL,
}


@dataclass(frozen=True)
class StatusUpdateRequest:
    """A parsed StatusUpdateRequest: who sent it, what it refers to, and what it says."""

    payload_id: str
    timestamp: datetime | None
    from_identity: str | None
    sender_domain: str | None
    sender_identity: str | None
    shared_secret: str | None = field(repr=False)
    document_payload_id: str | None
    status: CxmlStatus
    kind: str | None  # InvoiceStatus / DocumentStatus / PaymentStatus
    status_type: str | None  # e.g. processing, paid, or a type we do not know
    invoice_id: str | None
    comments: list[str]
    partial_amount: Decimal | None
    payment_net_due_date: str | None

    def to_update(self, fallback_time: datetime) -> PortalStatusUpdate:
        """The canonical status; unknown types keep state None and their raw type."""
        table = DOCUMENT_STATUS_STATES if self.kind == "DocumentStatus" else INVOICE_STATUS_STATES
        raw = self.status_type or f"status-{self.status.code}"
        state = table.get(raw.lower()) if self.status_type else None
        reason = " | ".join(c for c in self.comments if c) or (
            self.status.words if not self.status.success else None
        )
        # The buyer's words decide the category (e.g. "INV-143: ... non-PO invoice ..." is a PO problem).
        category = None
        if state is InvoiceState.REJECTED:
            category = categorize(reason, RejectionCategory.OTHER)
        elif state is InvoiceState.DISPUTED:
            category = categorize(reason, RejectionCategory.DISPUTED)
        return PortalStatusUpdate(
            invoice_number=self.invoice_id,
            payload_id=self.document_payload_id,
            state=state,
            raw_status=raw,
            reason=reason,
            reason_code=_reason_code(reason),
            category=category,
            occurred_at=self.timestamp or fallback_time,
            timestamped=self.timestamp is not None,
            paid_amount=self.partial_amount if state is InvoiceState.PAID else None,
        )


_REASON_CODE = re.compile(r"^([A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)*)\s*:")


def _reason_code(reason: str | None) -> str | None:
    """The code a network's comment starts with (`INV-143: ...`, `INVOICE_DUPLICATE: ...`); a plain
    word such as `Note:` is not a code."""
    found = _REASON_CODE.match(reason or "")
    return found.group(1) if found and any(c.isdigit() or c in "-_" for c in found.group(1)) else None


def _text(node: etree._Element | None) -> str | None:
    if node is None:
        return None
    return "".join(node.itertext()).strip() or None


def parse_status_update(body: bytes) -> StatusUpdateRequest:
    """Parse a StatusUpdateRequest; MappingError (never a partial result) when it is not one."""
    root = parse_untrusted(body)
    if root.tag != "cXML":
        raise MappingError(f"expected a cXML document, got <{root.tag}>")
    request = root.find("Request/StatusUpdateRequest")
    if request is None:
        raise MappingError("the cXML document holds no Request/StatusUpdateRequest")
    timestamp = None
    if root.get("timestamp"):
        try:
            timestamp = datetime.fromisoformat(root.get("timestamp", ""))
        except ValueError:
            raise MappingError(f"timestamp {root.get('timestamp')!r} is not an ISO 8601 date-time") from None
        if timestamp.tzinfo is None:
            raise MappingError("timestamp carries no timezone")
    detail = next(
        (child for child in request if child.tag in ("InvoiceStatus", "DocumentStatus", "PaymentStatus")),
        None,
    )
    partial = None
    if detail is not None and detail.find("PartialAmount/Money") is not None:
        try:
            partial = Decimal(_text(detail.find("PartialAmount/Money")) or "")
        except InvalidOperation:
            raise MappingError("PartialAmount/Money is not a number") from None
    document_reference = request.find("DocumentReference")
    invoice_info = detail.find("InvoiceIDInfo") if detail is not None else None
    sender = root.find("Header/Sender/Credential")
    comments = [
        c for c in (_text(node) for node in (detail.findall("Comments") if detail is not None else [])) if c
    ]
    return StatusUpdateRequest(
        payload_id=root.get("payloadID", ""),
        timestamp=timestamp,
        from_identity=_text(root.find("Header/From/Credential/Identity")),
        sender_domain=sender.get("domain") if sender is not None else None,
        sender_identity=_text(root.find("Header/Sender/Credential/Identity")),
        shared_secret=_text(root.find("Header/Sender/Credential/SharedSecret")),
        document_payload_id=document_reference.get("payloadID") if document_reference is not None else None,
        status=_status(request.find("Status"), "StatusUpdateRequest"),
        kind=detail.tag if detail is not None else None,
        status_type=detail.get("type") if detail is not None else None,
        invoice_id=invoice_info.get("invoiceID") if invoice_info is not None else None,
        comments=comments,
        partial_amount=partial,
        payment_net_due_date=detail.get("paymentNetDueDate") if detail is not None else None,
    )
