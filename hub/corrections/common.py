"""What resubmit and cancel share: the errors a collector sees, who asked, finding the invoice."""

from __future__ import annotations

import getpass
import os

from sqlmodel import Session, col, select

from hub.errors import ConfigError, DocumentError, PortalhubError
from hub.model import RejectionCategory
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


def find_invoice(session: Session, number: str) -> InvoiceRow:
    """An invoice by its AR number, or by the number the portal got (`INV-1-R1`)."""
    row = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == number)).first()
    row = (
        row or session.exec(select(InvoiceRow).where(col(InvoiceRow.portal_invoice_number) == number)).first()
    )
    if row is None:
        raise NotApplicable(
            f"no invoice {number!r} in the store (is it posted in the AR system and ingested?)"
        )
    return row
