"""Recording a portal's answer to one send (step 3 of hub/pipeline/submit.py): in one transaction, what
came back goes on the attempt row, and the invoice moves to SUBMITTED, REJECTED (the portal's words),
READY with backoff (transient) or IN_DOUBT (no usable answer: reconciled before any resend). The move is
recorded against the snapshot the send claimed, with a guarded UPDATE: an invoice changed or taken
meanwhile is read again and the answer recorded as late."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlmodel import Session, col, select
from tenacity import RetryCallState, Retrying, wait_random_exponential

from connectors.base import Connector, PortalRecord, Receipt
from hub import profile_health
from hub.errors import (
    ConfigError,
    InDoubtError,
    PermanentPortalError,
    PortalAuthError,
    PortalError,
    ProfileUnavailableError,
    TransientPortalError,
)
from hub.lifecycle import move_claimed
from hub.model import InvoiceState, RejectionCategory
from hub.pipeline.attempts import UNANSWERED
from hub.pipeline.evidence import duplicate_of_our_send
from hub.runtime import Hub
from hub.secrets import REDACTOR
from hub.store import work
from hub.store.driver_sql import DriverStatement
from hub.store.tables import AttemptRow, InvoiceRow
from rules.schema import Profile

log = logging.getLogger(__name__)
S = InvoiceState
#: After the portal refuses our credentials, leave the profile's invoices alone this long.
AUTH_BACKOFF = timedelta(minutes=15)
#: The invoice's columns once its send is decided: its lease let go.
RELEASED: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}


def backoff(failures: int, retry_after: float | None, initial: float, maximum: float) -> timedelta:
    """The wait before send number `failures + 1`: tenacity's exponential backoff with full jitter,
    never sooner than the portal's Retry-After. The hub stores the result as `next_attempt_at` rather
    than sleeping in-process, so a retry schedule survives restarts and shows in `portalhub status`."""
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = max(failures, 1)
    jittered = wait_random_exponential(multiplier=initial, max=maximum)(state)
    return timedelta(seconds=max(initial, jittered, retry_after or 0))


def hold_profile(session: Session, profile: Profile, error: ProfileUnavailableError, now: datetime) -> None:
    """Hold the profile (until its files change or an operator releases it); WARNING once."""
    fingerprint = profile_health.profile_fingerprint(profile)
    if profile_health.hold(
        session, profile.id, kind=error.kind, reason=str(error), now=now, fingerprint=fingerprint
    ):
        log.warning("profile %s is on hold (%s): %s", profile.id, error.kind, error)


def withdraw_claim(
    hub: Hub, session: Session, invoice: work.Claimed, attempt_id: int, why: str, now: datetime
) -> bool:
    """Take back a claim whose request never left (the run stopped first): the attempt is `not_sent`,
    the invoice READY again, free for the next run. False when the invoice is no longer ours as
    claimed (nothing written: reconciliation settles it)."""
    if not move_claimed(
        session,
        invoice,
        S.READY,
        actor=hub.actor,
        now=now,
        guard=work.Guard.HELD,
        worker=hub.worker_id,
        reason=f"not sent: {why}",
        attempt_id=attempt_id,
        changes=RELEASED,
    ):
        return False
    _write_attempt(session, attempt_id, {"finished_at": now, "duration_ms": 0}, "not_sent")
    return True


def record_outcome(
    hub: Hub,
    profile: Profile,
    connector: Connector,
    invoice_id: int,
    attempt_id: int,
    result: Receipt | BaseException,
    elapsed_ms: int,
    held: PortalRecord | BaseException | None = None,
    *,
    invoice: work.Claimed | None = None,
) -> str:
    """Write what the portal answered onto the attempt and move the invoice, in one transaction;
    returns the outcome name. `held`: after a duplicate answer, what the portal's lookup showed under
    the number (None: nothing, or no lookup; an exception: the lookup failed). `invoice`: the invoice
    as the claim left it (read from the store when not given); the write holds only if it is still so."""
    with hub.store.session() as session:
        return record_answer(
            hub,
            session,
            profile,
            connector,
            invoice_id,
            attempt_id,
            result,
            elapsed_ms,
            held,
            invoice,
            hub.clock.now(),
        )


def record_answer(
    hub: Hub,
    session: Session,
    profile: Profile,
    connector: Connector,
    invoice_id: int,
    attempt_id: int,
    result: Receipt | BaseException,
    elapsed_ms: int,
    held: PortalRecord | BaseException | None,
    invoice: work.Claimed | None,
    now: datetime,
) -> str:
    if invoice is None:
        invoice = work.snapshot(session, invoice_id)
    while True:
        outcome = _decide(
            hub, session, profile, connector, invoice, attempt_id, result, elapsed_ms, held, now
        )
        if outcome is not None:
            return outcome
        # Changed since the claim (housekeeping presumed us dead): read it again, decide again.
        invoice = work.snapshot(session, invoice_id)


def _decide(
    hub: Hub,
    session: Session,
    profile: Profile,
    connector: Connector,
    invoice: work.Claimed,
    attempt_id: int,
    result: Receipt | BaseException,
    elapsed_ms: int,
    held: PortalRecord | BaseException | None,
    now: datetime,
) -> str | None:
    """Record the answer against `invoice`; None when the invoice is no longer as `invoice` says
    (nothing written)."""
    daemon = hub.config.daemon
    # The attempt is written with one UPDATE of the answer's columns, after the invoice's guarded write
    # held (it is only loaded as an object on the rare duplicate path, which needs it).
    answer: dict[str, Any] = {"finished_at": now, "duration_ms": elapsed_ms, **_answer(result)}
    if invoice.state != S.SUBMITTING.value or not work.holds_lease(invoice, hub.worker_id, now):
        # Housekeeping decided we were dead and moved the invoice on; the attempt keeps the answer,
        # and reconciliation (which asks the portal) settles the invoice.
        _write_attempt(session, attempt_id, answer, f"late-{_outcome_name(result)}"[:20])
        log.warning(
            "answer for %s arrived after its lease expired; left to reconciliation", invoice.invoice_number
        )
        return "late"
    outcome = _outcome_name(result)
    name = profile.id

    def moved(target: InvoiceState, reason: str, **kwargs: Any) -> bool:
        return move_claimed(
            session,
            invoice,
            target,
            actor=hub.actor,
            now=now,
            guard=work.Guard.HELD,
            worker=hub.worker_id,
            reason=reason,
            attempt_id=attempt_id,
            **kwargs,
        )

    if isinstance(result, ProfileUnavailableError):
        # Nothing reached the portal: the invoice waits in READY (no rejection, nothing for AR) and the
        # whole profile is held until its files change or an operator releases it.
        if not moved(
            S.READY,
            f"not sent: profile {name} is on hold ({result.kind}): {result}",
            changes=RELEASED,
        ):
            return None
        _write_attempt(session, attempt_id, answer, "not_sent")
        hold_profile(session, profile, result, now)
        return "held"
    if (
        isinstance(result, PermanentPortalError)
        and result.duplicate
        and _had_uncertain_attempt(session, invoice, attempt_id)
    ):
        # Rare: weighing the evidence needs the invoice and the attempt as objects.
        row = session.get(InvoiceRow, invoice.id, populate_existing=True)  # read afresh on a retry
        attempt = session.get(AttemptRow, attempt_id)
        assert row is not None and attempt is not None
        if row.event_seq != invoice.event_seq:
            return None
        work.release(row)
        for column, value in answer.items():
            setattr(attempt, column, value)
        attempt.outcome = outcome
        session.add(attempt)
        duplicate_of_our_send(
            hub, session, profile, row, attempt, result, held, connector.can_lookup(profile), now
        )
        return outcome
    if isinstance(result, Receipt):
        reason = f"accepted by {name}" + (
            f" (portal id {result.portal_invoice_id})" if result.portal_invoice_id else ""
        )
        if result.portal_text:
            reason += f": {result.portal_text}"
        changes = RELEASED | {
            "portal_invoice_id": result.portal_invoice_id or invoice.portal_invoice_id,
            "transient_failures": 0,
        }
        if not moved(S.SUBMITTED, reason, raw_status=result.portal_code, changes=changes):
            return None
    elif isinstance(result, PermanentPortalError):
        if not moved(
            S.REJECTED,
            f"rejected by {name}: {result.portal_text or result}",
            category=result.category,
            raw_status=result.portal_code,
            changes=RELEASED,
        ):
            return None
    elif isinstance(result, PortalAuthError | ConfigError):
        waits_until = now + AUTH_BACKOFF
        category = (
            RejectionCategory.CREDENTIALS if isinstance(result, PortalAuthError) else RejectionCategory.CONFIG
        )
        if not moved(
            S.READY,
            f"not sent: {name} refused access ({result}); fix the profile's credentials, "
            f"the invoice waits until {waits_until:%Y-%m-%d %H:%M} UTC",
            category=category,
            changes=RELEASED | {"next_attempt_at": waits_until},
        ):
            return None
        outcome = "auth"
        kind = "credentials" if isinstance(result, PortalAuthError) else "config"
        if profile_health.mark_failing(session, name, kind=kind, reason=str(result), now=now):
            log.warning("profile %s stopped working (%s): %s", name, kind, result)
    elif isinstance(result, TransientPortalError):
        failures = invoice.transient_failures + 1
        if failures >= daemon.max_transient_attempts:
            # Bounded: stop hammering a portal that keeps failing; the invoice waits, visibly.
            next_attempt = now + timedelta(seconds=daemon.park_seconds)
            reason = (
                f"{name} failed {failures} times in a row (last: {result}); parked until "
                f"{next_attempt:%Y-%m-%d %H:%M} UTC — `portalhub submit {invoice.invoice_number}` sends it now"
            )
            failures = 0
        else:
            delay = backoff(
                failures, result.retry_after, daemon.backoff_initial_seconds, daemon.backoff_max_seconds
            )
            next_attempt = now + delay
            reason = f"{name} unavailable ({result}); retry {failures} at {next_attempt:%H:%M:%S} UTC"
        changes = RELEASED | {"transient_failures": failures, "next_attempt_at": next_attempt}
        if not moved(S.READY, reason, changes=changes):
            return None
    else:
        changes = RELEASED | {"next_attempt_at": now + timedelta(seconds=daemon.reconcile_after_seconds)}
        if not moved(
            S.IN_DOUBT,
            f"no usable answer from {name} ({result}); will ask the portal before any resend",
            changes=changes,
        ):
            return None
    _write_attempt(session, attempt_id, answer, outcome)
    return outcome


def _outcome_name(result: Receipt | BaseException) -> str:
    if isinstance(result, ProfileUnavailableError):
        return "not_sent"
    if isinstance(result, Receipt):
        return "accepted"
    if isinstance(result, PermanentPortalError):
        return "rejected"
    if isinstance(result, PortalAuthError | ConfigError):
        return "auth"
    if isinstance(result, TransientPortalError):
        return "transient"
    return "in_doubt"


#: A portal's answer is kept up to this size; a larger one is cut (a huge answer must not bloat the store).
STORED_ANSWER_LIMIT = 64 * 1024


def _kept(body: str | None) -> str | None:
    if not body:
        return None
    body = REDACTOR(body)
    if len(body) > STORED_ANSWER_LIMIT:
        return (
            body[:STORED_ANSWER_LIMIT] + f"\n[... {len(body) - STORED_ANSWER_LIMIT} more characters not kept]"
        )
    return body


def _answer(result: Receipt | BaseException) -> dict[str, Any]:
    """The attempt's columns that say what came back."""
    if isinstance(result, Receipt):
        return {
            "http_status": result.http_status,
            "portal_code": result.portal_code,
            "portal_text": _kept(result.portal_text),
            "response_document": _kept(result.response_body),
        }
    answer: dict[str, Any] = {"error": _kept(f"{type(result).__name__}: {result}")}
    if isinstance(result, PortalError):
        answer["http_status"] = result.http_status
        answer["portal_code"] = (result.portal_code or "")[:50] or None
        answer["portal_text"] = _kept(result.portal_text)
        answer["response_document"] = _kept(result.response_body)
    elif isinstance(result, InDoubtError):
        answer["http_status"] = result.http_status
        answer["response_document"] = _kept(result.response_body)
    return answer


