"""Per-profile health: whether a portal profile can work now, and if not, why and since when.

A profile is `ok`, `failing` or `held`:

- `failing`: something outside the rules files stops it (a secret that does not resolve, credentials the
  portal refuses, a portal that is down). Its jobs are tried again with backoff (`next_try_at`), not every
  tick; the first success makes it `ok` again.
- `held`: it must not work until a person acts: its rules file does not load (`rules`), its web portal's
  page no longer matches the recipe (`recipe`), or it claims a customer another profile already has
  (`contested`). The hold remembers the fingerprint of the files the profile is made of (rules file,
  recipe, ...); it ends when those files change or an operator runs `portalhub profile release ID`.

Only transitions are reported: `mark_failing` and `hold` answer True when the profile *newly* stops
(the caller logs one WARNING), `mark_ok` True when it recovers (one INFO). The reason is shown by
`portalhub status`, `show` (for the profile's invoices), the worklist, and the notification digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported by the functions that use them: the read-only commands build `Health` from rows they
    # read without the ORM (hub/store_reader.py), and load neither the ORM nor the rules schema.
    from sqlmodel import Session

    from hub.store.tables import ProfileHealthRow
    from rules.schema import Profile

OK, FAILING, HELD = "ok", "failing", "held"
KINDS = ("rules", "config", "credentials", "portal_down", "recipe", "contested")
#: Kinds that hold a profile until a person acts; the others are retried with backoff.
HOLDING_KINDS = frozenset({"rules", "recipe", "contested"})
#: The first wait after a failure, doubled each time up to `BACKOFF_MAX`.
BACKOFF_INITIAL = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=15)
_REASON_LIMIT = 4000


@dataclass(frozen=True)
class Health:
    """A profile's health as stored (an `ok` one with no row is `Health(profile_id)`)."""

    profile_id: str
    state: str = OK
    kind: str | None = None
    reason: str | None = None
    since: datetime | None = None
    fingerprint: str | None = None
    failures: int = 0
    next_try_at: datetime | None = None
    released_by: str | None = None

    @property
    def working(self) -> bool:
        return self.state == OK

    def describe(self) -> str:
        """One line for logs, `status` and `show`: what is wrong and since when."""
        if self.working:
            return "ok"
        since = f" since {self.since:%Y-%m-%d %H:%M} UTC" if self.since else ""
        retry = (
            f" (next try {self.next_try_at:%H:%M:%S} UTC)"
            if self.state == FAILING and self.next_try_at
            else ""
        )
        action = (
            f"; waits until its file changes or `portalhub profile release {self.profile_id}`"
            if self.state == HELD
            else ""
        )
        return f"{self.state} ({self.kind}){since}: {self.reason}{retry}{action}"

    def as_json(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "state": self.state,
            "kind": self.kind,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
            "failures": self.failures,
            "next_try_at": self.next_try_at.isoformat() if self.next_try_at else None,
            "released_by": self.released_by,
        }


def from_row(row: ProfileHealthRow) -> Health:
    """The health a `profile_health` row records (an ORM row, or one read with the same columns)."""
    return Health(
        profile_id=row.profile_id,
        state=row.state,
        kind=row.kind,
        reason=row.reason,
        since=row.since,
        fingerprint=row.fingerprint,
        failures=row.failures,
        next_try_at=row.next_try_at,
        released_by=row.released_by,
    )


def _row(session: Session, profile_id: str, now: datetime) -> ProfileHealthRow:
    from hub.store.tables import ProfileHealthRow

    row = session.get(ProfileHealthRow, profile_id)
    return row or ProfileHealthRow(profile_id=profile_id, state=OK, updated_at=now)


def current(session: Session, profile_id: str | None = None) -> dict[str, Health]:
    """Stored health per profile id (every stored profile, or only `profile_id`); absent means ok."""
    from sqlmodel import col, select

    from hub.store.tables import ProfileHealthRow

    query = select(ProfileHealthRow)
    if profile_id is not None:
        query = query.where(col(ProfileHealthRow.profile_id) == profile_id)
    return {row.profile_id: from_row(row) for row in session.exec(query)}


def troubled(session: Session) -> dict[str, Health]:
    """Profiles that are failing or held."""
    from sqlmodel import col, select

    from hub.store.tables import ProfileHealthRow

    query = select(ProfileHealthRow).where(col(ProfileHealthRow.state) != OK)
    return {row.profile_id: from_row(row) for row in session.exec(query)}


