"""PIDX `InvoiceResponse`: the portal's or buyer's answer to an invoice, read into canonical terms.

The form SCHEMA_PIDX_1.61_InvoiceResponse.xsd gives (the tests read documents written by hand from it):
InvoiceResponseProperties (InvoiceResponseNumber, StatusCode Accept | Pending | Reject,
InvoiceResponseReason* (ResponseReasonCode Missing Content | Disputed Content | Routing Error | Other,
ResponseReasonCodeXPath?, ResponseReasonComments?), InvoiceResponseDate, PartnerInformation{2,},
InvoiceInformation (InvoiceNumber, InvoiceDate?, ...), ..., Comment?), InvoiceResponseDetails
(InvoiceResponseLineItem+: LineItemNumber?, StatusCode?, InvoiceResponseReason?, ..., Comment?),
InvoiceResponseSummary.

Reading is lenient, because buyers and older integrations do not all follow the schema: order does
not matter; the pidXML 1.0 namespace is read too; a ResponseReasonCode written directly in the
properties or a line, and a line's LineStatusCode, are read as well. Codes and comments are kept
verbatim (whitespace normalised), since buyers write their own. The hub never writes an
InvoiceResponse; the sandbox portal writes its own (connectors/sandbox/openinvoice/response.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lxml import etree

from hub.errors import MappingError
from hub.model import InvoiceState, RejectionCategory
from mappings.pidx_elements import PIDX_NS, PIDX_NS_LEGACY
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
    reason_code: str | None  # the first reason given (see `reason_codes` for all of them)
    comments: tuple[str, ...]
    invoice_number: str | None = None
    response_number: str | None = None
    response_date: str | None = None
    lines: tuple[LineResponse, ...] = ()
    reason_codes: tuple[str, ...] = ()

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


def _reasons(parent: etree._Element) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(reason codes, their comments) of a properties or line element: InvoiceResponseReason entries
    as the schema has them, and a ResponseReasonCode written directly (older senders)."""
    codes: list[str] = []
    words: list[str] = []
    for reason in _children(parent, "InvoiceResponseReason"):
        code = _text(reason, "ResponseReasonCode")
        if code:
            codes.append(code)
        comment = _text(reason, "ResponseReasonComments")
        if comment:
            words.append(comment)
    for name in ("ResponseReasonCode", "LineResponseReasonCode"):
        direct = _text(parent, name)
        if direct:
            codes.append(direct)
    return tuple(codes), tuple(words)


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
            codes, reason_words = _reasons(item)
            line = LineResponse(
                line_number=_text(item, "LineItemNumber"),
                status=_text(item, "StatusCode") or _text(item, "LineStatusCode"),
                reason_code=codes[0] if codes else None,
                comments=reason_words + _comments(item),
            )
            if line.status or line.reason_code or line.comments:
                lines.append(line)
    codes, reason_words = _reasons(properties)
    return InvoiceResponse(
        status=status,
        reason_code=codes[0] if codes else None,
        comments=reason_words + _comments(properties),
        invoice_number=_text(information, "InvoiceNumber"),
        response_number=_text(properties, "InvoiceResponseNumber"),
        response_date=_text(properties, "InvoiceResponseDate"),
        lines=tuple(lines),
        reason_codes=codes,
    )
