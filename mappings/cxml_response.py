"""cXML documents that come back: the synchronous `Response`, and `StatusUpdateRequest` from a buyer.

Read the `<Status code=...>` inside the document, never the HTTP status: an HTTP 200 can carry a
cXML 401. Status types we do not know are kept verbatim (state None), never dropped.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from lxml import etree

from hub.errors import MappingError
from hub.model import InvoiceState, PortalStatusUpdate, RejectionCategory
from mappings.cxml_time import parse_cxml_datetime
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


#: InvoiceStatus / DocumentStatus: the statuses about an invoice; the others (PaymentStatus, ...) are
#: about something else and are only noted.
INVOICE_KINDS = ("InvoiceStatus", "DocumentStatus")
_STATUS_KINDS = ("InvoiceStatus", "DocumentStatus", "PaymentStatus", "SourcingStatus", "IntegrationStatus")


@dataclass(frozen=True)
class StatusEnvelope:
    """Who sent a StatusUpdateRequest: readable even when the status inside is not."""

    payload_id: str
    from_identity: str | None
    sender_domain: str | None
    sender_identity: str | None
    shared_secret: str | None = field(repr=False)


@dataclass(frozen=True)
class StatusUpdateRequest:
    """A parsed StatusUpdateRequest: who sent it, which invoice it names, and what it says.

    The invoice is named in one of three ways the DTD allows: `DocumentReference@payloadID` (our
    document's payloadID), `InvoiceStatus/InvoiceIDInfo@invoiceID` (+ invoiceDate), or
    `DocumentStatus/DocumentInfo@documentID` with a `documentType` that names an invoice."""

    payload_id: str
    timestamp: datetime | None  # aware; read in `zone` when the document wrote no zone
    from_identity: str | None
    sender_domain: str | None
    sender_identity: str | None
    shared_secret: str | None = field(repr=False)
    document_payload_id: str | None
    status: CxmlStatus
    kind: str | None  # InvoiceStatus / DocumentStatus / PaymentStatus / ...
    status_type: str | None  # e.g. processing, paid, or a type we do not know
    invoice_id: str | None  # InvoiceIDInfo@invoiceID
    comments: list[str]
    partial_amount: Decimal | None
    payment_net_due_date: str | None
    invoice_date: datetime | None = None  # InvoiceIDInfo@invoiceDate
    document_id: str | None = None  # DocumentInfo@documentID
    document_type: str | None = None  # DocumentInfo@documentType
    timestamp_text: str | None = None  # as written, to re-read it in a profile's zone
    zone_given: bool = True  # False: the timestamp named no zone and was read in UTC

    @property
    def envelope(self) -> StatusEnvelope:
        """Who sent it."""
        return StatusEnvelope(
            self.payload_id, self.from_identity, self.sender_domain, self.sender_identity, self.shared_secret
        )

    @property
    def names_invoice(self) -> bool:
        """DocumentInfo names an invoice (InvoiceDetailRequest, Invoice, ...), not an order or a receipt."""
        return bool(self.document_type) and "invoice" in (self.document_type or "").lower()

    @property
    def invoice_number(self) -> str | None:
        """The supplier's invoice number the status names: InvoiceIDInfo, else an invoice DocumentInfo."""
        if self.invoice_id:
            return self.invoice_id
        return self.document_id if self.names_invoice else None

    @property
    def identification_problem(self) -> str | None:
        """Why the invoice cannot be told from the document; None when it can."""
        if self.document_payload_id or self.invoice_number:
            return None
        if self.document_id:
            return (
                f"DocumentInfo names document {self.document_id!r} of type {self.document_type!r}, "
                "not an invoice"
            )
        return "neither DocumentReference, InvoiceIDInfo nor DocumentInfo names the invoice"

    def in_zone(self, zone: tzinfo) -> StatusUpdateRequest:
        """The same request with a zone-less timestamp read in `zone` (a profile's time zone)."""
        if self.zone_given or not self.timestamp_text:
            return self
        local = parse_cxml_datetime(self.timestamp_text, zone).value
        return replace(self, timestamp=local)

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
            invoice_number=self.invoice_number,
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

    def type_is_known(self) -> bool:
        """False for an invoice status (InvoiceStatus, DocumentStatus) whose type has no canonical
        meaning in the tables above; other kinds (PaymentStatus, ...) are not about the invoice's state."""
        if self.kind not in INVOICE_KINDS:
            return True
        table = DOCUMENT_STATUS_STATES if self.kind == "DocumentStatus" else INVOICE_STATUS_STATES
        return bool(self.status_type) and (self.status_type or "").lower() in table


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


def verbatim(node: etree._Element) -> str:
    """A Comments text as the buyer wrote it: its own words and line breaks, without the indentation
    and blank lines a pretty-printer put around them (embedded Attachment elements are not words)."""
    raw = (node.text or "") + "".join(child.tail or "" for child in node)
    lines = raw.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) == 1:
        return lines[0].strip()
    return textwrap.dedent("\n".join(line.rstrip() for line in lines))