def health_of(session: Session, profile_id: str) -> Health:
    return current(session, profile_id).get(profile_id, Health(profile_id))


def backoff(
    failures: int, initial: timedelta = BACKOFF_INITIAL, maximum: timedelta = BACKOFF_MAX
) -> timedelta:
    """The wait after the `failures`-th failure in a row: doubling, capped."""
    return min(initial * (2 ** min(max(failures, 1) - 1, 20)), maximum)


def mark_failing(
    session: Session,
    profile_id: str,
    *,
    kind: str,
    reason: str,
    now: datetime,
    fingerprint: str | None = None,
) -> bool:
    """Record a failure (with backoff before the next try); True only when the profile newly fails."""
    row = _row(session, profile_id, now)
    if row.state == HELD:
        return False  # a hold is stronger: it ends by a person, not by a later success
    newly = row.state != FAILING
    row.failures = 1 if newly else row.failures + 1
    if newly or row.kind != kind:
        row.since = now
    row.state, row.kind, row.reason = FAILING, kind, reason[:_REASON_LIMIT]
    row.fingerprint = fingerprint
    row.next_try_at = now + backoff(row.failures)
    row.released_by = None
    row.updated_at = now
    session.add(row)
    return newly


def mark_ok(session: Session, profile_id: str, now: datetime) -> bool:
    """The profile worked; True when it had been failing (it recovers). A hold is left as it is."""
    from hub.store.tables import ProfileHealthRow

    row = session.get(ProfileHealthRow, profile_id)
    if row is None or row.state != FAILING:
        return False
    _clear(row, now, released_by=None)
    session.add(row)
    return True


def hold(
    session: Session,
    profile_id: str,
    *,
    kind: str,
    reason: str,
    now: datetime,
    fingerprint: str | None = None,
) -> bool:
    """Hold the profile until a person acts; True when it was not held already for this kind."""
    row = _row(session, profile_id, now)
    newly = row.state != HELD or row.kind != kind
    if newly:
        row.since = now
    row.state, row.kind, row.reason = HELD, kind, reason[:_REASON_LIMIT]
    if newly or fingerprint is not None:  # held again without one: still the files of its start
        row.fingerprint = fingerprint
    row.next_try_at = None
    row.released_by = None
    row.updated_at = now
    session.add(row)
    return newly


def release(session: Session, profile_id: str, actor: str, now: datetime) -> Health | None:
    """End a hold or a failure (an operator, or a changed file); the health it had, None if it was ok."""
    from hub.store.tables import ProfileHealthRow

    row = session.get(ProfileHealthRow, profile_id)
    if row is None or row.state == OK:
        return None
    before = from_row(row)
    _clear(row, now, released_by=actor)
    session.add(row)
    return before


def _clear(row: ProfileHealthRow, now: datetime, released_by: str | None) -> None:
    row.state, row.kind, row.reason, row.since = OK, None, None, None
    row.fingerprint, row.next_try_at, row.failures = None, None, 0
    row.released_by = released_by
    row.updated_at = now


def may_work(health: Health, now: datetime, fingerprint: str | None = None) -> bool:
    """Whether the profile's jobs may run now: ok, failing and due again, or held on files that have
    changed since (`fingerprint` is the files' fingerprint now; the caller then releases the hold)."""
    if health.state == OK:
        return True
    if health.state == FAILING:
        return health.next_try_at is None or health.next_try_at <= now
    return fingerprint is not None and health.fingerprint is not None and fingerprint != health.fingerprint


# --- what a profile is made of -----------------------------------------------------------------------------
def profile_files(profile: Profile) -> list[Path]:
    """The files a profile is made of: its rules file and those it extends, and every file its
    connection names (a web portal's recipe, ...), so a hold ends when any of them changes."""
    files = [Path(p) for p in profile.sources]
    base = files[0].parent if files else Path.cwd()
    for value in _strings(profile.connection):
        if "://" in value or value.startswith(("env:", "file:", "secret:")) or len(value) > 500:
            continue
        candidate = Path(value) if Path(value).is_absolute() else base / value
        try:
            if candidate.is_file():
                files.append(candidate.resolve())
        except OSError:
            continue
    return sorted(set(files))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def files_fingerprint(paths: Iterable[Path]) -> str:
    """A digest of the files' names and contents (a missing file counts as its absence)."""
    digest = hashlib.sha256()
    for path in sorted(set(paths)):
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\0missing")
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def profile_fingerprint(profile: Profile) -> str:
    return files_fingerprint(profile_files(profile))
