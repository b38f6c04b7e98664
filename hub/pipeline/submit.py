"""Submission: one invoice, one request, one answer, never twice.

For each profile, while its per-minute limit allows and nobody asked us to stop:
1. claim the oldest due READY invoice (a lease), render its document with a fresh payloadID, and
   commit the attempt row (payloadID, redacted request) and the move to SUBMITTING *before* sending;
2. send it through the connector;
3. record what came back: SUBMITTED, REJECTED (the portal's words), READY with backoff (transient),
   or IN_DOUBT (no usable answer: reconciled with the portal before any resend).

A worker that dies between 1 and 3 leaves a SUBMITTING invoice with a lease that expires;
housekeeping turns it IN_DOUBT (hub/pipeline/reconcile.py). Nothing is ever resent blind.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
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
from hub.lifecycle import move
from hub.model import Invoice, InvoiceState, RejectionCategory
from hub.pipeline.evidence import duplicate_of_our_send, held_under
from hub.pipeline.reconcile import reconcile_profile
from hub.runtime import Hub
from hub.secrets import REDACTOR
from hub.store import work
from hub.store.tables import AttemptRow, InvoiceRow
from rules.schema import Profile

log = logging.getLogger(__name__)
S = InvoiceState
HOSTNAME = socket.gethostname()
#: After the portal refuses our credentials, leave the profile's invoices alone this long.
AUTH_BACKOFF = timedelta(minutes=15)
_ATTEMPTS: Table = AttemptRow.__table__  # type: ignore[attr-defined]
# Built once and executed with parameters on the session's connection: compiled once per process, and
# without the ORM's autoflush (the invoice's own changes are flushed once, at commit).
_INSERT_ATTEMPT = insert(_ATTEMPTS).returning(_ATTEMPTS.c.id)
#: The invoice as the store has it now (housekeeping may have moved it while we waited for the portal).
_INVOICE_BY_ID = select(InvoiceRow).where(col(InvoiceRow.id) == bindparam("invoice_id"))
_ATTEMPT_COLUMNS = tuple(c.name for c in _ATTEMPTS.columns if c.name != "id")


def new_payload_id(now: datetime) -> str:
    """`<timestamp>.<process>.<random>@<hostname>`, the common cXML form; unique per document."""
    return f"{int(now.timestamp() * 1000)}.{os.getpid()}.{secrets.token_hex(8)}@{HOSTNAME}"


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
    lease = f"submit:{profile.id}"
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
            prepared = _prepare(hub, profile, connector, invoice_id)
            if prepared is None:
                break
            budget -= 1
            outcome = _send(hub, profile, connector, *prepared)
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


def _prepare(
    hub: Hub, profile: Profile, connector: Connector, invoice_id: int | None = None
) -> tuple[int, int, OutboundDocument] | None:
    """Claim one invoice and commit its attempt; returns (invoice id, attempt id, document) or None."""
    while True:
        now = hub.clock.now()
        with hub.store.session() as session:
            row = work.claim_due(
                session,
                profile.id,
                S.READY,
                hub.worker_id,
                now,
                hub.config.daemon.lease_seconds,
                hub.store.dialect,
                invoice_id,
            )
            if row is None:
                return None
            invoice = Invoice.model_validate_json(row.document)
            envelope = Envelope(
                payload_id=new_payload_id(now),
                timestamp=now,
                invoice_number=row.portal_invoice_number or invoice.invoice_number,
                original_payload_id=_original_payload_id(session, invoice)
                if invoice.original_invoice_number
                else None,
            )
            try:
                document = connector.render(invoice, profile, envelope)
            except DocumentError as exc:  # pre-flight passed but sending cannot: block it, take the next
                work.release(row)
                move(
                    session,
                    row,
                    S.BLOCKED,
                    actor=hub.actor,
                    now=now,
                    reason=f"cannot be sent: {exc}",
                    category=RejectionCategory.DOCUMENT,
                )
                continue
            # One INSERT ... RETURNING id (an ORM object and its flush cost more than the rest of the step)
            attempt_id = (
                session.connection()
                .execute(
                    _INSERT_ATTEMPT,
                    dict.fromkeys(_ATTEMPT_COLUMNS)
                    | {
                        "invoice_id": row.id,
                        "revision": row.revision,
                        "payload_id": envelope.payload_id,
                        "profile_id": profile.id,
                        "connector": connector.name,
                        "portal_invoice_number": envelope.invoice_number,
                        "worker_id": hub.worker_id,
                        "started_at": now,
                        "outcome": "pending",
                        "request_document": _stored(document),
                    },
                )
                .scalar_one()
            )
            move(
                session,
                row,
                S.SUBMITTING,
                actor=hub.actor,
                now=now,
                reason=f"sending to {profile.id} as payloadID {envelope.payload_id}",
                attempt_id=attempt_id,
            )
            assert row.id is not None
            return row.id, attempt_id, document


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
            col(AttemptRow.outcome).in_(("accepted", "found")),
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
) -> str:
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
    return record_outcome(hub, profile, connector, invoice_id, attempt_id, result, elapsed_ms, held)


def record_outcome(
    hub: Hub,
    profile: Profile,
    connector: Connector,
    invoice_id: int,
    attempt_id: int,
    result: Receipt | BaseException,
    elapsed_ms: int,
    held: PortalRecord | BaseException | None = None,
) -> str:
    """Write what the portal answered onto the attempt and move the invoice; returns the outcome name.
    `held`: after a duplicate answer, what the portal's lookup showed under the number (None: nothing,
    or no lookup; an exception: the lookup failed)."""
    now = hub.clock.now()
    daemon = hub.config.daemon
    with hub.store.session() as session:
        row = session.exec(_INVOICE_BY_ID, params={"invoice_id": invoice_id}).one()
        # The attempt is written with one UPDATE of the answer's columns, not loaded and flushed through
        # the ORM (it is only read back on the rare duplicate path, which needs the object).
        answer: dict[str, Any] = {"finished_at": now, "duration_ms": elapsed_ms, **_answer(result)}
        if row.state != S.SUBMITTING.value or not work.holds_lease(row, hub.worker_id, now):
            # Housekeeping decided we were dead and moved the invoice on; the attempt keeps the answer,
            # and reconciliation (which asks the portal) settles the invoice.
            _write_attempt(session, attempt_id, answer, f"late-{_outcome_name(result)}"[:20])
            log.warning(
                "answer for %s arrived after its lease expired; left to reconciliation", row.invoice_number
            )
            return "late"
        work.release(row)
        outcome = _outcome_name(result)
        name = profile.id
        if isinstance(result, ProfileUnavailableError):
            # Nothing reached the portal: the invoice waits in READY (no rejection, nothing for AR) and the
            # whole profile is held until its files change or an operator releases it.
            _write_attempt(session, attempt_id, answer, "not_sent")
            move(
                session,
                row,
                S.READY,
                actor=hub.actor,
                now=now,
                reason=f"not sent: profile {name} is on hold ({result.kind}): {result}",
                attempt_id=attempt_id,
            )
            _hold(session, profile, result, now)
            return "held"
        if (
            isinstance(result, PermanentPortalError)
            and result.duplicate
            and _had_uncertain_attempt(session, row, attempt_id)
        ):
            attempt = session.get(AttemptRow, attempt_id)
            assert attempt is not None
            for column, value in answer.items():
                setattr(attempt, column, value)
            attempt.outcome = outcome
            session.add(attempt)
            duplicate_of_our_send(
                hub, session, profile, row, attempt, result, held, connector.can_lookup(profile), now
            )
            return outcome
        _write_attempt(session, attempt_id, answer, outcome)
        if isinstance(result, Receipt):
            row.portal_invoice_id = result.portal_invoice_id or row.portal_invoice_id
            row.transient_failures = 0
            reason = f"accepted by {name}" + (
                f" (portal id {result.portal_invoice_id})" if result.portal_invoice_id else ""
            )
            if result.portal_text:
                reason += f": {result.portal_text}"
            move(
                session,
                row,
                S.SUBMITTED,
                actor=hub.actor,
                now=now,
                reason=reason,
                raw_status=result.portal_code,
                attempt_id=attempt_id,
            )
        elif isinstance(result, PermanentPortalError):
            move(
                session,
                row,
                S.REJECTED,
                actor=hub.actor,
                now=now,
                reason=f"rejected by {name}: {result.portal_text or result}",
                category=result.category,
                raw_status=result.portal_code,
                attempt_id=attempt_id,
            )
        elif isinstance(result, PortalAuthError | ConfigError):
            row.next_attempt_at = now + AUTH_BACKOFF
            category = (
                RejectionCategory.CREDENTIALS
                if isinstance(result, PortalAuthError)
                else RejectionCategory.CONFIG
            )
            move(
                session,
                row,
                S.READY,
                actor=hub.actor,
                now=now,
                reason=f"not sent: {name} refused access ({result}); fix the profile's credentials, "
                f"the invoice waits until {row.next_attempt_at:%Y-%m-%d %H:%M} UTC",
                category=category,
                attempt_id=attempt_id,
            )
            outcome = "auth"
            kind = "credentials" if isinstance(result, PortalAuthError) else "config"
            if profile_health.mark_failing(session, name, kind=kind, reason=str(result), now=now):
                log.warning("profile %s stopped working (%s): %s", name, kind, result)
        elif isinstance(result, TransientPortalError):
            row.transient_failures += 1
            if row.transient_failures >= daemon.max_transient_attempts:
                # Bounded: stop hammering a portal that keeps failing; the invoice waits, visibly.
                row.next_attempt_at = now + timedelta(seconds=daemon.park_seconds)
                reason = (
                    f"{name} failed {row.transient_failures} times in a row (last: {result}); parked until "
                    f"{row.next_attempt_at:%Y-%m-%d %H:%M} UTC — `portalhub submit {row.invoice_number}` sends it now"
                )
                row.transient_failures = 0
            else:
                delay = backoff(
                    row.transient_failures,
                    result.retry_after,
                    daemon.backoff_initial_seconds,
                    daemon.backoff_max_seconds,
                )
                row.next_attempt_at = now + delay
                reason = f"{name} unavailable ({result}); retry {row.transient_failures} at {row.next_attempt_at:%H:%M:%S} UTC"
            move(session, row, S.READY, actor=hub.actor, now=now, reason=reason, attempt_id=attempt_id)
        else:
            row.next_attempt_at = now + timedelta(seconds=daemon.reconcile_after_seconds)
            move(
                session,
                row,
                S.IN_DOUBT,
                actor=hub.actor,
                now=now,
                reason=f"no usable answer from {name} ({result}); will ask the portal before any resend",
                attempt_id=attempt_id,
            )
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


def _had_uncertain_attempt(session: Session, row: InvoiceRow, current_attempt: int) -> bool:
    """Did an earlier send of this very number go unanswered (in doubt, or its worker died)?"""
    earlier = session.exec(
        select(AttemptRow.id).where(
            col(AttemptRow.invoice_id) == row.id,
            col(AttemptRow.id) != current_attempt,
            col(AttemptRow.portal_invoice_number) == (row.portal_invoice_number or row.invoice_number),
            col(AttemptRow.outcome).in_(("in_doubt", "abandoned", "absent")),
        )
    ).first()
    return earlier is not None
