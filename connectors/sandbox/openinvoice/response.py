"""The OpenInvoice sandbox's answer to an invoice: a PIDX 1.61 `InvoiceResponse`, written by the
sandbox itself in the form SCHEMA_PIDX_1.61_InvoiceResponse.xsd gives (the tests validate every kind
it sends against that schema).

InvoiceResponseProperties: InvoiceResponseNumber, StatusCode (Accept | Pending | Reject), one
InvoiceResponseReason per refusal (ResponseReasonCode: Missing Content | Disputed Content | Routing
Error | Other, and the portal's words in ResponseReasonComments), InvoiceResponseDate (xs:date), the
partners (Seller, SoldTo when routed, and the Marketplace: at least two), InvoiceInformation, and one
Comment for a received invoice. InvoiceResponseDetails holds a line item per invoice line (at least
one); the summary is empty.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from connectors.sandbox.openinvoice.documents import PIDX_NS

#: The portal's own identifier, as the Marketplace partner of every response.
MARKETPLACE_ID = "OPENINVOICE"


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
class ResponseFacts:
    """Everything the response says."""

    status: StatusCode
    invoice_number: str
    response_number: str
    when: datetime
    seller: str
    buyer: str | None = None
    reason: ReasonCode | None = None
    comments: tuple[str, ...] = ()
    lines: Sequence[str] = ()  # the invoice's LineItemNumbers, when it could be read


def _add(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{PIDX_NS}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _partner(parent: etree._Element, role: str, identifier: str, name: str | None = None) -> None:
    partner = _add(parent, "PartnerInformation", partnerRoleIndicator=role)
    _add(partner, "PartnerIdentifier", identifier, partnerIdentifierIndicator="AssignedByMarketplace")
    if name:
        _add(partner, "PartnerName", name)


def render_response(facts: ResponseFacts) -> bytes:
    """The InvoiceResponse document, UTF-8 with an XML declaration."""
    root = etree.Element(
        f"{{{PIDX_NS}}}InvoiceResponse",
        {f"{{{PIDX_NS}}}transactionPurposeIndicator": "Original", f"{{{PIDX_NS}}}version": "1.61"},
        nsmap={"pidx": PIDX_NS},
    )
    properties = _add(root, "InvoiceResponseProperties")
    _add(properties, "InvoiceResponseNumber", facts.response_number)
    _add(properties, "StatusCode", str(facts.status))
    if facts.reason is not None:
        for words in facts.comments or (None,):
            reason = _add(properties, "InvoiceResponseReason")
            _add(reason, "ResponseReasonCode", str(facts.reason))
            if words:
                _add(reason, "ResponseReasonComments", words)
    _add(properties, "InvoiceResponseDate", facts.when.date().isoformat())
    _partner(properties, "Seller", facts.seller)
    if facts.buyer:
        _partner(properties, "SoldTo", facts.buyer)
    _partner(properties, "Marketplace", MARKETPLACE_ID, "OpenInvoice")
    information = _add(properties, "InvoiceInformation")
    _add(information, "InvoiceNumber", facts.invoice_number or "unknown")
    if facts.reason is None and facts.comments:
        _add(properties, "Comment", " ".join(facts.comments))
    details = _add(root, "InvoiceResponseDetails")
    for number in facts.lines or ("",):
        item = _add(details, "InvoiceResponseLineItem")
        if number:
            _add(item, "LineItemNumber", number)
        _add(item, "StatusCode", str(facts.status))
    _add(root, "InvoiceResponseSummary")
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
