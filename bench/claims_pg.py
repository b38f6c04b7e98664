"""Claims per second on the real PostgreSQL with 1, 2 and 4 workers, and zero double claims (issue 9, item 4).

    .venv/bin/python -m bench.claims_pg [--invoices 6000] [--seconds 10]

A fresh database (PORTALHUB_BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/test names the
server; the benchmark creates and drops its own database) holds READY invoices over four profiles.
Each worker is its own process and does what `hub.pipeline.submit._prepare` does for every send,
without the request: claim the oldest due invoice (`SELECT ... FOR UPDATE SKIP LOCKED` + lease), add
its attempt row and move it to SUBMITTING (event + audit chain + outbox row), commit. All workers take
from all four profiles, so they compete for the same rows (in the daemon, one worker holds a
profile's submit lease at a time: this is the harder case). Double claims are counted from the
database afterwards: invoices with more than one attempt.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from sqlalchemy import func, insert, select

from bench.timing import report
from hub.lifecycle import move
from hub.model import InvoiceState
from hub.store import work
from hub.store.database import Store, normalise_url
from hub.store.tables import AttemptRow, InvoiceRow

SERVER = os.environ.get("PORTALHUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROFILES = [f"profile-{n}" for n in range(4)]
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def seed(store: Store, invoices: int) -> None:
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
            "invoice_date": NOW.date(),
            "state": InvoiceState.READY.value,
            "revision": 1,
            "content_hash": "x",
            "document": "{}",
            "transient_failures": 0,
            "created_at": NOW,
            "updated_at": NOW,
            "event_seq": 0,
        }
        for n in range(invoices)
    ]
    with store.engine.begin() as connection:
        connection.execute(insert(InvoiceRow), rows)


def worker(url: str, name: str, seconds: float, start_at: float, claimed: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = Store(url)
    count = 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.monotonic() + seconds
    profile = int(name[1:]) % len(PROFILES)  # workers start on different profiles
    while time.monotonic() < deadline:
        with store.session() as session:
            row = None
            for _ in PROFILES:  # the next profile with work, starting where this worker left off
                profile = (profile + 1) % len(PROFILES)
                row = work.claim_due(
                    session, PROFILES[profile], InvoiceState.READY, name, NOW, 60, "postgresql"
                )
                if row is not None:
                    break
            if row is None:
                break
            attempt = AttemptRow(
                invoice_id=row.id,  # type: ignore[arg-type]
                revision=row.revision,
                payload_id=f"{uuid.uuid4()}@bench",
                profile_id=row.profile_id or "",
                connector="bench",
                portal_invoice_number=row.invoice_number,
                worker_id=name,
                started_at=NOW,
                request_document="",
            )
            session.add(attempt)
            session.flush()
            move(
                session, row, InvoiceState.SUBMITTING, actor=f"daemon:{name}", now=NOW, attempt_id=attempt.id
            )
        count += 1
    store.dispose()
    claimed.put((name, count))


def run(workers: int, invoices: int, seconds: float) -> dict[str, object]:
    name = f"portalhub_bench_{uuid.uuid4().hex[:10]}"
    admin = SERVER.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = normalise_url(f"{admin.rsplit('/', 1)[0]}/{name}")
    try:
        store = Store(url)
        store.migrate()
        seed(store, invoices)
        context = multiprocessing.get_context("spawn")
        claimed = context.Queue()
        start_at = time.time() + 3  # every process imported and connected before the clock starts
        processes = [
            context.Process(target=worker, args=(url, f"w{n}", seconds, start_at, claimed))
            for n in range(workers)
        ]
        for process in processes:
            process.start()
        counts = dict(claimed.get(timeout=seconds + 120) for _ in processes)
        elapsed = time.time() - start_at
        for process in processes:
            process.join()
        with store.engine.connect() as connection:
            per_invoice = (
                select(AttemptRow.invoice_id, func.count().label("n"))
                .group_by(AttemptRow.invoice_id)
                .subquery()
            )
            doubles = connection.execute(select(func.count()).where(per_invoice.c.n > 1)).scalar_one()
            attempts = connection.execute(select(func.count()).select_from(AttemptRow)).scalar_one()
        store.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    total = sum(counts.values())
    return {
        "workers": workers,
        "claims": total,
        "seconds": min(elapsed, seconds),
        "claims/s": total / min(elapsed, seconds),
        "per worker": f"{min(counts.values())}-{max(counts.values())}",
        "attempts in db": attempts,
        "double claims": doubles,
        "ok": "ok" if doubles == 0 and attempts == total else "MISSED",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=6000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    rows = [run(workers, args.invoices, args.seconds) for workers in (1, 2, 4)]
    base = float(rows[0]["claims/s"])  # type: ignore[arg-type]
    for row in rows:
        row["vs 1 worker"] = float(row["claims/s"]) / base  # type: ignore[arg-type]
    print(f"cores: {os.cpu_count()}; PostgreSQL on the same machine")
    report("claims_pg", rows, [*rows[0]])


if __name__ == "__main__":
    main()
