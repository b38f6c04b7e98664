"""Is the invoice a portal holds under our number the document the hub sent?

A number match alone proves nothing: the portal may hold an invoice under that number that the hub
never sent (keyed in by hand, sent by an older system). Reconciliation and the duplicate-answer
recovery therefore decide on the document's identity where the portal keeps it (the payloadID of one
of our sends), or else on its content (total, currency, PO, invoice date, lines: whatever the portal
shows), and treat a number match with other content as a conflict for a person.

    SAME_DOCUMENT  the portal's copy carries the payloadID of one of our sends
    SAME_CONTENT   every content field the portal shows equals what we sent
    OTHER_DOCUMENT another payloadID, or a content field that differs: not ours
    UNVERIFIABLE   the portal shows neither identity nor content: nothing to compare
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from hub.model import Invoice, PortalContent, PortalStatusUpdate


class Verdict(enum.StrEnum):
    SAME_DOCUMENT = "same_document"
    SAME_CONTENT = "same_content"
    OTHER_DOCUMENT = "other_document"
    UNVERIFIABLE = "unverifiable"


@dataclass(frozen=True)
class Match:
    verdict: Verdict
    compared: tuple[str, ...] = ()  # the fields found equal
    differences: tuple[str, ...] = ()  # "total 125.00 at the portal, 130.00 sent"

    @property
    def ours(self) -> bool:
        return self.verdict in (Verdict.SAME_DOCUMENT, Verdict.SAME_CONTENT)

    def describe(self) -> str:
        """One sentence for the timeline and the worklist."""
        if self.verdict is Verdict.SAME_DOCUMENT:
            return "the portal's copy carries the payloadID of our send"
        if self.verdict is Verdict.SAME_CONTENT:
            return f"the portal's copy matches what was sent ({', '.join(self.compared)})"
        if self.verdict is Verdict.OTHER_DOCUMENT:
            return "the portal's copy is another document: " + "; ".join(self.differences)
        return "the portal shows neither the document's identity nor its content: nothing to compare"

    def as_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "compared": list(self.compared),
            "differences": list(self.differences),
        }


def sent_content(invoice: Invoice) -> PortalContent:
    """The content fields of the invoice as the hub sent it."""
    return PortalContent(
        total=invoice.total,
        currency=invoice.currency,
        po_number=invoice.po_number,
        invoice_date=invoice.invoice_date,
        line_count=len(invoice.lines),
        line_amounts=tuple(line.amount for line in invoice.lines),
    )


def match_record(record: PortalStatusUpdate, invoice: Invoice, payload_ids: Collection[str]) -> Match:
    """Compare what the portal holds under the number with what the hub sent under it."""
    if record.payload_id:
        if record.payload_id in payload_ids:
            return Match(Verdict.SAME_DOCUMENT, ("payloadID",))
        # payloadIDs are unique per document: another one is another document, whatever it contains.
        return Match(
            Verdict.OTHER_DOCUMENT,
            differences=(f"payloadID {record.payload_id} at the portal is none of our sends",),
        )
    return compare_content(record.content, sent_content(invoice))


def compare_content(held: PortalContent | None, sent: PortalContent) -> Match:
    """Field by field, only where the portal shows the field."""
    if held is None:
        return Match(Verdict.UNVERIFIABLE)
    compared: list[str] = []
    differences: list[str] = []

    def check(name: str, portal: object, ours: object, same: bool) -> None:
        if same:
            compared.append(name)
        else:
            differences.append(f"{name} {_shown(portal)} at the portal, {_shown(ours)} sent")

    if held.total is not None and sent.total is not None:
        check("total", held.total, sent.total, _amount(held.total) == _amount(sent.total))
    if held.currency and sent.currency:
        check("currency", held.currency, sent.currency, held.currency.upper() == sent.currency.upper())
    if held.po_number is not None:
        check("PO", held.po_number, sent.po_number, held.po_number.strip() == (sent.po_number or "").strip())
    if held.invoice_date is not None and sent.invoice_date is not None:
        check("invoice date", held.invoice_date, sent.invoice_date, held.invoice_date == sent.invoice_date)
    if held.line_count is not None and sent.line_count is not None:
        check("line count", held.line_count, sent.line_count, held.line_count == sent.line_count)
    if held.line_amounts is not None and sent.line_amounts is not None:
        check(
            "line amounts",
            ", ".join(str(a) for a in held.line_amounts),
            ", ".join(str(a) for a in sent.line_amounts),
            sorted(map(_amount, held.line_amounts)) == sorted(map(_amount, sent.line_amounts)),
        )
    if differences:
        return Match(Verdict.OTHER_DOCUMENT, tuple(compared), tuple(differences))
    if not compared:
        return Match(Verdict.UNVERIFIABLE)
    return Match(Verdict.SAME_CONTENT, tuple(compared))


def _amount(value: Decimal) -> Decimal:
    # 125 and 125.00 are the same amount; portals drop or add trailing zeros.
    return value.quantize(Decimal("0.01"))


def _shown(value: object) -> str:
    return "(none)" if value in (None, "") else str(value)
