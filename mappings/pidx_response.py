"""PIDX `InvoiceResponse`: the portal's or buyer's answer to an invoice, read into canonical terms.

refs/PORTALS.md: "Response: PIDX InvoiceResponse with StatusCode Accept | Pending | Reject and
ResponseReasonCode Missing Content | Disputed Content | Routing Error | Other, plus comments."
Structure (public PIDX 1.61 responses): InvoiceResponseProperties (InvoiceResponseNumber?, StatusCode,
ResponseReasonCode?, InvoiceResponseDate?, PartnerInformation*, InvoiceInformation (InvoiceNumber,
InvoiceDate?), ReferenceInformation*, Comment*), InvoiceResponseDetails (InvoiceResponseLineItem*:
LineItemNumber?, LineStatusCode?, ResponseReasonCode?, Comment*), InvoiceResponseSummary.

Reading is lenient about order and accepts the pidXML 1.0 namespace of older integrations; codes and
comments are kept verbatim, since buyers write their own. `render_invoice_response` (used by the
sandbox portal) writes the 1.61 form.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from hub.errors import MappingError
from hub.model import InvoiceState, RejectionCategory
from mappings.pidx_structure import NSMAP, PIDX_NS, PIDX_NS_LEGACY, PIDX_VERSION, TRANSACTION_PURPOSE, VERSION
from mappings.rejection_words import categorize
from mappings.xml_safety import parse_untrusted


class StatusCode(enum.StrEnum):
    ACCEPT = "Accept"
    PENDING = "Pending"
    REJECT = "Reject"


class ReasonCode(enum.StrEnum):
    MISSING_CONTENT = "Missing Content"
    DISPUTED_CONTENT = "Disputed Content"
    ROUTING_ERROR = "Routing Error"
    OTHER = "Other"


@dataclass(frozen=True)
class LineResponse:
    line_number: str | None
    status: str | None
    reason_code: str | None
    comments: tuple[str, ...]


@dataclass(frozen=True)
class InvoiceResponse:
    """One InvoiceResponse, codes and comments verbatim."""

    status: str
    reason_code: str | None
    comments: tuple[str, ...]
    invoice_number: str | None = None
    response_number: str | None = None
    response_date: str | None = None
    lines: tuple[LineResponse, ...] = ()

    @property
    def received(self) -> bool:
        """Accept or Pending: the portal has the invoice."""
        return _normal(self.status) in (_normal(StatusCode.ACCEPT), _normal(StatusCode.PENDING))

    @property
    def words(self) -> str:
        """The comments as one text, line comments prefixed with their line number."""
        parts = list(self.comments)
        for line in self.lines:
            for comment in line.comments:
                parts.append(f"line {line.line_number}: {comment}" if line.line_number else comment)
        return " ".join(parts)

    @property
    def code(self) -> str:
        """`Reject/Missing Content`, `Pending`: the status and reason as one portal code."""
        return f"{self.status}/{self.reason_code}" if self.reason_code else self.status


def _normal(value: str | None) -> str:
    return " ".join((value or "").split()).lower()


def _is(value: str | None, code: str) -> bool:
    return _normal(value) == _normal(code)


def category_for(reason_code: str | None, words: str | None) -> RejectionCategory:
    """The rejection category a ResponseReasonCode and the buyer's words point to."""
    if _is(reason_code, ReasonCode.ROUTING_ERROR):
        return RejectionCategory.CONFIG
    if _is(reason_code, ReasonCode.DISPUTED_CONTENT):
        return categorize(words, RejectionCategory.DISPUTED)
    if _is(reason_code, ReasonCode.MISSING_CONTENT):
        return categorize(words, RejectionCategory.MISSING_FIELD)
    return categorize(words, RejectionCategory.OTHER)


