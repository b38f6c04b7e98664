"""`cancel`: withdraw an invoice the portal holds, with the portal's own cancel (cXML
`operation="delete"` referring to the accepted payloadID), where the connector supports it; a clear
refusal where it does not. The cancel is committed as an attempt before it leaves, like any send, and
holds the portal's `submit:<profile>` lease, so the hub still talks to each portal one request at a
time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from connectors.base import Envelope, Receipt
from hub.corrections.common import NotApplicable, PortalBusy, cli_actor, find_invoice
from hub.errors import ConfigError, InDoubtError, PermanentPortalError, PortalAuthError, PortalError
from hub.lifecycle import move, note
from hub.model import Invoice, InvoicePurpose, InvoiceState
from hub.pipeline.attempts import (
    ACCEPTED,
    latest_attempt,
    new_payload_id,
    portal_lease,
    release_portal_lease,
    start_attempt,
    take_portal_lease,
)
from hub.runtime import Hub
from hub.secrets import REDACTOR
from hub.store.tables import AttemptRow, RevisionRow

S = InvoiceState
#: The portal holds the invoice in these states (after an accepted send): a cancel can withdraw it.
CANCELLABLE = frozenset({S.SUBMITTED, S.PENDING_APPROVAL, S.APPROVED, S.DISPUTED, S.ON_HOLD, S.REJECTED})
#: How long `cancel` waits for a daemon that is talking to the same portal.
LEASE_WAIT_SECONDS = 15.0


@dataclass
class CancelResult:
    invoice_number: str
    portal_invoice_number: str
    profile_id: str
    outcome: str  # cancelled | refused | failed | in_doubt
    state: str
    payload_id: str
    original_payload_id: str
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome == "cancelled"

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def cancel(hub: Hub, number: str, *, reason: str | None = None, actor: str | None = None) -> CancelResult:
    """Withdraw an invoice the portal holds, with the portal's own cancel. Raises NotApplicable where
    the portal takes no cancel from the hub or holds nothing to cancel; PortalBusy when another worker
    keeps talking to the portal."""
    actor = actor or cli_actor()
    with hub.store.session() as session:
        row = find_invoice(session, number)
        state = InvoiceState(row.state)
        if row.profile_id is None:
            raise NotApplicable(f"{row.invoice_number} has no portal profile: it was never sent anywhere")
        profile = hub.profile(row.profile_id)
        connector_class = hub.registry.get(profile.connector)
        if not connector_class.supports_cancel:
            raise NotApplicable(
                f"{profile.id} ({profile.connector}) takes no cancellation from the hub: withdraw "
                f"{row.invoice_number} in the portal itself, or issue a credit memo in AR"
            )
        if state is S.CANCELLED:
            raise NotApplicable(f"{row.invoice_number} is already cancelled")
        if state is S.PAID:
            raise NotApplicable(
                f"{row.invoice_number} is paid: a paid invoice is credited (credit memo from AR)"
            )
        if state not in CANCELLABLE:
            raise NotApplicable(
                f"{row.invoice_number} is {state}: the portal does not hold it (or its send is not settled yet)"
            )
        accepted = latest_attempt(session, row.id, ACCEPTED)
        if accepted is None:
            raise NotApplicable(
                f"{row.invoice_number} was never accepted by {profile.id}: it holds nothing to cancel"
            )
        revision = session.exec(
            select(RevisionRow).where(
                col(RevisionRow.invoice_id) == row.id, col(RevisionRow.revision) == accepted.revision
            )
        ).first()
        sent = Invoice.model_validate_json(revision.document if revision else row.document)
    data = sent.model_dump()
    data.update(
        purpose=InvoicePurpose.CANCEL,
        original_invoice_number=accepted.portal_invoice_number,
        original_invoice_date=sent.invoice_date,
    )
    try:
        withdrawal = Invoice.model_validate(data)
    except ValueError as exc:
        raise NotApplicable(f"cannot express the cancel of {row.invoice_number}: {exc}") from exc
    connector = hub.connector(profile)
    if not take_portal_lease(hub, profile.id, wait_seconds=LEASE_WAIT_SECONDS):
        raise PortalBusy(
            f"another worker is talking to the portal ({portal_lease(profile.id)}); try again in a minute"
        )
    try:
        now = hub.clock.now()
        envelope = Envelope(
            payload_id=new_payload_id(now),
            timestamp=now,
            invoice_number=accepted.portal_invoice_number,
            original_payload_id=accepted.payload_id,
        )
        document = connector.render(withdrawal, profile, envelope)
        with hub.store.session() as session:
            row = find_invoice(session, number)
            assert row.id is not None
            attempt_id = start_attempt(
                session,
                invoice_id=row.id,
                revision=accepted.revision,
                envelope=envelope,
                profile_id=profile.id,
                connector=connector.name,
                worker=hub.worker_id,
                outcome="cancel-pending",
                request_document=document.redacted(),
                now=now,
            )
            note(
                session,
                row,
                actor=actor,
                now=now,
                reason=f"cancel requested by {actor}"
                + (f" ({reason})" if reason else "")
                + f": sent to {profile.id} as payloadID {envelope.payload_id}, withdrawing {accepted.payload_id}",
                attempt_id=attempt_id,
            )
        started = time.monotonic()
        result: Receipt | BaseException
        try:
            result = connector.submit(document, profile)
        except (PortalError, InDoubtError, ConfigError) as exc:
            result = exc
        elapsed = int((time.monotonic() - started) * 1000)
        return _record_cancel(
            hub, number, profile.id, attempt_id, accepted.payload_id, result, elapsed, actor, reason
        )
    finally:
        release_portal_lease(hub, profile.id)


def _record_cancel(
    hub: Hub,
    number: str,
    profile_id: str,
    attempt_id: int,
    original_payload_id: str,
    result: Receipt | BaseException,
    elapsed_ms: int,
    actor: str,
    reason: str | None,
) -> CancelResult:
    now = hub.clock.now()
    with hub.store.session() as session:
        row = find_invoice(session, number)
        attempt = session.get(AttemptRow, attempt_id)
        assert attempt is not None
        attempt.finished_at = now
        attempt.duration_ms = elapsed_ms
        if isinstance(result, Receipt):
            attempt.outcome = "cancelled"
            attempt.http_status = result.http_status
            attempt.portal_code = result.portal_code
            attempt.portal_text = REDACTOR(result.portal_text) if result.portal_text else None
            words = f": {result.portal_text}" if result.portal_text else ""
            move(
                session,
                row,
                S.CANCELLED,
                actor=actor,
                now=now,
                reason=f"cancelled at {profile_id} on request of {actor}"
                + (f" ({reason})" if reason else "")
                + words,
                raw_status=result.portal_code,
                attempt_id=attempt_id,
            )
            outcome, message = "cancelled", f"{profile_id} confirmed the cancel{words}"
        else:
            if isinstance(result, PortalError):
                attempt.http_status = result.http_status
                attempt.portal_code = (result.portal_code or "")[:50] or None
                attempt.portal_text = REDACTOR(result.portal_text) if result.portal_text else None
            attempt.error = REDACTOR(f"{type(result).__name__}: {result}")
            if isinstance(result, PermanentPortalError):
                outcome, message = (
                    "refused",
                    f"{profile_id} refused the cancel: {result.portal_text or result}",
                )
            elif isinstance(result, InDoubtError):
                outcome = "in_doubt"
                message = (
                    f"no usable answer from {profile_id} ({result}); the next status poll shows whether the "
                    "portal withdrew it: do not send the cancel again before that"
                )
            elif isinstance(result, PortalAuthError | ConfigError):
                outcome, message = (
                    "failed",
                    f"{profile_id} refused access ({result}): fix the profile's credentials",
                )
            else:
                outcome, message = "failed", f"{profile_id} unavailable ({result}); try again later"
            attempt.outcome = f"cancel-{outcome}"[:20]
            note(
                session,
                row,
                actor=actor,
                now=now,
                reason=REDACTOR(f"cancel not done: {message}"),
                attempt_id=attempt_id,
            )
        session.add(attempt)
        return CancelResult(
            invoice_number=row.invoice_number,
            portal_invoice_number=attempt.portal_invoice_number,
            profile_id=profile_id,
            outcome=outcome,
            state=row.state,
            payload_id=attempt.payload_id,
            original_payload_id=original_payload_id,
            message=REDACTOR(message),
        )
