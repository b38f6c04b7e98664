"""The store's tables. Schema changes go through an Alembic migration (hub/store/migrations).

- `invoices`: one row per AR invoice, with its current state as a projection of its events;
- `invoice_revisions`: every distinct content the AR system gave us (a corrected invoice is a new one);
- `attempts`: one row per send, committed before the request leaves (payloadID, redacted documents);
- `events`: append-only history; the current state is the last event's `to_state`;
- `poll_cursors`, `work_leases`: where each portal poll stands, and who holds which piece of work;
- `feedback_outbox`: what must reach the AR system, each event once;
- `quarantine`: AR records that could not become invoices, with the reason;
- `notifications`: what each collector (or webhook) must be told, batched into digests, each once;
- `daemons`: each daemon's heartbeat: who, where, and when each of its jobs last ran.


- `profile_health`: portal profiles that cannot work (failing, or held until a person acts), with the reason.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.store.types import Money, UTCDateTime


def _instant(nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class InvoiceRow(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("source", "ar_key", name="uq_invoices_source_ar_key"),
        # Claims walk it in order (hub/store/work.py claim_due): `id` last, so no sort is needed.
        Index("ix_invoices_work", "profile_id", "state", "next_attempt_at", "id"),
        # A portal's status update names its own invoice id (status_sync/apply.py find_invoice),
        # or only the number it got (Ariba's listing).
        Index("ix_invoices_portal_id", "profile_id", "portal_invoice_id"),
        Index("ix_invoices_portal_number", "profile_id", "portal_invoice_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100)
    ar_key: str = Field(max_length=200)
    invoice_number: str = Field(max_length=100, index=True)
    customer_id: str = Field(max_length=100, index=True)
    profile_id: str | None = Field(default=None, max_length=100)
    purpose: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    total: Decimal = Field(sa_type=Money)
    invoice_date: date
    state: str = Field(max_length=20, index=True)
    revision: int = 1
    content_hash: str = Field(max_length=64)
    document: str = Field(sa_type=Text)  # canonical invoice JSON of the current revision
    portal_invoice_number: str | None = Field(default=None, max_length=100)  # differs after renumbering
    #: The invoice a credit memo, rebill or cancel names (the document's): `show` lists them by it.
    original_invoice_number: str | None = Field(default=None, max_length=100, index=True)
    portal_invoice_id: str | None = Field(default=None, max_length=100)
    portal_status_raw: str | None = Field(default=None, max_length=200)
    #: When the portal last changed this invoice (portal time): older updates never overwrite newer ones.
    portal_updated_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    last_reason: str | None = Field(default=None, sa_type=Text)
    last_category: str | None = Field(default=None, max_length=30)
    rules_fingerprint: str | None = Field(default=None, max_length=40)
    transient_failures: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    created_at: datetime = Field(sa_column=_instant())
    updated_at: datetime = Field(sa_column=_instant())
    #: The newest event of this invoice's audit chain (hub/audit.py): a cut-off tail is detected.
    event_seq: int = 0
    event_head: str | None = Field(default=None, max_length=64)


class RevisionRow(SQLModel, table=True):
    __tablename__ = "invoice_revisions"
    __table_args__ = (UniqueConstraint("invoice_id", "revision", name="uq_revisions_invoice_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    revision: int
    content_hash: str = Field(max_length=64)
    document: str = Field(sa_type=Text)
    received_at: datetime = Field(sa_column=_instant())


class AttemptRow(SQLModel, table=True):
    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_profile_started", "profile_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", index=True)
    revision: int
    payload_id: str = Field(max_length=200, unique=True)
    profile_id: str = Field(max_length=100)
    connector: str = Field(max_length=50)
    portal_invoice_number: str = Field(max_length=100)
    worker_id: str = Field(max_length=200)
    #: pending (committed, request not answered yet) | accepted | rejected | auth | transient | in_doubt
    #: | found (reconciled: the portal has it) | absent (reconciled: it does not) | abandoned (lease expired)
    outcome: str = Field(default="pending", max_length=20)
    started_at: datetime = Field(sa_column=_instant())
    finished_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    duration_ms: int | None = None
    http_status: int | None = None
    portal_code: str | None = Field(default=None, max_length=50)
    portal_text: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    request_document: str | None = Field(default=None, sa_type=Text)  # secrets redacted
    response_document: str | None = Field(default=None, sa_type=Text)  # secrets redacted


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_invoice_at", "invoice_id", "id"),
        UniqueConstraint("invoice_id", "seq", name="uq_events_invoice_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id")
    at: datetime = Field(sa_column=_instant(index=True))
    actor: str = Field(max_length=200)  # daemon:<worker>, cli:<user>, portal:<profile>
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    reason: str | None = Field(default=None, sa_type=Text)
    category: str | None = Field(default=None, max_length=30)
    raw_status: str | None = Field(default=None, max_length=200)
    details: str | None = Field(default=None, sa_type=Text)  # JSON, secrets redacted
    attempt_id: int | None = Field(default=None, foreign_key="attempts.id")
    dedupe_key: str | None = Field(default=None, max_length=400, unique=True)
    #: The audit chain (hub/audit.py): position in the invoice's history, the previous event's hash,
    #: and this event's hash over its content and `prev_hash`. Database triggers refuse UPDATE/DELETE.
    seq: int | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class CursorRow(SQLModel, table=True):
    __tablename__ = "poll_cursors"

    profile_id: str = Field(primary_key=True, max_length=100)
    cursor: str | None = Field(default=None, max_length=200)
    polled_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    requests: int = 0  # requests the last poll cost
    last_error: str | None = Field(default=None, sa_type=Text)


class LeaseRow(SQLModel, table=True):
    """A named piece of work (submit:<profile>, poll:<profile>) held by one worker until it expires."""

    __tablename__ = "work_leases"

    name: str = Field(primary_key=True, max_length=200)
    owner: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class OutboxRow(SQLModel, table=True):
    __tablename__ = "feedback_outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=200, unique=True)  # what the AR side dedupes on
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    payload: str = Field(sa_type=Text)  # JSON
    created_at: datetime = Field(sa_column=_instant())
    delivered_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    next_attempt_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class QuarantineRow(SQLModel, table=True):
    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("source", "ar_key", "content_hash", name="uq_quarantine_record"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100)
    ar_key: str = Field(max_length=200)
    invoice_number: str | None = Field(default=None, max_length=100)
    reason: str = Field(sa_type=Text)
    record: str = Field(sa_type=Text)  # the raw AR record as JSON
    content_hash: str = Field(max_length=64)
    first_seen: datetime = Field(sa_column=_instant())
    last_seen: datetime = Field(sa_column=_instant())
    resolved_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class NotificationRow(SQLModel, table=True):
    """One thing to tell one recipient: an invoice blocked, rejected or disputed, or a profile that
    stopped working. Rows are claimed into a digest (`digest_id`, committed before sending, so a resend
    after a crash carries the same id) and marked sent: each event reaches each recipient once."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_key", "recipient", name="uq_notifications_event_recipient"),
        Index("ix_notifications_pending", "recipient", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: What happened: `evt-<event id>` for an invoice event, `profile:<id>:<kind>:<since>` for a profile.
    event_key: str = Field(max_length=200)
    event_id: int | None = Field(default=None, foreign_key="events.id", index=True)
    recipient: str = Field(max_length=200)  # a name from the `notifications:` config ("" when nobody)
    channel: str = Field(max_length=20)  # email | webhook | none
    kind: str = Field(max_length=30)  # blocked | rejected | disputed | profile_auth | profile_down
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id")
    customer_id: str | None = Field(default=None, max_length=100)
    profile_id: str | None = Field(default=None, max_length=100)
    payload: str = Field(sa_type=Text)  # JSON: what the digest says about it (reasons included)
    #: pending | sending (claimed into `digest_id`) | sent | resolved (fixed before its digest) | unrouted
    status: str = Field(default="pending", max_length=20)
    digest_id: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(sa_column=_instant())
    sent_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    next_attempt_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class DaemonRow(SQLModel, table=True):
    """One running (or stopped) daemon: who and where it is, and when each of its jobs last ran and how
    it ended (`jobs`: JSON, job name -> interval, last start, last end, outcome, error). Written by the
    daemon's heartbeat; read by `portalhub status` and the metrics."""

    __tablename__ = "daemons"

    worker_id: str = Field(primary_key=True, max_length=200)
    host: str = Field(max_length=200)
    pid: int
    version: str = Field(max_length=50)
    started_at: datetime = Field(sa_column=_instant())
    last_seen_at: datetime = Field(sa_column=_instant())
    stopped_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    heartbeat_seconds: float
    jobs: str = Field(default="{}", sa_type=Text)


class UnplacedStatusRow(SQLModel, table=True):
    """A status a portal pushed that could not be applied to an invoice (no invoice of ours has its
    reference, a type with no canonical meaning, an identification or value that cannot be read).
    The network got 200 (retrying cannot help); the status waits here for a person: `show` lists it
    under the invoice it names, the worklist under "status not placed". The document is not kept (it
    carries the shared secret): what it said is."""

    __tablename__ = "unplaced_statuses"
    __table_args__ = (Index("ix_unplaced_open", "resolved_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    #: The same status delivered twice is kept once (sender, payloadID of the StatusUpdateRequest).
    dedupe_key: str = Field(max_length=400, unique=True)
    received_at: datetime = Field(sa_column=_instant())
    profile_id: str | None = Field(default=None, max_length=100)  # the authenticated profile (first)
    #: unknown-invoice | unknown-type | unreadable
    problem: str = Field(max_length=30)
    explanation: str = Field(sa_type=Text)  # a sentence for the person
    #: The invoice the status names, as it named it (invoice number, DocumentInfo id, our payloadID).
    invoice_number: str | None = Field(default=None, max_length=200, index=True)
    document_payload_id: str | None = Field(default=None, max_length=200)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    status_kind: str | None = Field(default=None, max_length=50)  # InvoiceStatus, DocumentStatus, ...
    status_type: str | None = Field(default=None, max_length=200)
    occurred_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    comments: str | None = Field(default=None, sa_type=Text)  # verbatim, one per line
    details: str = Field(sa_type=Text)  # JSON: everything read from the document but the secret
    resolved_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class ProfileHealthRow(SQLModel, table=True):
    """Whether a portal profile can work, and if not why and since when (hub/profile_health.py).

    `failing` profiles are tried again with backoff (`next_try_at`); `held` ones wait for a person: a
    changed rules or recipe file (`fingerprint` no longer matches) or `portalhub profile release`."""

    __tablename__ = "profile_health"

    profile_id: str = Field(primary_key=True, max_length=100)
    state: str = Field(default="ok", max_length=10)  # ok | failing | held
    kind: str | None = Field(default=None, max_length=20)  # rules | config | credentials | portal_down | ...
    reason: str | None = Field(default=None, sa_type=Text)
    since: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    #: Of the files the profile is made of (rules file, recipe) when the problem began.
    fingerprint: str | None = Field(default=None, max_length=64)
    failures: int = 0
    next_try_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    released_by: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(sa_column=_instant())


# The web's users, API tokens and follow-ups live in their own module; imported here so every reader of
# the metadata (migrations, the schema check) sees them.
from hub.store.accounts import FollowUpRow, TokenRow, UserRow  # noqa: E402, F401
