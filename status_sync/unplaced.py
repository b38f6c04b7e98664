"""Statuses a portal pushed that could not be applied to an invoice, kept for a person.

A pushed status that names no invoice of ours, names it in a way that cannot be read, or carries a
status type with no canonical meaning is answered 200 (a 4xx would make the portal retry the same
document forever) and kept in `unplaced_statuses`: `portalhub show` lists it under the invoice whose
number it names, the collectors' worklist lists it as its own category until someone marks it resolved
(hub/unplaced.py reads them). The document itself is not kept (it may carry the shared secret); what
the portal family read of it is (connectors.base.Push and PushedStatus).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connectors.base import Push, PushedStatus
from hub.store.tables import UnplacedStatusRow

UNKNOWN_INVOICE = "unknown-invoice"
UNKNOWN_TYPE = "unknown-type"
UNREADABLE = "unreadable"


def keep(
    session: Session,
    *,
    push: Push,
    status: PushedStatus,
    problem: str,
    explanation: str,
    profile_id: str | None,
    now: datetime,
    invoice_id: int | None = None,
) -> bool:
    """Keep one unplaced status; False when this document was kept already (a portal's retry)."""
    key = push.dedupe_key
    if session.exec(select(UnplacedStatusRow).where(col(UnplacedStatusRow.dedupe_key) == key)).first():
        return False
    row = UnplacedStatusRow(
        dedupe_key=key,
        received_at=now,
        profile_id=profile_id,
        problem=problem,
        explanation=explanation,
        invoice_number=status.named,
        document_payload_id=status.document_payload_id,
        invoice_id=invoice_id,
        status_kind=status.kind,
        status_type=status.status_type,
        occurred_at=status.occurred_at,
        comments="\n".join(status.comments) if status.comments else None,
        details=json.dumps({**push.details, **status.details}, default=str, sort_keys=True),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False  # the same document at the same moment: the other delivery kept it
    return True
