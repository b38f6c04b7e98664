"""kill -9 of a real daemon in each phase of its life, not only just after a send starts.

Each kill starts the daemon, waits until the phase it aims at has begun (seen from outside: the
daemon's log, the hub's store, the AR database, or the request arriving at the sandbox portal), waits
a random instant more and kills it. A report says how many kills landed, not only how many were aimed:
for start-up, migration and ingest, landed means the phase was seen unfinished at the kill (no
"running" line yet, the store not at its head revision, AR invoices not all taken in); for send, poll and
feedback, that the phase was seen begun (the request at the portal, a new row in AR) within a few tens
of milliseconds (send: up to 0.3 s) before the kill.

- start-up: before the daemon's scheduler runs ("daemon ... running" not yet logged);
- migration: while `portalhub migrate` upgrades the store (the store is taken back one revision first,
  so each life has a migration to do; the daemon refuses an older store, so the operator's command is
  what a crash hits; it is run again to the end afterwards; SQLite only: on PostgreSQL the migration
  is one locked transaction too);
- ingest: while it takes in a new wave of AR invoices;
- send: while an invoice request is at the portal;
- poll: while its status poll is at the portal;
- feedback: while it writes status events into the AR database.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from alembic import command
from alembic.config import Config

from bench.scenario import Scenario
from connectors.sandbox.server import Request
from hub.store.database import HEAD, MIGRATIONS

PHASES = ("startup", "migration", "ingest", "send", "poll", "feedback")
#: The revision a store is taken back to before a migration kill (0005 rebuilds the invoices table).
BEFORE_HEAD = "0004"


@dataclass
class KillReport:
    aimed: Counter[str] = field(default_factory=Counter)
    hit: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        return ", ".join(f"{p} {self.hit[p]}/{self.aimed[p]}" for p in PHASES if self.aimed[p])


def kill_at_phases(
    scenario: Scenario,
    rounds: int,
    rng: random.Random,
    phases: tuple[str, ...] = PHASES,
    wave: int = 20,
) -> KillReport:
    """`rounds` times, one kill aimed at each phase in turn. The run is not settled afterwards: call
    `scenario.run_until_settled()`."""
    report = KillReport()
    for _ in range(rounds):
        for phase in phases:
            if phase == "migration" and scenario.store_url:
                continue
            report.aimed[phase] += 1
            if kill_in(scenario, phase, rng, wave):
                report.hit[phase] += 1
    return report


def kill_in(scenario: Scenario, phase: str, rng: random.Random, wave: int = 20) -> bool:
    """Start the daemon, kill -9 it inside `phase`; returns whether the kill landed there."""
    if phase == "migration":
        _take_back(scenario)
    if phase == "ingest":
        scenario.add_invoices(wave)
    log = scenario.root / "daemon-main.log"
    offset = log.stat().st_size if log.exists() else 0
    arrived = threading.Event()
    server = scenario.sandbox.server
    assert server is not None
    wanted: Callable[[Request], bool] | None = {
        "send": lambda r: r.method == "POST" and r.path.endswith("/cxml/invoices"),
        "poll": lambda r: r.method == "GET" and r.path == "/api/v1/invoices",
    }.get(phase)
    if wanted is not None:
        match = wanted
        server.on_request = lambda request: arrived.set() if match(request) else None
    hub_invoices = _count(scenario, "SELECT count(*) FROM invoices")
    ar_rows = _ar_rows(scenario)
    # The store is migrated by `portalhub migrate` (the daemon refuses an older store): that is what
    # the migration kill hits, and a killed migration is run again to the end, as an operator would.
    daemon = scenario.start_migration() if phase == "migration" else scenario.start_daemon()
    deadline = time.monotonic() + 60
    hit = False
    try:
        if phase == "startup":
            time.sleep(rng.uniform(0.05, 0.8))
            hit = "running:" not in _since(log, offset)
        elif phase == "migration":
            if _wait(lambda: "Running upgrade" in _since(log, offset), daemon, deadline):
                time.sleep(rng.uniform(0.0, 0.05))
                hit = _revision(scenario) != HEAD
        elif phase == "ingest":
            if _wait(
                lambda: _count(scenario, "SELECT count(*) FROM invoices") > hub_invoices, daemon, deadline
            ):
                time.sleep(rng.uniform(0.0, 0.05))
                hit = _count(scenario, "SELECT count(*) FROM invoices") < scenario.invoices
        elif phase in ("send", "poll"):
            hit = _wait(arrived.is_set, daemon, deadline)
            time.sleep(rng.uniform(0.0, 0.3 if phase == "send" else 0.02))
        elif phase == "feedback":
            hit = _wait(lambda: _ar_rows(scenario) > ar_rows, daemon, deadline)
            time.sleep(rng.uniform(0.0, 0.05))
        else:
            raise ValueError(f"no such phase: {phase}")
    finally:
        server.on_request = None
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
    if phase == "migration":
        again = scenario.start_migration()
        if again.wait(timeout=120) != 0 or _revision(scenario) != HEAD:
            raise AssertionError(
                f"`portalhub migrate` after a migration killed half way did not reach {HEAD}"
            )
    return hit


def _wait(condition: Callable[[], bool], daemon: object, deadline: float) -> bool:
    while time.monotonic() < deadline and daemon.poll() is None:  # type: ignore[attr-defined]
        if condition():
            return True
        time.sleep(0.01)
    return False


def _since(log: object, offset: int) -> str:
    try:
        with open(log, "rb") as handle:  # type: ignore[call-overload]
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _count(scenario: Scenario, sql: str) -> int:
    return scenario._count(sql) or 0


def _ar_rows(scenario: Scenario) -> int:
    db = sqlite3.connect(scenario.root / "ar.db", timeout=30)
    try:
        return int(db.execute("SELECT count(*) FROM ar_portal_status").fetchone()[0])
    finally:
        db.close()


def _revision(scenario: Scenario) -> str | None:
    if not (scenario.root / "hub.db").exists():
        return None
    try:
        db = sqlite3.connect(scenario.root / "hub.db", timeout=1)
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            db.close()
    except sqlite3.Error:  # no table yet (a new store), or the migration holds the lock
        return None
    return row[0] if row else None


def _take_back(scenario: Scenario) -> None:
    """Downgrade an existing SQLite store one revision, so the next daemon has a migration to run."""
    if _revision(scenario) != HEAD:
        return  # a new store (every migration to run), or one a killed daemon left half way
    engine = scenario.store_engine()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, BEFORE_HEAD)
    finally:
        engine.dispose()
