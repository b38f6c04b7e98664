"""Is each portal profile working? Derived from what the store already records: the outcomes of the
latest sends (attempts) and of the latest poll (poll cursors). Nothing is probed.

- A refused login (the newest answered send was `auth`) is reported at once: nothing will get through
  until AR operations fix the profile's secrets.
- A portal that gave no usable answer (unavailable, throttling, no answer) to every send, or whose
  polls fail, for longer than `portal_down_minutes` is reported as down.

- A profile the hub itself marked as not working (hub/profile_health.py: held for a broken, contested or
  out-of-date rules file or recipe, or failing on a secret) is reported with that reason, first.

An incident is identified by the profile, its kind and when it began, so it is reported once however
often it is looked at, and a new outage after a recovery is a new incident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from hub import profile_health

if TYPE_CHECKING:
    # `status` derives the incidents from rows it reads without the ORM (hub/store_reader.py).
    from sqlmodel import Session

    from hub.store.tables import AttemptRow, CursorRow
    from rules.schema import Profile

#: Attempt outcomes that mean the portal did not take the request (refused access or no usable answer).
FAILED = frozenset({"auth", "transient", "in_doubt", "abandoned"})
#: Attempt outcomes that prove the portal was working (it decided something about the invoice).
WORKING = frozenset({"accepted", "rejected", "found", "absent"})
RECENT_ATTEMPTS = 200
#: Health kinds that mean what a derived incident means: the same incident kind (and key).
_SAME_AS_DERIVED = {"credentials": "profile_auth", "portal_down": "profile_down"}


@dataclass(frozen=True)
class Incident:
    profile_id: str
    kind: str  # profile_auth | profile_down
    since: datetime
    detail: str
    customers: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"profile:{self.profile_id}:{self.kind}:{self.since.isoformat()}"


def incidents(
    session: Session, profiles: Iterable[Profile], now: datetime, down_after: timedelta
) -> list[Incident]:
    """Every profile that is not working now, with since when and the portal's last words."""
    return incidents_of(session, {p.id: tuple(p.match.customer_id) for p in profiles}, now, down_after)


def incidents_of(
    session: Session, customers_of: Mapping[str, tuple[str, ...]], now: datetime, down_after: timedelta
) -> list[Incident]:
    """`incidents` for profiles known by id and customers only (the read-only hub's outlines)."""
    from sqlmodel import col, func, select

    from hub.store.tables import AttemptRow, CursorRow

    def recent_sends(profile_id: str) -> Sequence[AttemptRow]:
        # Newest first along ix_attempts_profile_started, and without the documents: ordered by id, the
        # database read and sorted every send the profile ever made, cXML included, on every check (1.5 s
        # for three profiles with 180,000 sends).
        recent = session.exec(
            select(AttemptRow.outcome, AttemptRow.started_at, AttemptRow.portal_text, AttemptRow.error)
            .where(col(AttemptRow.profile_id) == profile_id, col(AttemptRow.outcome) != "pending")
            .order_by(col(AttemptRow.started_at).desc(), col(AttemptRow.id).desc())
            .limit(RECENT_ATTEMPTS)
        ).all()
        return cast(list[AttemptRow], recent)  # rows with those columns, read like the ORM's

    def first_send(profile_id: str) -> datetime | None:
        return session.exec(
            select(func.min(AttemptRow.started_at)).where(col(AttemptRow.profile_id) == profile_id)
        ).one()

    return incidents_from(
        profile_health.troubled(session),
        customers_of,
        now,
        down_after,
        recent_sends=recent_sends,
        cursor=lambda profile_id: session.get(CursorRow, profile_id),
        first_send=first_send,
    )


def incidents_from(
    marked: Mapping[str, profile_health.Health],
    customers_of: Mapping[str, tuple[str, ...]],
    now: datetime,
    down_after: timedelta,
    *,
    recent_sends: Callable[[str], Sequence[AttemptRow]],
    cursor: Callable[[str], CursorRow | None],
    first_send: Callable[[str], datetime | None],
) -> list[Incident]:
    """The incidents, given the profiles marked as not working and how to read a profile's newest
    `RECENT_ATTEMPTS` answered sends (newest first), its poll cursor and the instant of its first send:
    through the ORM (`incidents_of`) or the read-only commands' reader (hub/store_reader.py)."""
    found: list[Incident] = []
    for profile_id, health in sorted(marked.items()):
        # Also for a profile whose rules file does not load (not among the profiles): said once, with why.
        customers = customers_of.get(profile_id, ())
        if health.since is not None:
            kind = _SAME_AS_DERIVED.get(health.kind or "", f"profile_{health.kind}")
            found.append(Incident(profile_id, kind, health.since, health.reason or "", customers))
    for profile_id, customers in customers_of.items():
        if profile_id in marked:
            continue
        incident = _send_incident(recent_sends(profile_id), profile_id, now, down_after, customers)
        if incident is None:
            incident = _poll_incident(cursor(profile_id), first_send, profile_id, now, down_after, customers)
        if incident is not None:
            found.append(incident)
    return found


def _send_incident(
    recent: Sequence[AttemptRow],
    profile_id: str,
    now: datetime,
    down_after: timedelta,
    customers: tuple[str, ...],
) -> Incident | None:
    run: list[AttemptRow] = []
    for attempt in recent:
        if attempt.outcome in WORKING:
            break
        if attempt.outcome in FAILED:
            run.append(attempt)
    if not run:
        return None
    newest = run[0]
    words = newest.portal_text or newest.error or newest.outcome
    if newest.outcome == "auth":
        # Since the start of the unbroken run of refusals: one incident until a login works again.
        streak = next((n for n, a in enumerate(run) if a.outcome != "auth"), len(run))
        return Incident(profile_id, "profile_auth", run[streak - 1].started_at, words, customers)
    oldest = run[-1]
    if now - oldest.started_at >= down_after:
        return Incident(profile_id, "profile_down", oldest.started_at, words, customers)
    return None


def _poll_incident(
    cursor: CursorRow | None,
    first_send: Callable[[str], datetime | None],
    profile_id: str,
    now: datetime,
    down_after: timedelta,
    customers: tuple[str, ...],
) -> Incident | None:
    if cursor is None or not cursor.last_error:
        return None
    stamp, _, words = cursor.last_error.partition(": ")
    try:
        failed_at = datetime.fromisoformat(stamp)
    except ValueError:
        return None  # a successful poll's note about unreadable records, not a failure
    if cursor.polled_at is not None and failed_at <= cursor.polled_at:
        return None
    # Since the last poll that worked (or, if none ever did, the first send the poll would follow up):
    # a fixed instant, so the same outage keeps the same key however many polls fail.
    since = cursor.polled_at or first_send(profile_id)
    if since is None:
        return None
    if now - since < down_after:
        return None
    return Incident(profile_id, "profile_down", since, f"status polls failing: {words}", customers)