def state_for(status: str | None, reason_code: str | None) -> InvoiceState | None:
    """The lifecycle state a buyer's InvoiceResponse means; None for a status we do not know."""
    if _is(status, StatusCode.ACCEPT):
        return InvoiceState.APPROVED
    if _is(status, StatusCode.PENDING):
        return InvoiceState.PENDING_APPROVAL
    if _is(status, StatusCode.REJECT):
        return (
            InvoiceState.DISPUTED if _is(reason_code, ReasonCode.DISPUTED_CONTENT) else InvoiceState.REJECTED
        )
    return None


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return [
        child
        for child in parent
        if isinstance(child.tag, str)
        and etree.QName(child).localname == name
        and etree.QName(child).namespace in (PIDX_NS, PIDX_NS_LEGACY)
    ]


def _text(parent: etree._Element | None, name: str) -> str | None:
    if parent is None:
        return None
    found = _children(parent, name)
    text = " ".join("".join(found[0].itertext()).split()) if found else ""
    return text or None


def _comments(parent: etree._Element) -> tuple[str, ...]:
    texts = (" ".join("".join(c.itertext()).split()) for c in _children(parent, "Comment"))
    return tuple(text for text in texts if text)


def parse_invoice_response(data: bytes | str | etree._Element) -> InvoiceResponse:
    """Read an InvoiceResponse (bytes from outside are parsed safely); MappingError if it is none."""
    root = data if isinstance(data, etree._Element) else parse_untrusted(data)
    name = etree.QName(root)
    if name.localname != "InvoiceResponse" or name.namespace not in (PIDX_NS, PIDX_NS_LEGACY):
        raise MappingError(f"expected a PIDX InvoiceResponse, found <{root.tag}>")
    properties = next(iter(_children(root, "InvoiceResponseProperties")), None)
    if properties is None:
        raise MappingError("the InvoiceResponse has no InvoiceResponseProperties")
    status = _text(properties, "StatusCode")
    if status is None:
        raise MappingError("the InvoiceResponse has no StatusCode")
    information = next(iter(_children(properties, "InvoiceInformation")), None)
    lines = []
    for details in _children(root, "InvoiceResponseDetails"):
        for item in _children(details, "InvoiceResponseLineItem"):
            line = LineResponse(
                line_number=_text(item, "LineItemNumber"),
                status=_text(item, "LineStatusCode"),
                reason_code=_text(item, "ResponseReasonCode"),
                comments=_comments(item),
            )
            if line.status or line.reason_code or line.comments:
                lines.append(line)
    return InvoiceResponse(
        status=status,
        reason_code=_text(properties, "ResponseReasonCode"),
        comments=_comments(properties),
        invoice_number=_text(information, "InvoiceNumber"),
        response_number=_text(properties, "InvoiceResponseNumber"),
        response_date=_text(properties, "InvoiceResponseDate"),
        lines=tuple(lines),
    )


def _add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{PIDX_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def render_invoice_response(
    status: StatusCode | str,
    invoice_number: str,
    when: datetime,
    *,
    reason_code: ReasonCode | str | None = None,
    comments: Sequence[str] = (),
    response_number: str | None = None,
    lines: Sequence[LineResponse] = (),
) -> bytes:
    """A PIDX 1.61 InvoiceResponse (the sandbox portal's answer)."""
    root = etree.Element(
        f"{{{PIDX_NS}}}InvoiceResponse", {TRANSACTION_PURPOSE: "Original", VERSION: PIDX_VERSION}, nsmap=NSMAP
    )
    properties = _add(root, "InvoiceResponseProperties")
    if response_number:
        _add(properties, "InvoiceResponseNumber", response_number)
    _add(properties, "StatusCode", str(status))
    if reason_code:
        _add(properties, "ResponseReasonCode", str(reason_code))
    _add(properties, "InvoiceResponseDate", when.isoformat())
    information = _add(properties, "InvoiceInformation")
    _add(information, "InvoiceNumber", invoice_number)
    for comment in comments:
        _add(properties, "Comment", comment)
    details = _add(root, "InvoiceResponseDetails")
    for line in lines:
        item = _add(details, "InvoiceResponseLineItem")
        if line.line_number:
            _add(item, "LineItemNumber", line.line_number)
        if line.status:
            _add(item, "LineStatusCode", line.status)
        if line.reason_code:
            _add(item, "ResponseReasonCode", line.reason_code)
        for comment in line.comments:
            _add(item, "Comment", comment)
    _add(root, "InvoiceResponseSummary")
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
