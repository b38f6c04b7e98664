"""Claims per second on the real PostgreSQL with 1, 2 and 4 workers, and zero double claims (issue 9, item 4).

    .venv/bin/python -m bench.claims_pg [--invoices 20000] [--history 20000] [--seconds 10] [--workers 1 2 4]

For each worker count, a database of its own on the server named by PORTALHUB_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/test; the benchmark creates `portalhub_bench_<random>`, migrates it
to head the way the hub does, and drops it afterwards, so it never meets the test suite's database)
holds `--invoices` READY invoices (a 10-line canonical document each) over four profiles, after
`--history` older invoices already paid: a store that has been running, where a claim that walked
the invoices in id order would pass every one sent before.

Each worker is its own process (spawn) and claims as reconciliation does (the send path now reads the
invoice and claims it with a guarded UPDATE, `work.update_guarded`; tests/store checks both), without
rendering or the request: claim the oldest due invoice through `work.claim_due`
(`SELECT ... FOR UPDATE SKIP LOCKED` + lease), add its attempt row, move it to SUBMITTING with
`hub.lifecycle.move` (event + audit chain + outbox row), commit. Each worker goes round the four
profiles one claim at a time, starting at a different one; as their speeds drift they meet on the same
profile, where SKIP LOCKED sends the later one to the next row (in the daemon, one worker holds a
profile's submit lease at a time: this is the harder case). They start together once every one is
connected and stop when nothing is left or the time budget has passed. "worker CPU ms" and "server
CPU ms" are CPU per claim of the worker processes and of their PostgreSQL backends (read from /proc:
the server must be on this machine, else blank).

Everything checked is counted in the database afterwards, not taken from the workers: claims (attempt
rows) per worker, invoices with more than one attempt (double claims), invoices whose attempt, event
and lease do not name one and the same worker, and that the sum agrees with what the workers report.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.synchronize import Event
from pathlib import Path
from queue import Empty
from typing import Any

import psycopg
from sqlalchemy import insert, text

from bench.invoices import invoices
from bench.timing import report
from hub.lifecycle import move
from hub.model import Invoice, InvoiceState
from hub.store import work
from hub.store.database import Store, normalise_url
from hub.store.tables import AttemptRow, InvoiceRow

SERVER = os.environ.get("PORTALHUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROFILES = [f"profile-{n}" for n in range(4)]
LEASE_SECONDS = 300.0


def seed(store: Store, count: int, history: int) -> None:
    """`history` invoices already paid (the older ids), then `count` READY ones never tried, round-robin
    over the profiles; bulk INSERTs of 5,000 rows."""
    document = Invoice.model_validate(invoices(10, 1)[0]).model_dump_json()
    now = datetime.now(UTC)
    rows = [
        {
            "source": "bench",
            "ar_key": f"B-{n}",
            "invoice_number": f"B-{n:06d}",
            "customer_id": "C-1",
            "profile_id": PROFILES[n % len(PROFILES)],
            "purpose": "invoice",
            "currency": "USD",
            "total": Decimal("125.00"),
            "invoice_date": now.date(),
            "state": (InvoiceState.PAID if n < history else InvoiceState.READY).value,
            "revision": 1,
            "content_hash": "x",
            "document": "{}" if n < history else document,  # paid ones are never read here
            "transient_failures": 0,
            "created_at": now,
            "updated_at": now,
            "event_seq": 0,
        }
        for n in range(history + count)
    ]
    with store.engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(InvoiceRow), rows[start : start + 5000])
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # The statistics autovacuum would have on a store that has been running; without them the
        # planner's choice depends on when autovacuum happens to wake up during the run.
        connection.execute(text("VACUUM ANALYZE invoices"))


def claim_one(store: Store, name: str, first: int) -> bool:
    """One claim with `work.claim_due` (no render, no request): claim, attempt row, SUBMITTING, commit."""
    now = datetime.now(UTC)
    with store.session() as session:
        row = None
        for n in range(len(PROFILES)):  # the first profile with work, starting at `first`
            profile = PROFILES[(first + n) % len(PROFILES)]
            row = work.claim_due(session, profile, InvoiceState.READY, name, now, LEASE_SECONDS, "postgresql")
            if row is not None:
                break
        if row is None:
            return False
        attempt = AttemptRow(
            invoice_id=row.id,  # type: ignore[arg-type]
            revision=row.revision,
            payload_id=f"{uuid.uuid4()}@bench",
            profile_id=row.profile_id or "",
            connector="bench",
            portal_invoice_number=row.portal_invoice_number or row.invoice_number,
            worker_id=name,
            started_at=now,
            request_document="",
        )
        session.add(attempt)
        session.flush()
        move(
            session,
            row,
            InvoiceState.SUBMITTING,
            actor=f"daemon:{name}",
            now=now,
            reason=f"sending to {row.profile_id} as payloadID {attempt.payload_id}",
            attempt_id=attempt.id,
        )
    return True


def _server_cpu(pid: int) -> float | None:
    """CPU seconds of a PostgreSQL backend process, when the server runs on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def worker(url: str, name: str, index: int, seconds: float, ready: Any, go: Event, results: Any) -> None:
    store = Store(url, pool_size=1)
    with store.engine.connect() as connection:  # connected (and imports done) before the clock starts
        backend = int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
    ready.put(name)
    go.wait()
    start, cpu, server = time.time(), time.process_time(), _server_cpu(backend)
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline and claim_one(store, name, index + count):
        count += 1  # the next claim starts at the next profile: every worker goes round all four
    end, cpu, after = time.time(), time.process_time() - cpu, _server_cpu(backend)
    server = after - server if after is not None and server is not None else None
    results.put((name, count, start, end, cpu, server))
    store.dispose()


