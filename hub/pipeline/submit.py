"""Submission: one invoice, one request, one answer, never twice.

For each profile, while its per-minute limit allows and nobody asked us to stop:
1. read the oldest due READY invoice, render its document with a fresh payloadID (outside any
   transaction), then in one transaction claim it (a lease, taken only if nobody changed it since the
   read), record the attempt row (payloadID, redacted request: `attempts.start_attempt`) and the move to
   SUBMITTING, committed *before* sending;
2. send it through the connector, on the wire's thread (hub/pipeline/wire.py);
3. in one transaction, record what came back on the attempt and move the invoice (hub/pipeline/outcome.py):
   SUBMITTED, REJECTED (the portal's words), READY with backoff (transient), or IN_DOUBT (no usable
   answer: reconciled with the portal before any resend).

Once the portal has answered in a run, the store's work overlaps the requests: while invoice N is out,
one transaction records N-1's answer (step 3) and claims N+1 (step 1, rendered just before) and reads
the one after it: one commit per invoice. The wire sends N+1 the moment N's answer says the portal took
or refused N; any other answer (down, throttling, credentials refused, no usable answer, a duplicate to
look into) is recorded before anything else moves, and N+1's claim is taken back (`withdraw_claim`:
attempt `not_sent`, invoice READY) if the run stops there. So each claim is still committed before its
request leaves, one request is out at a time, and an answer with its events and outbox rows is still one
transaction.

A worker that dies between 1 and 3 leaves SUBMITTING invoices (the one out, the one claimed after it,
the one whose answer was not recorded yet) with leases that expire; housekeeping turns them IN_DOUBT
(hub/pipeline/reconcile.py), which asks the portal before any resend. Nothing is ever resent blind.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from connectors.base import Connector, Envelope, OutboundDocument, PortalRecord, Receipt
from hub import profile_health
from hub.errors import (
    ConfigError,
    DocumentError,
    PermanentPortalError,
    ProfileUnavailableError,
)
from hub.lifecycle import move_claimed
from hub.model import Invoice, InvoiceState, RejectionCategory
from hub.pipeline.attempts import ACCEPTED, new_payload_id, portal_lease, start_attempt
from hub.pipeline.evidence import held_under
from hub.pipeline.outcome import hold_profile, record_answer, withdraw_claim
from hub.pipeline.reconcile import reconcile_profile
from hub.pipeline.wire import Answer, Wire, chains, transmit
from hub.runtime import Hub
from hub.store import work
from hub.store.tables import AttemptRow, InvoiceRow
from rules.schema import Profile

log = logging.getLogger(__name__)
S = InvoiceState
#: Why a run ended when it gave its portal's lease back after one lease period (hub/daemon.py starts
#: the next run at once when no other daemon could take the portal).
GAVE_BACK = "gave the portal's lease back after one lease period"


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
    claimed = 0  # invoices this run claimed: each sent, or its claim withdrawn
    renewed = started = hub.clock.now()
    answered = False
    ahead: work.Claimed | None = None  # the next due invoice, read (not claimed) in the last transaction
    flying: Prepared | None = None  # its request is out, or its answer not yet taken
    after: Prepared | None = None  # claimed while `flying` is out; goes when its answer allows
    unrecorded: tuple[Prepared, Answer] | None = None  # taken, recorded with the next claim
    wire: Wire[Prepared] | None = None

    def may_chain() -> bool:
        """Whether the next invoice may be claimed while this one is out: once the portal answered in
        this run (a run that meets a portal down or refusing our credentials claims nothing it cannot
        send), and what the checks at the top of the loop would let through without asking the store."""
        now = hub.clock.now()
        return (
            answered
            and invoice_id is None
            and not stop.is_set()
            and (limit is None or claimed < limit)
            and budget > 0
            and (now - renewed).total_seconds() < lease_seconds / 3
            and (now - started).total_seconds() < lease_seconds
        )

    def tally(outcome: str) -> str | None:
        """Count a recorded answer; why the run stops after it, if it does."""
        nonlocal answered
        report.count(outcome)
        if outcome == "held":  # nothing reached the portal; the profile waits for a person
            report.health = _health(hub, profile)
            return f"profile {profile.id} is held: {report.health.reason}"
        report.sent += 1
        if outcome in ("transient", "in_doubt", "auth"):
            return f"portal answered {outcome}; trying again later"
        if outcome in ("accepted", "rejected") and not answered:
            answered = True  # the portal works: once per run is enough to say so
            _recovered(hub, profile)
        return None

    try:
        connector = hub.connector(profile)
        reconcile_profile(hub, profile, connector)
        wire = Wire(partial(_transmit, connector, profile), lambda: not stop.is_set(), f"send-{profile.id}")
        # A request that left is always waited for and its answer recorded; asked to stop, the run
        # starts no other.
        while True:
            if flying is None:
                if stop.is_set() or (limit is not None and claimed >= limit):
                    break
                now = hub.clock.now()
                if budget <= 0 or (now - renewed).total_seconds() >= lease_seconds / 3:
                    if invoice_id is None and (now - started).total_seconds() >= lease_seconds:
                        # One lease period per run: while invoices keep arriving a run would hold the
                        # portal for good, and the daemon that took every portal first would send
                        # everything while the others idle. The next tick may be any daemon's.
                        report.stopped_because = GAVE_BACK
                        break
                    with hub.store.session() as session:
                        sent = work.attempts_since(session, profile.id, now - timedelta(minutes=1))
                        budget = profile.limits.per_minute - sent
                        if budget <= 0:
                            report.stopped_because = (
                                f"per-minute limit of {profile.limits.per_minute} reached"
                            )
                            break
                        if not work.acquire_lease(session, lease, hub.worker_id, now, lease_seconds):
                            report.stopped_because = "the portal's lease passed to another worker"
                            break
                        renewed = now
                flying = _prepare(hub, profile, connector, invoice_id, ahead)
                if flying is None:
                    break
                claimed += 1
                budget -= 1
                ahead = flying.ahead
                wire.go(flying)
            # While `flying` is out: the answer before it recorded, the invoice after it claimed.
            upcoming = ahead if ahead is not None and may_chain() else None
            if unrecorded is not None or upcoming is not None:
                after, ahead, outcome = _between(hub, profile, connector, unrecorded, upcoming, ahead)
                unrecorded = None
                if outcome is not None:
                    tally(outcome)  # an answer that chained: accepted or refused, never a stop
                if after is not None:
                    claimed += 1
                    budget -= 1
            answer = wire.exchange(after)
            sent_after = answer.chained
            if after is not None and not sent_after and chains(answer.result) and not stop.is_set():
                wire.go(after)  # the answer came before the claim was ready
                sent_after = True
            if sent_after:  # `after` is out: this answer is recorded with the next claim
                unrecorded, flying, after = (flying, answer), after, None
                continue
            # The answer is recorded before anything else leaves: it may stop the run.
            outcome = _record_now(hub, profile, connector, flying, answer)
            flying = None
            why = tally(outcome)
            if why is not None:
                report.stopped_because = why
                break
            if after is not None:
                if stop.is_set():
                    break  # its claim is withdrawn on the way out
                flying, after = after, None
                wire.go(flying)
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
            hold_profile(session, profile, exc, hub.clock.now())
        report.health = _health(hub, profile)
        report.stopped_because = f"profile {profile.id} is held: {exc}"
    finally:
        if wire is not None:
            _wind_down(hub, profile, connector, wire, unrecorded, flying, after, report.stopped_because)
        with hub.store.session() as session:
            work.release_lease(session, lease, hub.worker_id)
    return report


def _health(hub: Hub, profile: Profile) -> profile_health.Health:
    with hub.store.session() as session:
        return profile_health.health_of(session, profile.id)


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
    #: The next due invoice, read in the claim's transaction (not claimed): claimed with the answer.
    ahead: work.Claimed | None = None


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
    while True:
        now = hub.clock.now()
        invoice, ahead = ahead, None
        if invoice is None:
            with hub.store.session() as session:
                invoice = work.next_due(session, profile.id, S.READY, now, invoice_id)
            if invoice is None:
                return None
        try:
            envelope, document = _render(hub, profile, connector, invoice, now)
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
            prepared = _claim(hub, session, profile, connector, invoice, envelope, document, now)
            if prepared is None:  # taken or changed since it was read: nothing of the claim stays
                session.rollback()
                continue
            if invoice_id is None:
                prepared = prepared._replace(ahead=work.next_due(session, profile.id, S.READY, now))
        return prepared


def _render(
    hub: Hub, profile: Profile, connector: Connector, invoice: work.Claimed, now: datetime
) -> tuple[Envelope, OutboundDocument]:
    """The invoice's document for this send, with a fresh payloadID (outside any transaction)."""
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
    return envelope, connector.render(canonical, profile, envelope)


