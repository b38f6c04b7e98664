"""Statuses a portal pushed that the hub could not apply (status_sync/unplaced.py keeps them): what
`show` lists under an invoice, what the collectors' worklist lists as "status not placed", and how a
person marks one resolved once they have acted on it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError

if TYPE_CHECKING:
    from sqlmodel import Session

    from hub.runtime import Hub
    from hub.store.tables import InvoiceRow, UnplacedStatusRow

# The ORM (sqlmodel, the tables) is imported by the functions that query: the read-only commands use
# `as_dict` and `worklist_row` on rows they read without it (hub/store_reader.py).

#: The worklist category of unplaced statuses (hub/worklist.py CATEGORY_LABELS).
CATEGORY = "unplaced_status"
LABEL = "portal status not placed"
HINT = (
    "The portal sent a status the hub could not apply: read it, act on the invoice it names (or tell AR "
    "operations which profile or number it belongs to), then run `portalhub resolve-status {id}`."
)
PROBLEMS = {
    "unknown-invoice": "names no invoice of ours",
    "unknown-type": "a status type with no known meaning",
    "unreadable": "could not be read",
}


def as_dict(row: UnplacedStatusRow) -> dict[str, Any]:
    """One unplaced status as `show --json` gives it."""
    return {
        "id": row.id,
        "received_at": row.received_at.isoformat(),
        "profile_id": row.profile_id,
        "problem": row.problem,
        "explanation": row.explanation,
        "invoice_number": row.invoice_number,
        "document_payload_id": row.document_payload_id,
        "status_kind": row.status_kind,
        "status_type": row.status_type,
        "occurred_at": row.occurred_at.isoformat() if row.occurred_at else None,
        "comments": row.comments,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
    }


def for_invoice(session: Session, invoice: InvoiceRow) -> list[UnplacedStatusRow]:
    """The unplaced statuses that name this invoice: by its row, its number, or its number at the portal."""
    from sqlmodel import col, or_, select

    from hub.store.tables import UnplacedStatusRow

    numbers = [n for n in (invoice.invoice_number, invoice.portal_invoice_number) if n]
    return list(
        session.exec(
            select(UnplacedStatusRow)
            .where(
                or_(
                    col(UnplacedStatusRow.invoice_id) == invoice.id,
                    col(UnplacedStatusRow.invoice_number).in_(numbers),
                )
            )
            .order_by(col(UnplacedStatusRow.id))
        ).all()
    )


def open_statuses(session: Session) -> list[UnplacedStatusRow]:
    """Kept portal statuses nobody has resolved yet (few: each one is a person's work)."""
    from sqlmodel import col, select

    from hub.store.tables import UnplacedStatusRow

    return list(
        session.exec(
            select(UnplacedStatusRow)
            .where(col(UnplacedStatusRow.resolved_at).is_(None))
            .order_by(col(UnplacedStatusRow.id))
        ).all()
    )


def worklist_rows(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Open unplaced statuses as worklist rows (the keys of hub/worklist.py `_row`)."""
    from sqlmodel import col, select

    from hub.store.tables import InvoiceRow

    found = open_statuses(session)
    ids = {row.invoice_id for row in found if row.invoice_id is not None}
    invoices = (
        {i.id: i for i in session.exec(select(InvoiceRow).where(col(InvoiceRow.id).in_(ids))).all()}
        if ids
        else {}
    )
    return [worklist_row(row, invoices.get(row.invoice_id), now) for row in found]


def worklist_row(row: UnplacedStatusRow, invoice: InvoiceRow | None, now: datetime) -> dict[str, Any]:
    words = row.comments or row.explanation
    return {
        "invoice_number": invoice.invoice_number if invoice else (row.invoice_number or "(none named)"),
        "portal_invoice_number": None,
        "customer_id": invoice.customer_id if invoice else f"(profile {row.profile_id or '?'})",
        "profile_id": row.profile_id,
        "state": invoice.state if invoice else "UNPLACED",
        "category": CATEGORY,
        "category_label": LABEL,
        "reason_category": CATEGORY,
        # An unknown invoice has no amount at stake the hub knows of; no currency keeps it out of totals.
        "amount": str(invoice.total) if invoice else "0",
        "currency": invoice.currency if invoice else "",
        "since": row.received_at.isoformat(),
        "days": (now - row.received_at).days,
        "reason": f"#{row.id} {PROBLEMS.get(row.problem, row.problem)}: {row.explanation}",
        "portal_code": row.status_type or row.status_kind,
        "portal_words": words,
        "hint": HINT.format(id=row.id),
        "rules": [],
        "who": "collector",
        "unplaced_id": row.id,
    }


def resolve(session: Session, ids: Sequence[int], now: datetime) -> list[int]:
    """Mark unplaced statuses resolved (a person read them and acted); ConfigError for an unknown id."""
    from hub.store.tables import UnplacedStatusRow

    done = []
    for status_id in ids:
        row = session.get(UnplacedStatusRow, status_id)
        if row is None:
            raise ConfigError(f"no unplaced status #{status_id}")
        if row.resolved_at is None:
            row.resolved_at = now
            session.add(row)
            done.append(status_id)
    return done


def resolve_in(hub: Hub, ids: Sequence[int]) -> list[int]:
    """`portalhub resolve-status`: mark these unplaced statuses resolved now; the ids newly resolved."""
    with hub.store.session() as session:
        return resolve(session, ids, hub.clock.now())
