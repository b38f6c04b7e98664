"""Is the daemon alive, and what did each of its jobs do last? A heartbeat per daemon in the store.

`JobClock` is this process's memory of its jobs (start, end, outcome, error per job name), fed by the
daemon's job wrapper. The heartbeat job writes it to the `daemons` table every `heartbeat_seconds`
(one small write, not one per tick), so `portalhub status` on any machine shows every daemon of the
store and when each job last ran. `health()` is what `/healthz` answers: the store answers, and every
job ticked within three times its interval.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # `status` reads the daemons' rows without the ORM (hub/store_reader.py): imported where written.
    from hub.store.database import Store
    from hub.store.tables import DaemonRow

#: A job that has not ticked for this many intervals is late: the daemon is not healthy.
LATE_AFTER_INTERVALS = 3


def portalhub_version() -> str:
    # Imported here: importlib.metadata is ~20 ms, and `status` imports this module to read heartbeats.
    from importlib import metadata

    try:
        return metadata.version("portalhub")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "unknown"


@dataclass
class JobState:
    interval_seconds: float
    last_started: datetime | None = None
    last_finished: datetime | None = None
    outcome: str | None = None  # ok | failed | running
    error: str | None = None
    runs: int = 0
    failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "interval_seconds": self.interval_seconds,
            "last_started": self.last_started.isoformat() if self.last_started else None,
            "last_finished": self.last_finished.isoformat() if self.last_finished else None,
            "outcome": self.outcome,
            "error": self.error,
            "runs": self.runs,
            "failures": self.failures,
        }


@dataclass
class JobClock:
    """What this daemon's jobs did, by job name; safe to use from the scheduler's threads."""

    jobs: dict[str, JobState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, name: str, interval_seconds: float) -> None:
        with self._lock:
            state = self.jobs.setdefault(name, JobState(interval_seconds))
            state.interval_seconds = interval_seconds

    def forget(self, name: str) -> None:
        with self._lock:
            self.jobs.pop(name, None)

    def started(self, name: str, now: datetime) -> None:
        with self._lock:
            state = self.jobs.setdefault(name, JobState(0))
            state.last_started, state.outcome = now, "running"

    def finished(self, name: str, now: datetime, error: str | None = None) -> None:
        with self._lock:
            state = self.jobs.setdefault(name, JobState(0))
            state.last_finished, state.runs = now, state.runs + 1
            state.outcome, state.error = ("failed", error) if error else ("ok", None)
            state.failures += 1 if error else 0

    def snapshot(self) -> dict[str, JobState]:
        with self._lock:
            return {name: JobState(**vars(state)) for name, state in self.jobs.items()}

    def late(self, now: datetime) -> list[str]:
        """Jobs that have not *started* within three intervals (a job running long is not late)."""
        late = []
        for name, state in self.snapshot().items():
            if state.interval_seconds <= 0 or state.outcome == "running":
                continue
            seen = state.last_started
            if seen is None or now - seen > timedelta(seconds=LATE_AFTER_INTERVALS * state.interval_seconds):
                late.append(name)
        return sorted(late)


@dataclass
class Heartbeat:
    """Writes this daemon's row in `daemons`."""

    store: Store
    worker_id: str
    clock: JobClock
    heartbeat_seconds: float
    started_at: datetime | None = None

    def beat(self, now: datetime) -> None:
        from hub.store.tables import DaemonRow

        jobs = json.dumps({name: s.as_json() for name, s in sorted(self.clock.snapshot().items())})
        with self.store.session() as session:
            row = session.get(DaemonRow, self.worker_id)
            if row is None or self.started_at is None:
                self.started_at = now
                row = row or DaemonRow(
                    worker_id=self.worker_id,
                    host="",
                    pid=0,
                    version="",
                    started_at=now,
                    last_seen_at=now,
                    heartbeat_seconds=self.heartbeat_seconds,
                )
                import socket  # here: `status` imports this module and never writes a heartbeat

                row.host, row.pid, row.version = socket.gethostname(), os.getpid(), portalhub_version()
                row.started_at, row.stopped_at = now, None
            row.last_seen_at, row.jobs, row.heartbeat_seconds = now, jobs, self.heartbeat_seconds
            session.add(row)

    def stopped(self, now: datetime) -> None:
        from hub.store.tables import DaemonRow

        self.beat(now)
        with self.store.session() as session:
            row = session.get(DaemonRow, self.worker_id)
            if row is not None:
                row.stopped_at = now
                session.add(row)


@dataclass(frozen=True)
class DaemonStatus:
    worker_id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None
    alive: bool
    jobs: dict[str, dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "version": self.version,
            "started_at": self.started_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "alive": self.alive,
            "jobs": self.jobs,
        }


def daemons(store: Store, now: datetime) -> list[DaemonStatus]:
    """Every daemon that has run on this store, newest first; `alive` when its heartbeat is recent."""
    from sqlmodel import select

    from hub.store.tables import DaemonRow

    with store.session() as session:
        rows = session.exec(select(DaemonRow)).all()
    return statuses(rows, now)


def statuses(rows: Iterable[DaemonRow], now: datetime) -> list[DaemonStatus]:
    """The daemons' rows (read with or without the ORM) as statuses, newest first."""
    result = []
    for row in rows:
        recent = now - row.last_seen_at <= timedelta(seconds=LATE_AFTER_INTERVALS * row.heartbeat_seconds)
        result.append(
            DaemonStatus(
                worker_id=row.worker_id,
                host=row.host,
                pid=row.pid,
                version=row.version,
                started_at=row.started_at,
                last_seen_at=row.last_seen_at,
                stopped_at=row.stopped_at,
                alive=row.stopped_at is None and recent,
                jobs=json.loads(row.jobs or "{}"),
            )
        )
    return sorted(result, key=lambda d: d.last_seen_at, reverse=True)


def others_alive(store: Store, worker_id: str, now: datetime) -> bool:
    """Whether a daemon other than `worker_id` is running on this store (its heartbeat is recent)."""
    from sqlmodel import col, select

    from hub.store.tables import DaemonRow

    with store.session() as session:
        rows = session.exec(
            select(DaemonRow).where(
                col(DaemonRow.worker_id) != worker_id, col(DaemonRow.stopped_at).is_(None)
            )
        ).all()
        return any(status.alive for status in statuses(rows, now))


def health(store: Store, clock: JobClock, now: datetime) -> tuple[bool, dict[str, Any]]:
    """(healthy, details): the store answers and no job is late."""
    details: dict[str, Any] = {"store": "ok", "late_jobs": clock.late(now)}
    try:
        with store.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:  # the database driver's error: unreachable, refused
        details["store"] = f"failed: {type(exc).__name__}"
    healthy = details["store"] == "ok" and not details["late_jobs"]
    details["status"] = "ok" if healthy else "unhealthy"
    return healthy, details