def check(store: Store) -> dict[str, Any]:
    """What the database says happened: claims per worker and every way a double claim would show."""
    with store.engine.connect() as connection:

        def scalar(sql: str) -> int:
            return int(connection.execute(text(sql)).scalar_one())

        per_worker = connection.execute(text("SELECT worker_id, count(*) FROM attempts GROUP BY worker_id"))
        return {
            "attempts": scalar("SELECT count(*) FROM attempts"),
            "per_worker": {str(name): int(n) for name, n in per_worker.all()},
            # the same invoice claimed twice: two attempts, or two moves to SUBMITTING
            "doubles": scalar(
                "SELECT count(*) FROM (SELECT invoice_id FROM attempts GROUP BY invoice_id"
                " HAVING count(*) > 1) AS d"
            )
            + scalar(
                "SELECT count(*) FROM (SELECT invoice_id FROM events WHERE to_state = 'SUBMITTING'"
                " GROUP BY invoice_id HAVING count(*) > 1) AS d"
            ),
            # claimed invoices whose lease, attempt and event do not name exactly one worker
            "mismatched": scalar(
                "SELECT count(*) FROM invoices i JOIN attempts a ON a.invoice_id = i.id"
                " JOIN events e ON e.attempt_id = a.id"
                " WHERE i.state <> 'SUBMITTING' OR i.lease_owner IS DISTINCT FROM a.worker_id"
                " OR e.actor <> 'daemon:' || a.worker_id"
            )
            + abs(
                scalar("SELECT count(*) FROM invoices WHERE state = 'SUBMITTING'")
                - scalar("SELECT count(*) FROM attempts")
            ),
        }


def _get(queue: Any, processes: list[Any], seconds: float) -> Any:
    """The next message from the workers; fails as soon as one of them has died instead of waiting."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return queue.get(timeout=0.2)
        except Empty:
            dead = [p.name for p in processes if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for process in processes:
                    process.kill()
                raise RuntimeError(
                    f"workers failed: {dead or 'timed out'} (see their tracebacks above)"
                ) from None


def run(workers: int, count: int, history: int, seconds: float) -> dict[str, Any]:
    name = f"portalhub_bench_{uuid.uuid4().hex[:10]}"
    admin = SERVER.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = normalise_url(f"{admin.rsplit('/', 1)[0]}/{name}")
    context = multiprocessing.get_context("spawn")
    load = os.getloadavg()[0]
    try:
        store = Store(url)
        store.migrate()  # Alembic upgrade to head, as every daemon does at start
        seed(store, count, history)
        ready, results, go = context.Queue(), context.Queue(), context.Event()
        processes = [
            context.Process(target=worker, args=(url, f"w{n}", n, seconds, ready, go, results))
            for n in range(workers)
        ]
        for process in processes:
            process.start()
        for _ in processes:
            _get(ready, processes, 120)
        start = time.time()
        go.set()
        reported = [_get(results, processes, seconds + 120) for _ in processes]
        for process in processes:
            process.join(timeout=60)
        elapsed = max(done[3] for done in reported) - start
        found = check(store)
        store.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    claims = found["attempts"]
    per_worker = [found["per_worker"].get(done[0], 0) for done in reported]
    per_rate = [n / (done[3] - done[2]) for n, done in zip(per_worker, reported, strict=True)]
    # what the workers say they did against what the database holds (0 unless a commit was lost)
    mismatched = found["mismatched"] + abs(claims - sum(done[1] for done in reported))
    server = [done[5] for done in reported]
    ok = found["doubles"] == 0 and mismatched == 0 and min(per_worker) > 0
    return {
        "workers": workers,
        "claims": claims,
        "seconds": elapsed,
        "claims/s": claims / elapsed,
        "per worker": f"{min(per_worker)}-{max(per_worker)}",
        "per worker /s": f"{min(per_rate):.0f}-{max(per_rate):.0f}",
        # CPU per claim: the worker process (Python, SQLAlchemy, psycopg) and its PostgreSQL backend
        "worker CPU ms": 1000 * sum(done[4] for done in reported) / max(claims, 1),
        "server CPU ms": None if None in server else 1000 * sum(server) / max(claims, 1),
        "double claims": found["doubles"],
        "mismatched": mismatched,
        "ok": "ok" if ok else "MISSED",
        "load average": load,  # in the JSON only: the machine is shared
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=20_000, help="invoices already paid, older than those")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    rows = [run(workers, args.invoices, args.history, args.seconds) for workers in args.workers]
    base = next((row for row in rows if row["workers"] == 1), rows[0])
    scaling = f"vs {base['workers']} worker"
    for row in rows:
        row[scaling] = row["claims/s"] / base["claims/s"]
    print(f"cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.2f}; PostgreSQL on the same machine")
    columns = ["workers", "claims", "seconds", "claims/s", scaling, "per worker", "per worker /s"]
    columns += ["worker CPU ms", "server CPU ms", "double claims", "mismatched", "ok"]
    report("claims_pg", rows, columns)


if __name__ == "__main__":
    main()