def _claim(
    hub: Hub,
    session: Session,
    profile: Profile,
    connector: Connector,
    invoice: work.Claimed,
    envelope: Envelope,
    document: OutboundDocument,
    now: datetime,
) -> Prepared | None:
    """In the caller's transaction: record the attempt and move the invoice to SUBMITTING with our
    lease, if nobody changed it since it was read. None when the claim did not hold: the attempt it
    wrote is for the caller to undo (`_prepare` rolls its transaction back, `_claim_ahead` its
    savepoint)."""
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
            "lease_expires_at": now + timedelta(seconds=hub.config.daemon.lease_seconds),
        },
    )
    return Prepared(invoice.id, attempt_id, document, invoice) if claimed else None


class _NotClaimed(Exception):
    """The next invoice changed since it was read: its claim is undone to the savepoint."""


def _claim_ahead(
    hub: Hub,
    session: Session,
    profile: Profile,
    connector: Connector,
    invoice: work.Claimed,
    rendered: tuple[Envelope, OutboundDocument],
    now: datetime,
) -> Prepared | None:
    """`_claim` of the next invoice in the transaction that records an answer, in a savepoint: a claim
    that does not hold, or fails in the database (a deadlock with a person's change of that invoice),
    is undone to it, never taking the answer back; the invoice is then taken the usual way next."""
    try:
        with session.begin_nested():
            prepared = _claim(hub, session, profile, connector, invoice, *rendered, now)
            if prepared is None:
                raise _NotClaimed
            return prepared
    except _NotClaimed:
        return None
    except DBAPIError as exc:
        log.warning("invoice %s not claimed with the answer before it (%s); taken next time", invoice.id, exc)
        return None


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