_ANSWER_COLUMNS = (
    "finished_at",
    "duration_ms",
    "http_status",
    "portal_code",
    "portal_text",
    "error",
    "response_document",
    "outcome",
)
_ATTEMPTS: Table = AttemptRow.__table__  # type: ignore[attr-defined]
# Built once and run through the driver on the session's connection (hub/store/driver_sql.py).
_UPDATE_ATTEMPT = DriverStatement(
    update(_ATTEMPTS)
    .where(_ATTEMPTS.c.id == bindparam("attempt_id"))
    .values({name: bindparam(f"new_{name}") for name in _ANSWER_COLUMNS})
)


def _write_attempt(session: Session, attempt_id: int, answer: dict[str, Any], outcome: str) -> None:
    """One UPDATE of the answer's columns (those the answer does not give are written as NULL, as they
    were: an attempt is answered once)."""
    values = dict.fromkeys(_ANSWER_COLUMNS) | answer | {"outcome": outcome}
    params = {f"new_{name}": value for name, value in values.items()}
    _UPDATE_ATTEMPT.execute(session.connection(), params | {"attempt_id": attempt_id})


def _had_uncertain_attempt(session: Session, row: work.Claimed, current_attempt: int) -> bool:
    """Did an earlier send of this very number go unanswered (in doubt, or its worker died)?"""
    earlier = session.exec(
        select(AttemptRow.id).where(
            col(AttemptRow.invoice_id) == row.id,
            col(AttemptRow.id) != current_attempt,
            col(AttemptRow.portal_invoice_number) == (row.portal_invoice_number or row.invoice_number),
            col(AttemptRow.outcome).in_((*UNANSWERED, "absent")),
        )
    ).first()
    return earlier is not None
