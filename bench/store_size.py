"""Memory and answers on a big store (issue 9, item 5): 100,000 invoices and ~1,000,000 events.

    .venv/bin/python -m bench.store_size [--invoices 100000] [--seconds 30] [--pg URL]

The store (SQLite, made by the hub's migrations) is filled in bulk by bench/big_store.py with the
history a running hub would have written: events (hash-chained), revisions, sends with their cXML,
feedback rows; 5% open problems (rejected, disputed, blocked), the invoices of the last four days
still open at the portal. It is built once a day and kept in bench/results/cache/ (about 2 GB; a
copy is used by each run). Then:

- the daemon (`portalhub -v run`, its own process) runs against it for `--seconds` with everything a
  real one does: the AR database holds 200 new invoices (ingested, pre-flighted, sent to the Coupa
  sandbox), the sandbox holds the open invoices and approves or pays some while it runs (polled and
  fed back to AR), notifications go to a webhook. Every job must tick at least twice (counted in its
  log); its peak RSS is /proc/<pid>/status VmHWM;
- `portalhub rejections` and `portalhub show` (an invoice with ~60 events) run as commands (wall time,
  median of 5, from interpreter start to exit; `rejections --csv` prints the same rows without rich
  tables) and as the functions they call, in this process (median of 5, wall and CPU: CPU moves less
  with the machine's load), also for one customer's worklist; `hub start` is what every command pays
  before its query (interpreter, imports, building the hub), `python start` the bare interpreter.

Targets: peak RSS <= 200 MB; `rejections` and `show` answer in <= 200 ms. With `--pg URL`, the same
store is written to a fresh PostgreSQL database (`<URL's database>_bench_store`, dropped afterwards)
and the in-process answers are measured there too.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

from bench import big_store
from bench.invoices import invoices
from bench.scenario import ROOT, Scenario
from bench.timing import RESULTS, report
from bench.workspace import hub_in
from connectors.base import Envelope
from connectors.sandbox.coupa import PortalInvoice
from connectors.sandbox.server import Reply, SandboxServer
from hub.model import Invoice
from hub.runtime import Hub
from hub.services import rejections, timeline
from hub.store.database import open_store
from mappings.cxml_response import render_response

CACHE = RESULTS / "cache"
SHOW = "B-010001"  # the first invoice with a long history (big_store.LONG_EVERY)
TARGET_RSS_MB = 200
TARGET_MS = 200


def load() -> str:
    return (
        subprocess.run(["uptime"], capture_output=True, text=True).stdout.split("load average:")[-1].strip()
    )


# --- the store -------------------------------------------------------------------------------------------
def templates(hub: Hub) -> big_store.Templates:
    """One real invoice of three lines (bench/invoices.py): its canonical JSON, the cXML the Coupa connector sends for it
    (secrets masked, as attempts keep it) and a Coupa answer."""
    number, customer = "TEMPLATE-NUMBER-0", "C-TEMPLATE"
    invoice = Invoice.model_validate({**invoices(3, 1)[0], "invoice_number": number, "customer_id": customer})
    profile = hub.profile("buyer0-coupa")
    now = hub.clock.now()
    document = hub.preflight_connector(profile).render(
        invoice,
        profile,
        Envelope(payload_id=f"{now.timestamp():.0f}.1@portalhub", timestamp=now, invoice_number=number),
    )
    answer = render_response(
        200, "OK", "1.2@sandbox.coupahost.test", now, detail="Successful - invoice id: 1"
    )
    return big_store.Templates(
        document=invoice.model_dump_json(),
        request=document.redacted(),
        response=answer.decode(),
        fingerprint={pid: p.fingerprint for pid, p in hub.profiles.items()},
        number=number,
        customer=customer,
    )


def cached_store(invoices: int, scenario: Scenario) -> Path:
    """The store file for today (built, or taken from the cache)."""
    today = datetime.now(UTC).date().isoformat()
    path = CACHE / f"store-v{big_store.VERSION}-{invoices}-{today}.db"
    if path.exists():
        open_store(f"sqlite:///{path}").dispose()  # brought to the newest migration once, not per run
        print(f"store: {path} (cached)")
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"store-v*-{invoices}-*.db"):
        old.unlink()
    start = time.monotonic()
    with hub_in(scenario) as hub:
        shapes = templates(hub)
    building = CACHE / f"{path.name}.building"
    building.unlink(missing_ok=True)
    store = open_store(f"sqlite:///{building}")
    try:
        counts = big_store.write(
            store.engine, big_store.Generator(invoices, shapes, datetime.now(UTC)).batches()
        )
    finally:
        store.dispose()
    building.rename(path)
    print(f"store: built in {time.monotonic() - start:.0f} s: {counts}, {path.stat().st_size / 1e9:.2f} GB")
    return path


def prepare(scenario: Scenario, hub: Hub, changing: int) -> int:
    """Make the copied store this workspace's: the profiles' current fingerprints on blocked invoices
    (the sandbox's URL is in the rules files), the poll cursors at now; the sandbox holds the invoices
    open at the portal, `changing` of which are approved or paid while the daemon runs."""
    now = datetime.now(UTC)
    with hub.store.engine.begin() as connection:
        for pid, profile in hub.profiles.items():
            connection.execute(
                text(
                    "UPDATE invoices SET rules_fingerprint = :fp WHERE profile_id = :pid AND state = 'BLOCKED'"
                ),
                {"fp": profile.fingerprint, "pid": pid},
            )
            connection.execute(
                text("INSERT INTO poll_cursors (profile_id, cursor, requests) VALUES (:pid, :cursor, 0)"),
                {"pid": pid, "cursor": (now - timedelta(seconds=1)).isoformat()},
            )
        rows = connection.execute(
            text(
                "SELECT id, invoice_number, profile_id, state, created_at FROM invoices "
                "WHERE state IN ('PENDING_APPROVAL', 'APPROVED')"
            )
        ).fetchall()
    rng = random.Random(9)
    for n, number, pid, state, created in rows:
        created = datetime.fromisoformat(str(created)).replace(tzinfo=UTC)
        timeline = [(created, "pending_approval")]
        if state == "APPROVED":
            timeline.append((created + timedelta(hours=20), "approved"))
        instance = "b" + pid.removeprefix("buyer").split("-")[0]
        scenario.sandbox.invoices.append(
            PortalInvoice(
                n, instance, number, f"{n}@bench", "standard", created, Decimal("1250.00"), "USD", timeline
            )
        )
    for invoice in rng.sample(scenario.sandbox.invoices, min(changing, len(scenario.sandbox.invoices))):
        status = "paid" if invoice.timeline[-1][1] == "approved" else "approved"
        invoice.timeline.append((now + timedelta(seconds=rng.uniform(3, 20)), status))
    return len(rows)


def with_notifications(scenario: Scenario, sink: SandboxServer) -> None:
    config = yaml.safe_load(scenario.config.read_text())
    config["notifications"] = {
        "check_seconds": 2,
        "digest_minutes": 0,
        "webhooks": [
            {"name": "bench", "url": f"{sink.url}/hook", "secret": "secret:hook", "customers": ["*"]}
        ],
    }
    scenario.config.write_text(yaml.safe_dump(config))
    secrets = scenario.root / "secrets.yaml"
    secrets.write_text(yaml.safe_dump({**yaml.safe_load(secrets.read_text()), "hook": "bench-hook-secret"}))


# --- the daemon ------------------------------------------------------------------------------------------
def run_daemon(scenario: Scenario, seconds: float) -> tuple[float, Counter[str]]:
    """Peak RSS (MB) of `portalhub run` over `seconds`, and how often each job started (its log)."""
    log = scenario.root / "daemon.log"
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "cli", "-v", "--config", str(scenario.config), "run"],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        peak = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and daemon.poll() is None:
            peak = max(peak, _hwm(daemon.pid))
            time.sleep(0.25)
        peak = max(peak, _hwm(daemon.pid))
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
    text_ = log.read_text(errors="replace")
    ticks = Counter(re.findall(r'Running job "([^ "]+) \(trigger', text_))
    failed = re.findall(r"job (\S+) failed", text_)
    if failed or daemon.returncode not in (0, -signal.SIGTERM):
        print(f"daemon log {log}: exit {daemon.returncode}, failed jobs {Counter(failed)}")
    return peak / 1024, ticks


def _hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- the answers -----------------------------------------------------------------------------------------
def median_ms(work: Callable[[], object], runs: int = 5) -> float:
    return timed(work, runs)[0]


def timed(work: Callable[[], object], runs: int = 5) -> tuple[float, float]:
    """Median wall and CPU milliseconds of `work` (CPU: this process only, steadier on a busy machine)."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def command_ms(scenario: Scenario, *args: str) -> float:
    script = Path(sys.executable).parent / "portalhub"
    return median_ms(
        lambda: subprocess.run(
            [str(script), "-c", str(scenario.config), *args], capture_output=True, cwd=scenario.root
        )
    )


def start_ms(scenario: Scenario) -> tuple[float, float]:
    """The bare interpreter, and what a command pays before its query (imports, building the hub)."""
    python = median_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], capture_output=True))
    code = (
        "import cli, hub.services\n"
        "from hub.config import load_config\nfrom hub.runtime import build_hub\n"
        f"build_hub(load_config({str(scenario.config)!r})).close()"
    )
    hub = median_ms(lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT))
    return python, hub


