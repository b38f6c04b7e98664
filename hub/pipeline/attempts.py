"""Attempt rows and the portal's lease: the bookkeeping every request to a portal shares (submission,
reconciliation, `cancel`).

Every request is committed as an attempt row *before* it leaves (its payloadID, the number the portal
gets, the redacted document), so a crash never leaves a request nobody knows about; the row then says
what came back. One worker at a time talks to a portal: it holds the portal's lease (`submit:<profile>`)
meanwhile, whatever the request (a send, a cancel).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Table, bindparam, insert
from sqlmodel import Session, col, select

from hub.store import work
from hub.store.driver_sql import DriverStatement
from hub.store.tables import AttemptRow

if TYPE_CHECKING:  # light to import: the invoice's history (`portalhub show`) reads attempts too
    from connectors.base import Envelope
    from hub.runtime import Hub

HOSTNAME = socket.gethostname()
#: Outcomes after which the portal holds the document (it answered, or reconciliation found it there).
ACCEPTED = ("accepted", "found")
#: Outcomes that mean "sent, answer unknown".
UNANSWERED = ("in_doubt", "abandoned")
_ATTEMPTS: Table = AttemptRow.__table__  # type: ignore[attr-defined]
_ATTEMPT_COLUMNS = tuple(c.name for c in _ATTEMPTS.columns if c.name != "id")
# One INSERT ... RETURNING id, built once: an ORM object and its flush cost more than the rest of a send.
_INSERT_ATTEMPT = DriverStatement(
    insert(_ATTEMPTS).values({name: bindparam(name) for name in _ATTEMPT_COLUMNS}).returning(_ATTEMPTS.c.id)
)


def new_payload_id(now: datetime) -> str:
    """`<timestamp>.<process>.<random>@<hostname>`, the common cXML form; unique per document."""
    return f"{int(now.timestamp() * 1000)}.{os.getpid()}.{secrets.token_hex(8)}@{HOSTNAME}"


def portal_lease(profile_id: str) -> str:
    """The lease a worker holds while it talks to the profile's portal."""
    return f"submit:{profile_id}"


def take_portal_lease(hub: Hub, profile_id: str, wait_seconds: float = 0.0) -> bool:
    """Take the portal's lease, waiting up to `wait_seconds` for another worker to let it go; False when
    it did not."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with hub.store.session() as session:
            if work.acquire_lease(
                session,
                portal_lease(profile_id),
                hub.worker_id,
                hub.clock.now(),
                hub.config.daemon.lease_seconds,
            ):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def release_portal_lease(hub: Hub, profile_id: str) -> None:
    with hub.store.session() as session:
        work.release_lease(session, portal_lease(profile_id), hub.worker_id)


def start_attempt(
    session: Session,
    *,
    invoice_id: int,
    revision: int,
    envelope: Envelope,
    profile_id: str,
    connector: str,
    worker: str,
    outcome: str,
    request_document: str,
    now: datetime,
) -> int:
    """Record a request about to leave (in the caller's transaction, committed before it leaves);
    returns the attempt's id. The one way every send, resend and cancel records its attempt: one
    INSERT ... RETURNING id (an ORM object and its flush cost more than the rest of a send)."""
    values = dict.fromkeys(_ATTEMPT_COLUMNS) | {
        "invoice_id": invoice_id,
        "revision": revision,
        "payload_id": envelope.payload_id,
        "profile_id": profile_id,
        "connector": connector,
        "portal_invoice_number": envelope.invoice_number,
        "worker_id": worker,
        "started_at": now,
        "outcome": outcome,
        "request_document": request_document,
    }
    attempt_id: int = _INSERT_ATTEMPT.execute(session.connection(), values).scalar_one()
    return attempt_id


def attempts_of(session: Session, invoice_id: int | None) -> list[AttemptRow]:
    """Every attempt of an invoice, oldest first."""
    return list(
        session.exec(
            select(AttemptRow).where(col(AttemptRow.invoice_id) == invoice_id).order_by(col(AttemptRow.id))
        ).all()
    )


def latest_attempt(
    session: Session, invoice_id: int | None, outcomes: tuple[str, ...] = ()
) -> AttemptRow | None:
    """The invoice's newest attempt (with one of `outcomes`, when given)."""
    query = select(AttemptRow).where(col(AttemptRow.invoice_id) == invoice_id)
    if outcomes:
        query = query.where(col(AttemptRow.outcome).in_(outcomes))
    return session.exec(query.order_by(col(AttemptRow.id).desc())).first()


def abandon_pending(session: Session, invoice_id: int | None, now: datetime) -> list[AttemptRow]:
    """Close the invoice's unanswered attempts of a worker presumed dead (`abandoned`: sent or not,
    nobody knows); returns them, oldest first."""
    pending = session.exec(
        select(AttemptRow)
        .where(col(AttemptRow.invoice_id) == invoice_id, col(AttemptRow.outcome) == "pending")
        .order_by(col(AttemptRow.id))
    ).all()
    for attempt in pending:
        attempt.outcome = "abandoned"
        attempt.finished_at = now
        session.add(attempt)
    return list(pending)
