"""Audit anchors on a big store: what a checkpoint costs and what `audit verify --anchors` costs.

    .venv/bin/python -m bench.audit_anchors [--invoices 20000]

The store is bench/big_store.py's (the history a running hub writes, hash-chained; cached for the day by
bench/store_size.py). Measured on a copy: a full checkpoint (every chain head) and a delta one after
100 invoices gained an event (wall time, bytes appended to the anchors file), `audit verify` (the chains
alone) and the anchors check of `audit verify --anchors` (wall time).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.scenario import Scenario
from bench.store_size import cached_store
from bench.timing import report
from hub import audit
from hub.audit_anchors import checkpoint, verify_anchors
from hub.store.database import open_store

KEY = b"bench-key-" + b"0" * 32


def _timed(work: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = work()
    return result, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-anchors-") as folder:
        root = Path(folder)
        scenario = Scenario(root / "workspace", invoices=0)
        copy = root / "hub.db"
        shutil.copyfile(cached_store(args.invoices, scenario), copy)
        store = open_store(f"sqlite:///{copy}")
        anchors = root / "anchors.jsonl"
        rows: list[dict[str, Any]] = []
        try:
            now = datetime.now(UTC)
            with store.session() as session:
                full, ms = _timed(lambda: checkpoint(session, KEY, anchors, now))
            rows.append(
                {
                    "step": "checkpoint (full)",
                    "ms": ms,
                    "heads": len(full["heads"]),
                    "bytes": anchors.stat().st_size,
                }
            )
            with store.engine.begin() as connection:  # 100 invoices move on, as the hub would record it
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
                connection.execute(
                    text(
                        "INSERT INTO events (invoice_id, at, actor, to_state, seq) SELECT id, :t, 'bench', state, "
                        "event_seq + 1 FROM invoices ORDER BY id DESC LIMIT 100"
                    ),
                    {"t": now.replace(tzinfo=None)},
                )
            size = anchors.stat().st_size
            with store.session() as session:
                delta, ms = _timed(lambda: checkpoint(session, KEY, anchors, now))
            rows.append(
                {
                    "step": "checkpoint (delta)",
                    "ms": ms,
                    "heads": len(delta["heads"]),
                    "bytes": anchors.stat().st_size - size,
                }
            )
            with store.session() as session:
                chains, ms = _timed(lambda: audit.verify(session))
            rows.append({"step": "audit verify (chains)", "ms": ms, "events": chains.events})
            with store.session() as session:
                checked, ms = _timed(lambda: verify_anchors(session, KEY, anchors, now))
            rows.append({"step": "anchors check", "ms": ms, "heads": checked.heads, "events": full["events"]})
        finally:
            store.dispose()
    report("audit_anchors", rows, ["step", "ms", "heads", "events", "bytes"])


if __name__ == "__main__":
    main()