def in_process(hub: Hub, backend: str = "") -> list[dict[str, Any]]:
    """The functions `rejections` and `show` call, in this process: median wall and CPU ms of 5."""
    problems = len(rejections(hub))
    mine = len(rejections(hub, customer="C-1"))
    events = len(timeline(hub, SHOW)["events"])
    cases = [
        (f"rejections, in-process{backend} ({problems} open problems)", lambda: rejections(hub)),
        (f"rejections --customer C-1, in-process{backend} ({mine})", lambda: rejections(hub, customer="C-1")),
        (f"show, in-process{backend} ({events} events)", lambda: timeline(hub, SHOW)),
    ]
    rows = []
    for what, work in cases:
        wall, cpu = timed(work)
        rows.append({"what": what, "figure": wall, "cpu ms": cpu, "target": TARGET_MS})
    return rows


def postgres(url: str, invoices: int, scenario: Scenario) -> list[dict[str, Any]]:
    """The same store on PostgreSQL: in-process answers of `rejections` and `show`."""
    base = url.replace("postgresql://", "postgresql+psycopg://")
    name = f"{base.rsplit('/', 1)[1]}_bench_store"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    pg_url = f"{url.rsplit('/', 1)[0]}/{name}"
    start = time.monotonic()
    with hub_in(scenario) as hub:
        shapes = templates(hub)
    store = open_store(pg_url)
    try:
        counts = big_store.write(
            store.engine, big_store.Generator(invoices, shapes, datetime.now(UTC)).batches()
        )
        with store.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    finally:
        store.dispose()
    print(f"postgresql store {name}: built in {time.monotonic() - start:.0f} s: {counts}")
    os.environ["PORTALHUB_STORE_URL"] = pg_url
    try:
        with hub_in(scenario) as hub:
            return in_process(hub, ", PostgreSQL")
    finally:
        del os.environ["PORTALHUB_STORE_URL"]
        with admin.connect() as connection:  # ~3 GB on a server others use too
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30, help="how long the daemon runs")
    parser.add_argument("--new", type=int, default=200, help="new invoices in the AR database")
    parser.add_argument(
        "--pg", metavar="URL", help="also measure on PostgreSQL (a database is made beside URL's)"
    )
    args = parser.parse_args()
    scenario = Scenario(
        Path(tempfile.mkdtemp(prefix="bench-size-")), invoices=args.new, buyers=big_store.PROFILES
    )
    sink = SandboxServer(lambda request: Reply(200, b"ok")).start()
    try:
        cache = cached_store(args.invoices, scenario)
        shutil.copyfile(cache, scenario.root / "hub.db")
        with_notifications(scenario, sink)
        with hub_in(scenario) as hub:
            at_portal = prepare(scenario, hub, changing=300)
        print(
            f"workspace {scenario.root}: {at_portal} invoices open at the portal; daemon runs {args.seconds:.0f} s"
        )
        rss, ticks = run_daemon(scenario, args.seconds)
        received = scenario.sandbox.received
        with hub_in(scenario) as hub:
            answers = in_process(hub)
        python_ms, hub_ms = start_ms(scenario)
        jobs_ok = len(ticks) == 4 + 2 * big_store.PROFILES and min(ticks.values(), default=0) >= 2
        rows: list[dict[str, Any]] = [
            {"what": "daemon peak RSS (MB)", "figure": rss, "target": TARGET_RSS_MB},
            {
                "what": f"jobs ticked (fewest of {len(ticks)} jobs; {received} invoices sent)",
                "figure": min(ticks.values(), default=0),
                "target": ">= 2",
                "ok": "ok" if jobs_ok else "MISSED",
            },
            *answers,
            {
                "what": "rejections, command",
                "figure": command_ms(scenario, "rejections"),
                "target": TARGET_MS,
            },
            {
                "what": "rejections --csv, command (no tables)",
                "figure": command_ms(scenario, "rejections", "--csv"),
            },
            {"what": "show, command", "figure": command_ms(scenario, "show", SHOW), "target": TARGET_MS},
            {"what": "python start (python -c pass)", "figure": python_ms},
            {"what": "hub start (imports + build_hub, every command)", "figure": hub_ms},
        ]
        if args.pg:
            rows += postgres(args.pg, args.invoices, scenario)
        for row in rows:
            if "ok" not in row and isinstance(row.get("target"), int):
                row["ok"] = "ok" if float(row["figure"]) <= row["target"] else "MISSED"
        rows.append({"what": "load average (1, 5, 15 min)", "figure": load()})
        print(f"jobs: {dict(ticks)}")
        report("store_size", rows, ["what", "figure", "cpu ms", "target", "ok"])
    finally:
        sink.stop()
        scenario.close()
        shutil.rmtree(scenario.root, ignore_errors=True)


if __name__ == "__main__":
    main()