def _envelope(body: bytes) -> tuple[etree._Element, etree._Element, StatusEnvelope]:
    root = parse_untrusted(body)
    if root.tag != "cXML":
        raise MappingError(f"expected a cXML document, got <{root.tag}>")
    request = root.find("Request/StatusUpdateRequest")
    if request is None:
        raise MappingError("the cXML document holds no Request/StatusUpdateRequest")
    sender = root.find("Header/Sender/Credential")
    envelope = StatusEnvelope(
        payload_id=root.get("payloadID", ""),
        from_identity=_text(root.find("Header/From/Credential/Identity")),
        sender_domain=sender.get("domain") if sender is not None else None,
        sender_identity=_text(root.find("Header/Sender/Credential/Identity")),
        shared_secret=_text(root.find("Header/Sender/Credential/SharedSecret")),
    )
    return root, request, envelope


def read_status_update(body: bytes) -> tuple[StatusEnvelope, StatusUpdateRequest | None, str | None]:
    """(sender, request, problem): MappingError only when the body is not a cXML StatusUpdateRequest
    at all (not XML, hostile XML, another document). A StatusUpdateRequest whose status cannot be
    read (no Status, an unreadable timestamp or amount) comes back as (sender, None, what is wrong),
    so its sender can still be authenticated and the document kept for a person."""
    root, request, envelope = _envelope(body)
    try:
        return envelope, _status_update(root, request, envelope), None
    except MappingError as exc:
        return envelope, None, str(exc)


def parse_status_update(body: bytes, zone: tzinfo = UTC) -> StatusUpdateRequest:
    """Parse a StatusUpdateRequest; MappingError (never a partial result) when it is not one.
    A timestamp without a zone is read in `zone`."""
    root, request, envelope = _envelope(body)
    return _status_update(root, request, envelope).in_zone(zone)


def _status_update(
    root: etree._Element, request: etree._Element, envelope: StatusEnvelope
) -> StatusUpdateRequest:
    written = root.get("timestamp")
    timestamp = None
    zone_given = True
    if written:
        read = parse_cxml_datetime(written, UTC, what="cXML timestamp")
        timestamp, zone_given = read.value, read.zone_given
    detail = next((child for child in request if child.tag in _STATUS_KINDS), None)
    partial = None
    if detail is not None and detail.find("PartialAmount/Money") is not None:
        try:
            partial = Decimal(_text(detail.find("PartialAmount/Money")) or "")
        except InvalidOperation:
            raise MappingError("PartialAmount/Money is not a number") from None
    document_reference = request.find("DocumentReference")
    invoice_info = detail.find("InvoiceIDInfo") if detail is not None else None
    document_info = detail.find("DocumentInfo") if detail is not None else None
    invoice_date = None
    if invoice_info is not None and invoice_info.get("invoiceDate"):
        invoice_date = parse_cxml_datetime(
            invoice_info.get("invoiceDate", ""), UTC, what="InvoiceIDInfo invoiceDate"
        ).value
    comments: list[str] = []
    if detail is not None:
        for item in detail.findall("ItemStatus"):
            line = item.find("ReferenceDocumentInfo")
            where = (
                f"line {line.get('lineNumber')}" if line is not None and line.get("lineNumber") else "item"
            )
            comments += [
                f"{where} {item.get('type', '')}: {verbatim(c)}".strip() for c in item.findall("Comments")
            ]
        comments = [verbatim(c) for c in detail.findall("Comments")] + comments
    return StatusUpdateRequest(
        payload_id=envelope.payload_id,
        timestamp=timestamp,
        from_identity=envelope.from_identity,
        sender_domain=envelope.sender_domain,
        sender_identity=envelope.sender_identity,
        shared_secret=envelope.shared_secret,
        document_payload_id=(document_reference.get("payloadID") or None)
        if document_reference is not None
        else None,
        status=_status(request.find("Status"), "StatusUpdateRequest"),
        kind=detail.tag if detail is not None else None,
        status_type=(detail.get("type") or detail.get("documentStatus")) if detail is not None else None,
        invoice_id=(invoice_info.get("invoiceID") or "").strip() or None
        if invoice_info is not None
        else None,
        comments=[c for c in comments if c],
        partial_amount=partial,
        payment_net_due_date=detail.get("paymentNetDueDate") if detail is not None else None,
        invoice_date=invoice_date,
        document_id=(document_info.get("documentID") or "").strip() or None
        if document_info is not None
        else None,
        document_type=document_info.get("documentType") if document_info is not None else None,
        timestamp_text=written,
        zone_given=zone_given,
    )
