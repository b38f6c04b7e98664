"""Statuses a portal pushed that could not be applied to an invoice, kept for a person.

A StatusUpdateRequest that names no invoice of ours, names it in a way that cannot be read, or
carries an invoice status type with no canonical meaning is answered 200 (a 4xx would make the network
retry the same document forever) and kept in `unplaced_statuses`: `portalhub show` lists it under the
invoice whose number it names, the collectors' worklist lists it as its own category until someone
marks it resolved (hub/unplaced.py reads them). The document itself is not kept (it carries the shared secret); what it said is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.store.tables import UnplacedStatusRow
from mappings.cxml_response import StatusEnvelope, StatusUpdateRequest

UNKNOWN_INVOICE = "unknown-invoice"
UNKNOWN_TYPE = "unknown-type"
UNREADABLE = "unreadable"


def dedupe_key(envelope: StatusEnvelope, body: bytes) -> str:
    """One row per delivered document: the sender and the request's payloadID (a hash of the body
    when the sender gave none)."""
    sender = f"{envelope.sender_domain or '?'}:{envelope.sender_identity or '?'}"
    return f"{sender}|{envelope.payload_id or 'sha256:' + hashlib.sha256(body).hexdigest()}"


def _details(envelope: StatusEnvelope, request: StatusUpdateRequest | None) -> dict[str, Any]:
    read: dict[str, Any] = {
        "payload_id": envelope.payload_id,
        "from": envelope.from_identity,
        "sender": f"{envelope.sender_domain}:{envelope.sender_identity}",
    }
    if request is not None:
        fields = asdict(request)
        fields.pop("shared_secret", None)
        read.update(fields)
    return read


def keep(
    session: Session,
    *,
    key: str,
    envelope: StatusEnvelope,
    request: StatusUpdateRequest | None,
    problem: str,
    explanation: str,
    profile_id: str | None,
    now: datetime,
    invoice_id: int | None = None,
) -> bool:
    """Keep one unplaced status; False when this document was kept already (a network's retry)."""
    if session.exec(select(UnplacedStatusRow).where(col(UnplacedStatusRow.dedupe_key) == key)).first():
        return False
    named = None
    if request is not None:
        named = request.invoice_number or request.document_id
    row = UnplacedStatusRow(
        dedupe_key=key,
        received_at=now,
        profile_id=profile_id,
        problem=problem,
        explanation=explanation,
        invoice_number=named,
        document_payload_id=request.document_payload_id if request is not None else None,
        invoice_id=invoice_id,
        status_kind=request.kind if request is not None else None,
        status_type=request.status_type if request is not None else None,
        occurred_at=request.timestamp if request is not None else None,
        comments="\n".join(request.comments) if request is not None and request.comments else None,
        details=json.dumps(_details(envelope, request), default=str, sort_keys=True),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False  # the same document at the same moment: the other delivery kept it
    return True
