"""Which send corrected which refused one, derived from the timeline (events and attempts), whoever
triggered the correction: a collector's `resubmit` or the daemon picking up an AR change. `show`
prints these links, and the documents (credit memos, rebills, cancels) that name the invoice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.corrections.common import NOT_CONTENT
from hub.money import amount_text
from hub.states import InvoiceState, RejectionCategory
from hub.worklist import CATEGORY_LABELS, event_words

if TYPE_CHECKING:
    # The links are derived from rows read with or without the ORM (`show` reads without it,
    # hub/store_reader.py); the queries here import it when they run.
    from sqlmodel import Session

    from hub.store.tables import AttemptRow, EventRow, InvoiceRow

S = InvoiceState


@dataclass(frozen=True)
class Refusal:
    """The portal's last refusal (rejection or dispute) of an invoice, and the send it concerned."""

    event_id: int
    at: datetime
    state: str
    category: str
    profile_id: str | None
    code: str | None
    words: str | None
    attempt_id: int | None
    payload_id: str | None
    portal_invoice_number: str | None
    revision: int | None

    @property
    def about_content(self) -> bool:
        return self.category not in NOT_CONTENT

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["category_label"] = CATEGORY_LABELS.get(self.category, self.category)
        return data


def refusals(events: Sequence[EventRow], attempts: Sequence[AttemptRow]) -> list[Refusal]:
    """Every time the portal refused the invoice, oldest first, each with the send it refused."""
    by_id = {a.id: a for a in attempts}
    found: list[Refusal] = []
    for event in events:
        if event.to_state not in (S.REJECTED.value, S.DISPUTED.value) or event.from_state == event.to_state:
            continue
        attempt = by_id.get(event.attempt_id) if event.attempt_id else None
        if attempt is None:  # a status from the portal: it concerns the newest accepted send before it
            accepted = [
                a for a in attempts if a.outcome in ("accepted", "found") and a.started_at <= event.at
            ]
            attempt = accepted[-1] if accepted else None
        code, words = event_words(event, by_id.get(event.attempt_id) if event.attempt_id else None)
        category = (
            RejectionCategory.DISPUTED.value
            if event.to_state == S.DISPUTED.value and not event.category
            else (event.category or RejectionCategory.OTHER.value)
        )
        found.append(
            Refusal(
                event_id=event.id or 0,
                at=event.at,
                state=event.to_state,
                category=category,
                profile_id=attempt.profile_id if attempt else None,
                code=code,
                words=words,
                attempt_id=attempt.id if attempt else None,
                payload_id=attempt.payload_id if attempt else None,
                portal_invoice_number=attempt.portal_invoice_number if attempt else None,
                revision=attempt.revision if attempt else None,
            )
        )
    return found


def correction_links(events: Sequence[EventRow], attempts: Sequence[AttemptRow]) -> list[dict[str, Any]]:
    """Each send that followed a refusal, linked to the refused send: what `show` prints as corrections."""
    refused = {r.event_id: r for r in refusals(events, attempts)}
    by_id = {a.id: a for a in attempts}
    links: list[dict[str, Any]] = []
    open_refusal: Refusal | None = None
    for event in events:
        if event.id in refused:
            open_refusal = refused[event.id]
        elif event.to_state == S.SUBMITTING.value and event.attempt_id and open_refusal is not None:
            attempt = by_id.get(event.attempt_id)
            if attempt is None:
                continue
            links.append(
                {
                    "attempt_id": attempt.id,
                    "payload_id": attempt.payload_id,
                    "revision": attempt.revision,
                    "portal_invoice_number": attempt.portal_invoice_number,
                    "outcome": attempt.outcome,
                    "corrects": open_refusal.as_json(),
                }
            )
            open_refusal = None
    return links


def history(session: Session, row: InvoiceRow) -> tuple[list[EventRow], list[AttemptRow]]:
    from sqlmodel import col, select

    from hub.pipeline.attempts import attempts_of
    from hub.store.tables import EventRow

    events = session.exec(
        select(EventRow).where(col(EventRow.invoice_id) == row.id).order_by(col(EventRow.id))
    ).all()
    return list(events), attempts_of(session, row.id)


def related_documents(session: Session, row: InvoiceRow) -> list[dict[str, Any]]:
    """Credit memos, rebills and cancels in the store that name this invoice as their original."""
    from sqlmodel import col, select

    from hub.store.tables import InvoiceRow

    return [
        related_document(other)
        for other in session.exec(
            select(InvoiceRow).where(
                col(InvoiceRow.original_invoice_number).in_(original_numbers(row)),
                col(InvoiceRow.id) != row.id,
            )
        )
    ]


def original_numbers(row: InvoiceRow) -> list[str]:
    """The numbers a credit memo, rebill or cancel of this invoice names it by."""
    return sorted({row.invoice_number, row.portal_invoice_number or row.invoice_number})


def related_document(other: InvoiceRow) -> dict[str, Any]:
    """A document naming the invoice as its original, as `show` lists it."""
    return {
        "invoice_number": other.invoice_number,
        "purpose": other.purpose,
        "state": other.state,
        "total": amount_text(other.total, other.currency),
        "currency": other.currency,
    }