def _transmit(
    connector: Connector, profile: Profile, prepared: Prepared
) -> tuple[Receipt | BaseException, int]:
    """The send itself, on the wire's thread."""
    return transmit(lambda: connector.submit(prepared.document, profile), f"invoice {prepared.invoice_id}")


def _between(
    hub: Hub,
    profile: Profile,
    connector: Connector,
    unrecorded: tuple[Prepared, Answer] | None,
    upcoming: work.Claimed | None,
    ahead: work.Claimed | None,
) -> tuple[Prepared | None, work.Claimed | None, str | None]:
    """While a request is out, in one transaction: the answer before it recorded (`unrecorded`), the
    invoice after it claimed (`upcoming`, rendered first, outside the transaction) and the one after
    that read. Returns the claim (None: nothing claimed), the next due invoice and the recorded
    outcome."""
    rendered = None
    if upcoming is not None:
        try:
            rendered = _render(hub, profile, connector, upcoming, hub.clock.now())
        except Exception:  # not claimed now: taken the usual way next, which blocks it or raises
            rendered = None
    now = hub.clock.now()
    outcome = claimed = None
    with hub.store.session() as session:
        if unrecorded is not None:
            outcome = _record(hub, session, profile, connector, *unrecorded, None, now)
        if rendered is not None and upcoming is not None:
            claimed = _claim_ahead(hub, session, profile, connector, upcoming, rendered, now)
            ahead = work.next_due(session, profile.id, S.READY, now)
    return claimed, ahead, outcome


def _record_now(hub: Hub, profile: Profile, connector: Connector, prepared: Prepared, answer: Answer) -> str:
    """Record an answer on its own, before anything else is sent."""
    held: PortalRecord | BaseException | None = None
    result = answer.result
    if isinstance(result, PermanentPortalError) and result.duplicate and connector.can_lookup(profile):
        # "Number already used" proves our earlier send arrived only if what the portal holds is what we
        # sent: ask it now (outside any transaction; the wire is idle), record_answer compares.
        held = held_under(profile, connector, prepared.document.invoice_number)
    with hub.store.session() as session:
        return _record(hub, session, profile, connector, prepared, answer, held, hub.clock.now())


def _record(
    hub: Hub,
    session: Session,
    profile: Profile,
    connector: Connector,
    prepared: Prepared,
    answer: Answer,
    held: PortalRecord | BaseException | None,
    now: datetime,
) -> str:
    return record_answer(
        hub,
        session,
        profile,
        connector,
        prepared.invoice_id,
        prepared.attempt_id,
        answer.result,
        answer.elapsed_ms,
        held,
        prepared.invoice,
        now,
    )


def _wind_down(
    hub: Hub,
    profile: Profile,
    connector: Connector,
    wire: Wire[Prepared],
    unrecorded: tuple[Prepared, Answer] | None,
    flying: Prepared | None,
    after: Prepared | None,
    why: str | None,
) -> None:
    """On the way out of a run: an answer taken is recorded, a request still out is waited for and its
    answer recorded, and a claim that never went is withdrawn (its attempt `not_sent`, the invoice READY
    again). What fails here is left as a dead worker's would be: the invoice's lease expires and
    reconciliation asks the portal before any resend."""
    try:
        if unrecorded is not None:
            with hub.store.session() as session:
                _record(hub, session, profile, connector, *unrecorded, None, hub.clock.now())
        if flying is not None and wire.busy:
            _record_now(hub, profile, connector, flying, wire.exchange(None))
        if after is not None:
            with hub.store.session() as session:
                withdraw_claim(
                    hub,
                    session,
                    after.invoice,
                    after.attempt_id,
                    f"claimed for {profile.id}, but the run stopped before it was sent"
                    + (f" ({why})" if why else ""),
                    hub.clock.now(),
                )
    except Exception:
        log.exception("profile %s: winding the run down failed; left to the leases to expire", profile.id)
    finally:
        wire.close()
