"""Submission: one invoice, one request, one answer, never twice.

For each profile, while its per-minute limit allows and nobody asked us to stop:
1. read the oldest due READY invoice, render its document with a fresh payloadID (outside any
   transaction), then in one transaction claim it (a lease, taken only if nobody changed it since the
   read), record the attempt row (payloadID, redacted request: `attempts.start_attempt`) and the move to
   SUBMITTING, committed *before* sending;
2. send it through the connector;
3. in one transaction, record what came back on the attempt (`_write_attempt`) and move the invoice:
   SUBMITTED, REJECTED (the portal's words), READY with backoff (transient), or IN_DOUBT (no usable
   answer: reconciled with the portal before any resend); the next due invoice is read there too.

A worker that dies between 1 and 3 leaves a SUBMITTING invoice with a lease that expires;
housekeeping turns it IN_DOUBT (hub/pipeline/reconcile.py). Nothing is ever resent blind.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, update
from sqlmodel import Session, col, select
from tenacity import RetryCallState, Retrying, wait_random_exponential

from connectors.base import Connector, Envelope, OutboundDocument, PortalRecord, Receipt
from hub import profile_health
from hub.errors import (
    ConfigError,
    DocumentError,
    InDoubtError,
    PermanentPortalError,
    PortalAuthError,
    PortalError,
    ProfileUnavailableError,
    TransientPortalError,
)
from hub.lifecycle import move_claimed
from hub.model import Invoice, InvoiceState, RejectionCategory
from hub.pipeline.attempts import ACCEPTED, UNANSWERED, new_payload_id, portal_lease, start_attempt
from hub.pipeline.evidence import duplicate_of_our_send, held_under
from hub.pipeline.reconcile import reconcile_profile
from hub.runtime import Hub
from hub.secrets import REDACTOR
from hub.store import work
from hub.store.tables import AttemptRow, InvoiceRow
from rules.schema import Profile

log = logging.getLogger(__name__)
S = InvoiceState
#: After the portal refuses our credentials, leave the profile's invoices alone this long.
AUTH_BACKOFF = timedelta(minutes=15)


def backoff(failures: int, retry_after: float | None, initial: float, maximum: float) -> timedelta:
    """The wait before send number `failures + 1`: tenacity's exponential backoff with full jitter,
    never sooner than the portal's Retry-After. The hub stores the result as `next_attempt_at` rather
    than sleeping in-process, so a retry schedule survives restarts and shows in `portalhub status`."""
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = max(failures, 1)
    jittered = wait_random_exponential(multiplier=initial, max=maximum)(state)
    return timedelta(seconds=max(initial, jittered, retry_after or 0))


@dataclass
class SubmitReport:
    #: Requests that reached the portal (an invoice stopped before it, by a held profile, is not one).
    sent: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    stopped_because: str | None = None
    #: The profile stopped working in this run (failing or held), with the reason.
    health: profile_health.Health | None = None

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def submit_profile(
    hub: Hub,
    profile: Profile,
    stop: threading.Event | None = None,
    limit: int | None = None,
    invoice_id: int | None = None,
) -> SubmitReport:
    """Send the profile's due invoices one at a time. Holds the `submit:<profile>` lease meanwhile, so
    several daemons never talk to one portal at once."""
    report = SubmitReport()
    stop = stop or threading.Event()
    lease = portal_lease(profile.id)
    lease_seconds = hub.config.daemon.lease_seconds
    with hub.store.session() as session:
        # One cheap query first: an idle profile costs no lease traffic (the tick is every few seconds).
        if invoice_id is None and not work.anything_due(
            session, profile.id, (S.READY, S.IN_DOUBT), hub.clock.now()
        ):
            return report
        if not work.acquire_lease(session, lease, hub.worker_id, hub.clock.now(), lease_seconds):
            report.stopped_because = "another worker is submitting to this portal"
            return report
    # Sends still allowed this minute, and when the lease was last renewed. Nobody else sends to this
    # portal while we hold its lease, so both are checked against the store only when the budget runs
    # out or a third of the lease has passed, not once per invoice (a transaction saved per invoice).
    budget = 0
    renewed = hub.clock.now()
    ahead: work.Claimed | None = None  # the next due invoice, read with the last answer
    answered = False
    try:
        connector = hub.connector(profile)
        reconcile_profile(hub, profile, connector)
        while not stop.is_set() and (limit is None or report.sent < limit):
            now = hub.clock.now()
            if budget <= 0 or (now - renewed).total_seconds() >= lease_seconds / 3:
                with hub.store.session() as session:
                    sent = work.attempts_since(session, profile.id, now - timedelta(minutes=1))
                    budget = profile.limits.per_minute - sent
                    if budget <= 0:
                        report.stopped_because = f"per-minute limit of {profile.limits.per_minute} reached"
                        break
                    if not work.acquire_lease(session, lease, hub.worker_id, now, lease_seconds):
                        report.stopped_because = "the portal's lease passed to another worker"
                        break
                    renewed = now
            prepared = _prepare(hub, profile, connector, invoice_id, ahead)
            if prepared is None:
                break
            budget -= 1
            outcome, ahead = _send(hub, profile, connector, *prepared, read_next=invoice_id is None)
            report.count(outcome)
            if outcome == "held":  # nothing reached the portal; the profile waits for a person
                report.health = _health(hub, profile)
                report.stopped_because = f"profile {profile.id} is held: {report.health.reason}"
                break
            report.sent += 1
            if outcome in ("transient", "in_doubt", "auth"):
                report.stopped_because = f"portal answered {outcome}; trying again later"
                break
            if outcome in ("accepted", "rejected") and not answered:
                answered = True  # the portal works: once per run is enough to say so
                _recovered(hub, profile)
    except ConfigError as exc:
        # A secret that does not resolve, a profile the connector refuses: no invoice can go until it is
        # fixed. Marked once with backoff (hub/profile_health.py), instead of a traceback every tick.
        with hub.store.session() as session:
            if profile_health.mark_failing(
                session, profile.id, kind="config", reason=str(exc), now=hub.clock.now()
            ):
                log.warning("profile %s stopped working (configuration): %s", profile.id, exc)
        report.health = _health(hub, profile)
        report.stopped_because = f"profile {profile.id} cannot work: {exc}"
    except ProfileUnavailableError as exc:
        # Raised before an attempt was recorded (rendering, reconciling): the invoice in hand was
        # never claimed for good (its transaction rolled back), the profile is held.
        with hub.store.session() as session:
            _hold(session, profile, exc, hub.clock.now())
        report.health = _health(hub, profile)
        report.stopped_because = f"profile {profile.id} is held: {exc}"
    finally:
        with hub.store.session() as session:
            work.release_lease(session, lease, hub.worker_id)
    return report


def _health(hub: Hub, profile: Profile) -> profile_health.Health:
    with hub.store.session() as session:
        return profile_health.health_of(session, profile.id)


def _hold(session: Session, profile: Profile, error: ProfileUnavailableError, now: datetime) -> None:
    """Hold the profile (until its files change or an operator releases it); WARNING once."""
    fingerprint = profile_health.profile_fingerprint(profile)
    if profile_health.hold(
        session, profile.id, kind=error.kind, reason=str(error), now=now, fingerprint=fingerprint
    ):
        log.warning("profile %s is on hold (%s): %s", profile.id, error.kind, error)


def _recovered(hub: Hub, profile: Profile) -> None:
    with hub.store.session() as session:
        if profile_health.mark_ok(session, profile.id, hub.clock.now()):
            log.info("profile %s works again (the portal answered)", profile.id)


class Prepared(NamedTuple):
    """An invoice claimed for one send, its attempt committed: what the request and its answer need."""

    invoice_id: int
    attempt_id: int
    document: OutboundDocument
    #: The invoice as the claim left it (SUBMITTING, our lease): the answer is recorded against it.
    invoice: work.Claimed


def _prepare(
    hub: Hub,
    profile: Profile,
    connector: Connector,
    invoice_id: int | None = None,
    ahead: work.Claimed | None = None,
) -> Prepared | None:
    """Claim one invoice and commit its attempt, or None when none is due.

    The invoice is read (or was, as `ahead`, in the transaction that recorded the previous answer),
    then rendered outside any transaction (the store is not held while the document is built), then
    claimed, its attempt recorded and its move to SUBMITTING written in one transaction, committed
    before the request leaves. If anything changed the invoice between the read and the claim, the
    claim writes nothing and the next due invoice is read again."""
    lease_seconds = hub.config.daemon.lease_seconds
    while True:
        now = hub.clock.now()
        invoice, ahead = ahead, None
        if invoice is None:
            with hub.store.session() as session:
                invoice = work.next_due(session, profile.id, S.READY, now, invoice_id)
            if invoice is None:
                return None
        assert invoice.document is not None
        canonical = Invoice.model_validate_json(invoice.document)
        original = None
        if canonical.original_invoice_number:
            with hub.store.session() as session:
                original = _original_payload_id(session, canonical)
        envelope = Envelope(
            payload_id=new_payload_id(now),
            timestamp=now,
            invoice_number=invoice.portal_invoice_number or canonical.invoice_number,
            original_payload_id=original,
        )
        try:
            document = connector.render(canonical, profile, envelope)
        except DocumentError as exc:  # pre-flight passed but sending cannot: block it, take the next
            with hub.store.session() as session:
                move_claimed(
                    session,
                    invoice,
                    S.BLOCKED,
                    actor=hub.actor,
                    now=now,
                    guard=work.Guard.FREE,
                    reason=f"cannot be sent: {exc}",
                    category=RejectionCategory.DOCUMENT,
                )
            continue
        with hub.store.session() as session:
            attempt_id = start_attempt(
                session,
                invoice_id=invoice.id,
                revision=invoice.revision,
                envelope=envelope,
                profile_id=profile.id,
                connector=connector.name,
                worker=hub.worker_id,
                outcome="pending",
                request_document=_stored(document),
                now=now,
            )
            claimed = move_claimed(
                session,
                invoice,
                S.SUBMITTING,
                actor=hub.actor,
                now=now,
                guard=work.Guard.FREE,
                reason=f"sending to {profile.id} as payloadID {envelope.payload_id}",
                attempt_id=attempt_id,
                changes={
                    "lease_owner": hub.worker_id,
                    "lease_expires_at": now + timedelta(seconds=lease_seconds),
                },
            )
            if not claimed:  # taken or changed since it was read: its attempt goes with this rollback
                session.rollback()
                continue
        return Prepared(invoice.id, attempt_id, document, invoice)


def _stored(document: OutboundDocument) -> str:
    """The request as kept in the attempt row: secrets masked, attachments summarised, not inlined."""
    text = document.redacted()
    if document.content_type.startswith("multipart/"):
        head, _, _ = text.partition("\r\n--portalhub-")
        return head + "\r\n[attachments omitted from the stored copy]"
    return text


def _original_payload_id(session: Session, invoice: Invoice) -> str | None:
    """The payloadID under which the invoice being cancelled or credited was accepted."""
    return session.exec(
        select(AttemptRow.payload_id)
        .join(InvoiceRow, col(InvoiceRow.id) == col(AttemptRow.invoice_id))
        .where(
            col(InvoiceRow.invoice_number) == invoice.original_invoice_number,
            col(AttemptRow.outcome).in_(ACCEPTED),
        )
        .order_by(col(AttemptRow.id).desc())
    ).first()


def _send(
    hub: Hub,
    profile: Profile,
    connector: Connector,
    invoice_id: int,
    attempt_id: int,
    document: OutboundDocument,
    invoice: work.Claimed,
    *,
    read_next: bool = False,
) -> tuple[str, work.Claimed | None]:
    """Send, record the answer; returns the outcome and, with `read_next` after an accepted or rejected
    send, the next due invoice read in the same transaction (one transaction fewer per invoice)."""
    started = time.monotonic()
    result: Receipt | BaseException
    try:
        result = connector.submit(document, profile)
    except (ProfileUnavailableError, PortalError, InDoubtError, ConfigError) as exc:
        result = exc
    except Exception as exc:  # a bug must not leave the invoice SUBMITTING forever, nor resend it blind
        log.exception("unexpected error while sending invoice %s", invoice_id)
        result = InDoubtError(
            f"internal error while sending ({type(exc).__name__}: {exc}); the portal may have it"
        )
    elapsed_ms = int((time.monotonic() - started) * 1000)
    held: PortalRecord | BaseException | None = None
    if isinstance(result, PermanentPortalError) and result.duplicate and connector.can_lookup(profile):
        # "Number already used" proves our earlier send arrived only if what the portal holds is what we
        # sent: ask it now (outside any transaction), record_outcome compares.
        held = held_under(profile, connector, document.invoice_number)
    now = hub.clock.now()
    with hub.store.session() as session:
        outcome = _record(
            hub, session, profile, connector, invoice_id, attempt_id, result, elapsed_ms, held, invoice, now
        )
        ahead = None
        if read_next and outcome in ("accepted", "rejected"):
            ahead = work.next_due(session, profile.id, S.READY, now)
    return outcome, ahead


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
        return _record(
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


def _record(
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
    released: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}

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
            changes=released,
        ):
            return None
        _write_attempt(session, attempt_id, answer, "not_sent")
        _hold(session, profile, result, now)
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
        changes = released | {
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
            changes=released,
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
            changes=released | {"next_attempt_at": waits_until},
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
        changes = released | {"transient_failures": failures, "next_attempt_at": next_attempt}
        if not moved(S.READY, reason, changes=changes):
            return None
    else:
        changes = released | {"next_attempt_at": now + timedelta(seconds=daemon.reconcile_after_seconds)}
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
# Built once and executed with parameters on the session's connection: compiled once per process.
_UPDATE_ATTEMPT = (
    update(_ATTEMPTS)
    .where(_ATTEMPTS.c.id == bindparam("attempt_id"))
    .values({name: bindparam(f"new_{name}") for name in _ANSWER_COLUMNS})
)


def _write_attempt(session: Session, attempt_id: int, answer: dict[str, Any], outcome: str) -> None:
    """One UPDATE of the answer's columns (those the answer does not give are written as NULL, as they
    were: an attempt is answered once)."""
    values = dict.fromkeys(_ANSWER_COLUMNS) | answer | {"outcome": outcome}
    params = {f"new_{name}": value for name, value in values.items()}
    session.connection().execute(_UPDATE_ATTEMPT, params | {"attempt_id": attempt_id})


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
