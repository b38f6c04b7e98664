"""What resubmit and cancel share: the errors a collector sees, who asked, finding the invoice."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError, DocumentError, PortalhubError
from hub.states import RejectionCategory

if TYPE_CHECKING:
    # The ORM is imported where the lookup runs: `show` reads without it (hub/store_reader.py) and
    # raises these errors too.
    from sqlmodel import Session

    from hub.store.tables import InvoiceRow

#: Refusals that say nothing about the invoice's content: sending it unchanged again is right.
NOT_CONTENT = frozenset({RejectionCategory.CREDENTIALS.value, RejectionCategory.CONFIG.value})


class NotApplicable(ConfigError):
    """The request does not apply to this invoice (its state, or what its portal supports)."""


class ResubmitRefused(DocumentError):
    """The invoice must be fixed in the AR system first (unchanged since the portal refused it, or the
    AR record is no longer a valid invoice)."""


class PortalBusy(PortalhubError):
    """Another worker is talking to the portal; try again in a moment."""


def cli_actor() -> str:
    """Who asked, for the timeline: `cli:<user>` (the OS account running the command)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry (some containers)
        user = os.environ.get("USER") or "unknown"
    return f"cli:{user}"


class InvoiceNotFound(NotApplicable):
    """No invoice in the store answers to the number asked for."""


class Quarantined(InvoiceNotFound):
    """The number is an AR record the hub quarantined: not a valid invoice, so not in the store."""


def find_invoice(session: Session, number: str) -> InvoiceRow:
    """The one invoice lookup every command uses: by any number the buyer sees, case-insensitively:
    its AR number, the number the portal got (`INV-1-R1`), or the number of any earlier send.

    Exact matches are tried first (indexed); the case-insensitive search only runs when they miss.
    A number the AR system posted but the hub quarantined raises `Quarantined` with the reason; a
    number nobody knows raises `InvoiceNotFound`."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from hub.store.tables import InvoiceRow, QuarantineRow

    wanted = number.strip()
    row = _first(session, col(InvoiceRow.invoice_number) == wanted) or _first(
        session, col(InvoiceRow.portal_invoice_number) == wanted
    )
    if row is None:
        folded = wanted.upper()
        row = (
            _first(session, func.upper(col(InvoiceRow.invoice_number)) == folded)
            or _first(session, func.upper(col(InvoiceRow.portal_invoice_number)) == folded)
            or _sent_as(session, folded)
        )
    if row is not None:
        return row
    held = session.exec(
        select(QuarantineRow)
        .where(
            (func.upper(col(QuarantineRow.invoice_number)) == wanted.upper())
            | (col(QuarantineRow.ar_key) == wanted)
        )
        .order_by(col(QuarantineRow.resolved_at).is_not(None), col(QuarantineRow.last_seen).desc())
    ).first()
    raise not_found(number, held)


def not_found(number: str, held: Any) -> InvoiceNotFound:
    """The error for a number no invoice answers to: `Quarantined` with the reason when `held` (the
    newest quarantine record of that number) is still open, else `InvoiceNotFound`."""
    wanted = number.strip()
    if held is not None and held.resolved_at is None:
        return Quarantined(
            f"{wanted} is quarantined: its AR record {held.ar_key} ({held.source}) is not a valid invoice: "
            f"{held.reason} (first seen {held.first_seen:%Y-%m-%d %H:%M} UTC). Fix the record in the AR "
            "system; the hub takes it in at its next ingest (`portalhub quarantine` lists them all)"
        )
    return InvoiceNotFound(
        f"no invoice {number!r} in the store, by AR number or any number sent to a portal, and no "
        "quarantined AR record of that number (is it posted in the AR system and ingested?)"
    )


def _first(session: Session, condition: object) -> InvoiceRow | None:
    from sqlmodel import col, select

    from hub.store.tables import InvoiceRow

    return session.exec(select(InvoiceRow).where(condition).order_by(col(InvoiceRow.id))).first()  # type: ignore[arg-type]


def _sent_as(session: Session, folded: str) -> InvoiceRow | None:
    """An invoice by the number of an earlier send (a correction renumbered again since)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from hub.store.tables import AttemptRow, InvoiceRow

    invoice_id = session.exec(
        select(AttemptRow.invoice_id).where(func.upper(col(AttemptRow.portal_invoice_number)) == folded)
    ).first()
    return session.get(InvoiceRow, invoice_id) if invoice_id is not None else None
