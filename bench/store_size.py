"""Memory and answers on a big store (issue 9, item 5): 100,000 invoices and 1,000,000 events.

    .venv/bin/python -m bench.store_size [--invoices 100000] [--events-per-invoice 10]

The store (SQLite, in a temporary workspace with the reliability harness's config and a Coupa sandbox)
is filled in bulk: 97% of the invoices paid, 3% open problems (rejected, disputed, blocked) with
reasons, ten events each. Then:
- the daemon (`portalhub run`, its own process) runs for 20 s, every job ticking several times
  (ingest, submit, poll, feedback, housekeeping); its peak RSS is read from /proc (VmHWM);
- `portalhub rejections` and `portalhub show` run as commands (wall time, median of 5, including
  interpreter start) and as the functions they call (in-process, median of 5).
Targets: peak RSS <= 200 MB; each command <= 200 ms.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from bench.timing import report
from bench.workspace import hub_in
from hub.model import InvoiceState
from hub.services import rejections, timeline
from hub.store.tables import EventRow, InvoiceRow
from tests.reliability.harness import Scenario

S = InvoiceState
PROBLEMS = [
    (S.REJECTED, "PO number PO-9 was not found for this supplier.", "po"),
    (S.DISPUTED, "Price does not match the contract", "price_quantity"),
    (S.BLOCKED, "[acme-po-format] ACME PO numbers look like PO-123456", "missing_field"),
]
PATH = [S.NEW, S.READY, S.SUBMITTING, S.SUBMITTED, S.PENDING_APPROVAL, S.APPROVED, S.PAID]


def fill(scenario: Scenario, invoices: int, per_invoice: int) -> str:
    """Bulk-load the store; returns the number of an invoice with many events (for `show`)."""
    with hub_in(scenario) as hub:
        now = hub.clock.now()
        rows, events = [], []
        for n in range(1, invoices + 1):
            problem = PROBLEMS[n % 3] if n % 33 == 0 else None
            at = now - timedelta(days=30) + timedelta(seconds=n)
            rows.append(
                {
                    "id": n,
                    "source": "bench",
                    "ar_key": str(n),
                    "invoice_number": f"B-{n:06d}",
                    "customer_id": f"C-{n % 3}",
                    "profile_id": f"buyer{n % 3}-coupa",
                    "purpose": "invoice",
                    "currency": "USD",
                    "total": Decimal("1250.00") + n % 1000,
                    "invoice_date": at.date(),
                    "state": (problem[0] if problem else S.PAID).value,
                    "last_reason": problem[1] if problem else "paid",
                    "last_category": problem[2] if problem else None,
                    "revision": 1,
                    "content_hash": "x",
                    "document": f'{{"invoice_number": "B-{n:06d}"}}',
                    "portal_invoice_id": str(n),
                    "transient_failures": 0,
                    "created_at": at,
                    "updated_at": at,
                    "event_seq": per_invoice,
                }
            )
            for k in range(per_invoice):
                target = PATH[min(k, len(PATH) - 1)]
                events.append(
                    {
                        "invoice_id": n,
                        "at": at + timedelta(minutes=k),
                        "actor": "daemon:bench",
                        "from_state": PATH[k - 1].value if 0 < k < len(PATH) else target.value if k else None,
                        "to_state": target.value,
                        "reason": f"step {k} of invoice {n}",
                        "seq": k + 1,
                        "hash": "0" * 64,
                    }
                )
            if len(events) >= 200_000:
                _write(hub, rows, events)
                rows, events = [], []
        _write(hub, rows, events)
    return "B-000033"


def _write(hub: object, rows: list[dict[str, object]], events: list[dict[str, object]]) -> None:
    with hub.store.engine.begin() as connection:  # type: ignore[attr-defined]
        if rows:
            connection.execute(insert(InvoiceRow), rows)
        if events:
            connection.execute(insert(EventRow), events)


def daemon_peak_rss(scenario: Scenario, seconds: float) -> float:
    daemon = scenario.start_daemon()
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and daemon.poll() is None:
        for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
        time.sleep(0.5)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=60)
    return peak / 1024


def command_ms(scenario: Scenario, *args: str) -> float:
    script = Path(sys.executable).parent / "portalhub"
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(
            [str(script), "-c", str(scenario.config), *args], capture_output=True, cwd=scenario.root
        )
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000


def in_process_ms(scenario: Scenario, number: str) -> tuple[float, float, int]:
    with hub_in(scenario) as hub:
        worklist_runs, show_runs = [], []
        for _ in range(5):
            start = time.perf_counter()
            found = rejections(hub)
            worklist_runs.append(time.perf_counter() - start)
            start = time.perf_counter()
            timeline(hub, number)
            show_runs.append(time.perf_counter() - start)
    return statistics.median(worklist_runs) * 1000, statistics.median(show_runs) * 1000, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--events-per-invoice", type=int, default=10)
    args = parser.parse_args()
    scenario = Scenario(Path(tempfile.mkdtemp(prefix="bench-size-")), invoices=0, buyers=3)
    try:
        start = time.monotonic()
        number = fill(scenario, args.invoices, args.events_per_invoice)
        print(f"store filled in {time.monotonic() - start:.0f} s: {scenario.root / 'hub.db'}")
        rss = daemon_peak_rss(scenario, 20)
        worklist_ms, show_ms, problems = in_process_ms(scenario, number)
        rows = [
            {"what": "daemon peak RSS (MB)", "figure": rss, "target": 200},
            {
                "what": f"rejections, in-process ms ({problems} open problems)",
                "figure": worklist_ms,
                "target": 200,
            },
            {"what": "rejections, command ms", "figure": command_ms(scenario, "rejections"), "target": 200},
            {"what": "show, in-process ms", "figure": show_ms, "target": 200},
            {"what": "show, command ms", "figure": command_ms(scenario, "show", number), "target": 200},
        ]
        for row in rows:
            row["ok"] = "ok" if float(row["figure"]) <= float(row["target"]) else "MISSED"  # type: ignore[arg-type]
        print(f"store: {args.invoices} invoices, {args.invoices * args.events_per_invoice} events")
        report("store_size", rows, ["what", "figure", "target", "ok"])
    finally:
        scenario.close()


if __name__ == "__main__":
    main()
