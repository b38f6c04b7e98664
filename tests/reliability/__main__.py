"""The long reliability run (`make reliability`): the figures for the issue, reproducible.

    python -m tests.reliability [--kills 50] [--invoices 1000] [--pg-invoices 5000] [--only kill|faults|daemons]

1. kill -9 of the daemon at random instants while it submits (SQLite store), then a clean run to the end;
2. the sandbox's fault mix (10% 5xx, 5% timeouts after the body was read, 2% dropped connections, 3% 429
   with Retry-After, 2% malformed replies);
3. four daemons on the real PostgreSQL sharing the invoices.
Each prints its verdict: invoices, at the portal, duplicates (must be 0), lost (must be 0), faults.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from tests.reliability.harness import FAULT_MIX, Scenario, verify

PG = "postgresql://postgres@127.0.0.1:5432/test"


def kill(invoices: int, kills: int) -> dict[str, object]:
    scenario = Scenario(Path(tempfile.mkdtemp(prefix="rel-kill-")), invoices=invoices)
    try:
        start = time.monotonic()
        # Kills within 0.4 s of the daemon's first new send: ~20 invoices per life, so 1,000 invoices
        # outlast 50 kills (with 1.5 s, they were all sent after ~20 kills).
        done = scenario.kill_loop(kills, random.Random(2026), high=0.4)
        scenario.run_until_settled(timeout=3600)
        verdict = verify(scenario)
        return {
            "scenario": "kill -9",
            "kills": done,
            "seconds": round(time.monotonic() - start),
            "ok": verdict.ok and done >= kills,
            "verdict": verdict.summary(),
        }
    finally:
        scenario.close()


def faults(invoices: int) -> dict[str, object]:
    scenario = Scenario(
        Path(tempfile.mkdtemp(prefix="rel-faults-")),
        invoices=invoices,
        fault_rates=FAULT_MIX,
        timeout_seconds=1.0,
    )
    try:
        start = time.monotonic()
        scenario.run_until_settled(timeout=3600)
        verdict = verify(scenario)
        return {
            "scenario": "faults",
            "seconds": round(time.monotonic() - start),
            "ok": verdict.ok,
            "verdict": verdict.summary(),
        }
    finally:
        scenario.close()


def daemons(invoices: int) -> dict[str, object]:
    name = f"portalhub_rel_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    scenario = Scenario(
        Path(tempfile.mkdtemp(prefix="rel-pg-")),
        invoices=invoices,
        buyers=8,
        store_url=f"{PG.rsplit('/', 1)[0]}/{name}",
    )
    try:
        start = time.monotonic()
        workers = scenario.run_until_settled(daemons=4, timeout=3600)
        verdict = verify(scenario)
        spread = set(verdict.attempts_by_worker) == set(workers)
        return {
            "scenario": "4 daemons on PostgreSQL",
            "seconds": round(time.monotonic() - start),
            "ok": verdict.ok and spread,
            "verdict": verdict.summary(),
        }
    finally:
        scenario.close()
        with psycopg.connect(PG, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--pg-invoices", type=int, default=5000)
    parser.add_argument("--only", choices=["kill", "faults", "daemons"])
    args = parser.parse_args()
    runs = {
        "kill": lambda: kill(args.invoices, args.kills),
        "faults": lambda: faults(args.invoices),
        "daemons": lambda: daemons(args.pg_invoices),
    }
    results = []
    for name, run in runs.items():
        if args.only and name != args.only:
            continue
        result = run()
        results.append(result)
        print(json.dumps(result), flush=True)
    out = Path(__file__).resolve().parents[2] / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
