"""The hub's own overhead on the way to the portals, against the ideal (issue 9, item 2).

    PORTALHUB_CXML_REFS=../shared/refs/cxml .venv/bin/python -m bench.end_to_end [--invoices 2000] [--latency 0.02]

N invoices over three portals (three Coupa buyer instances in one sandbox; each answers after a fixed
latency L; the hub sends one request at a time per portal). The ideal is N x L / 3: the portals never
wait for the hub. Measured three times:
- `daemon, from AR`: the real daemon (`portalhub run` in its own process, SQLite store, AR database,
  pre-flight, attempt committed before each request, outcome recorded after) from the first invoice
  reaching a portal to the last answer; every invoice must end at the portal exactly once;
- `daemon, sending only`: the same with the invoices read from AR and pre-flighted beforehand;
- `bare httpx`: three threads posting the same documents, already rendered, in a loop: the floor of
  Python + HTTP on this machine, with no hub at all.
Then `end_to_end_cpu`: the hub's CPU per invoice in each step of the daemon, on one thread.
Targets (issue 21): from AR <= 1.3x the ideal at L = 20 ms and <= 1.08x at 100 ms; sending only
within 5% of bare httpx at 100 ms; submit <= 2 ms and ingest <= 1.5 ms of CPU per invoice.

The workspace (AR database, rules files, config, the sandbox) is the reliability harness's
(bench/scenario.py), so the benchmark runs exactly what the reliability tests run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import itertools
import os
import pstats
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text

from bench.scenario import SECRET, Scenario, verify
from bench.timing import report, target
from bench.workspace import hub_in
from connectors.base import MASK
from hub.pipeline import submit as submit_module
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from status_sync.feedback import deliver
from status_sync.poller import poll_profile

BUYERS = 3


def daemon_run(
    invoices: int,
    latency: float,
    ingested: bool,
    buyers: int = BUYERS,
    ingest_seconds: float | None = None,
) -> tuple[dict[str, object], list[tuple[int, bytes]]]:
    """The daemon from the AR database to the portals; with `ingested`, the invoices were read from AR
    and passed pre-flight beforehand, so only the sending is measured. `ingest_seconds`: the daemon's
    ingest interval instead of the reliability scenario's 1 s (each ingest reads the whole AR table
    again: with 2,000 ready rows, every second, that is ~40% of the daemon's CPU; bench/README.md)."""
    scenario = Scenario(
        Path(tempfile.mkdtemp(prefix="bench-e2e-")), invoices=invoices, buyers=buyers, latency=latency
    )
    [server] = scenario.portal.servers
    try:
        if ingest_seconds is not None:
            _set_daemon(scenario, ingest_seconds=ingest_seconds)
        if ingested:
            with hub_in(scenario) as hub:
                ingest(hub)
        started = time.monotonic()
        daemon = scenario.start_daemon()
        first = last = None
        cpu_first = cpu_last = None
        while last is None:
            held = len(scenario.sandbox.invoices)
            if first is None and any(k.endswith("/cxml/invoices") for k in server.requests):
                first = time.monotonic()
                cpu_first = _cpu_seconds(daemon.pid)
            if held >= invoices:
                last = time.monotonic() + latency  # the invoice is kept, then the answer waits L
                cpu_last = _cpu_seconds(daemon.pid)
            elif daemon.poll() is not None:
                raise RuntimeError(f"the daemon stopped early; see {scenario.root}/daemon-main.log")
            time.sleep(0.002)
        assert first is not None
        scenario.run_until_settled(timeout=600)  # let it finish recording, then stop it cleanly
        daemon.terminate()
        daemon.wait(timeout=60)
        verdict = verify(scenario)
        assert verdict.duplicates == 0 and verdict.lost == 0, verdict.summary()
        wall = last - first
        ideal = invoices * latency / buyers
        row: dict[str, object] = {
            "run": "daemon, sending only" if ingested else "daemon, from AR",
            "invoices": invoices,
            "latency ms": latency * 1000,
            "wall s": wall,
            "ideal s": ideal,
            "ratio": wall / ideal,
            "startup s": first - started,
            "duplicates": verdict.duplicates,
            "target": "ok" if wall / ideal <= (1.3 if latency <= 0.02 else 1.08) else "MISSED",
        }
        row["hub ms/send"] = _hub_gap_ms(scenario, latency)
        if cpu_first is not None and cpu_last is not None:
            # Every job of the daemon (sends, polls, feedback, ingest ticks) per invoice sent, while it sent.
            row["daemon CPU ms/send"] = (cpu_last - cpu_first) * 1000 / invoices
        return row, _sent_documents(scenario)
    finally:
        scenario.close()


def _cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; None where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _set_daemon(scenario: Scenario, **settings: float) -> None:
    """Change the `daemon:` settings of the scenario's configuration before a daemon starts."""
    config = yaml.safe_load(scenario.config.read_text())
    config["daemon"].update(settings)
    scenario.config.write_text(yaml.safe_dump(config))


def _steps(hub: Hub) -> dict[str, Callable[[], object]]:
    """The daemon's steps in order, each on the invoices the one before left: `stage_cpu` times them,
    `_profile_step` profiles one (by its first word)."""
    return {
        "ingest (AR read + pre-flight)": lambda: ingest(hub),
        "submit (claim, attempt, render, send, outcome)": lambda: [
            submit_profile(hub, p) for p in hub.profiles.values()
        ],
        # The statuses of the invoices just sent, as the daemon's poll applies them (CPU per invoice
        # sent: the portal's listing read and each status matched and moved).
        "poll (statuses applied)": lambda: [poll_profile(hub, p) for p in hub.profiles.values()],
        "feedback (events to AR)": lambda: deliver(hub, rounds=10**6),
    }


def stage_cpu(invoices: int, profile: str | None = None) -> list[dict[str, object]]:
    """CPU per invoice of each step of the daemon (portal latency 0, sandbox CPU not counted): where the
    hub's own time goes. The step's thread is timed, and so are the sends on the wire's thread
    (hub/pipeline/wire.py). `profile`: the step (its first word) to run under cProfile afterwards on a
    fresh batch, printing its top costs (the figures above are taken without it)."""
    scenario = Scenario(Path(tempfile.mkdtemp(prefix="bench-e2e-cpu-")), invoices=invoices, buyers=BUYERS)
    rows: list[dict[str, object]] = []
    try:
        with hub_in(scenario) as hub:
            for step, run in _steps(hub).items():
                with _on_the_wire() as wire:
                    start = time.thread_time()
                    run()
                    cpu = time.thread_time() - start + wire.cpu
                rows.append({"step": step, "CPU ms/invoice": cpu * 1000 / invoices})
    finally:
        scenario.close()
    if profile is not None:
        _profile_step(invoices, profile)
    return rows


class _SendsCost:
    """What the sends on the wire's thread cost: CPU seconds, and their cProfile when asked."""

    def __init__(self, profiler: cProfile.Profile | None):
        self.cpu = 0.0
        self.profiler = profiler
        self.lock = threading.Lock()


@contextlib.contextmanager
def _on_the_wire(profiler: cProfile.Profile | None = None) -> Iterator[_SendsCost]:
    """Time (and profile) every send made on a wire's thread meanwhile: the submitter hands its
    requests to that thread, whose CPU the submitter's own clock does not see."""
    original = submit_module._transmit
    wire = _SendsCost(profiler)

    def timed(*args: Any) -> Any:
        start = time.thread_time()
        if profiler is not None:  # one wire at a time here: the steps submit profile after profile
            profiler.enable()
        try:
            return original(*args)
        finally:
            if profiler is not None:
                profiler.disable()
            with wire.lock:
                wire.cpu += time.thread_time() - start

    submit_module._transmit = timed  # type: ignore[assignment]
    try:
        yield wire
    finally:
        submit_module._transmit = original


def _profile_step(invoices: int, step: str) -> None:
    """Run `step` ("ingest", "submit", "poll" or "feedback") under cProfile on a fresh workspace and
    print the 30 largest cumulative and own costs (CPU seconds of its thread, and of the sends on the
    wire's thread)."""
    scenario = Scenario(Path(tempfile.mkdtemp(prefix="bench-e2e-prof-")), invoices=invoices, buyers=BUYERS)
    profiler = cProfile.Profile(time.thread_time)  # CPU of this thread: the sandbox serves in others
    sends = cProfile.Profile(time.thread_time)
    try:
        with hub_in(scenario) as hub:
            for name, run in _steps(hub).items():  # the steps before it unprofiled, to have its input
                if name.split()[0] == step:
                    with _on_the_wire(sends):
                        profiler.enable()
                        run()
                        profiler.disable()
                    break
                run()
    finally:
        scenario.close()
    stats = pstats.Stats(profiler)
    if sends.getstats():
        stats.add(sends)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(30)


def _hub_gap_ms(scenario: Scenario, latency: float) -> float:
    """Median time from a portal's answer to the hub's next request to that portal, seen from the portal
    (its receipt log: each document's arrival; the answer leaves `latency` after it, plus the sandbox's
    own reading of the document): the hub's turnaround per invoice. The next invoice is claimed while
    the request before it is out (hub/pipeline/wire.py), so what is left is reading the answer and
    starting the next request, and waiting for the interpreter. The hub's attempt rows cannot tell it:
    the next claim is committed before the answer it follows."""
    arrivals: dict[str, list[datetime]] = {}
    for receipt in scenario.portal.receipts():
        arrivals.setdefault(receipt.path, []).append(receipt.at)
    gaps = [
        (b - a).total_seconds() * 1000 - latency * 1000
        for times in arrivals.values()
        for a, b in itertools.pairwise(sorted(times))
    ]
    return statistics.median(gaps)


def _sent_documents(scenario: Scenario) -> list[tuple[int, bytes]]:
    """(buyer, cXML) of every invoice the daemon sent, as stored (secret masked) with the secret put back."""
    engine = scenario.store_engine()
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT profile_id, request_document FROM attempts ORDER BY id")
        ).fetchall()
    engine.dispose()
    return [(int(profile[len("buyer")]), body.replace(MASK, SECRET).encode()) for profile, body in rows]


def bare_httpx(documents: list[tuple[int, bytes]], latency: float) -> dict[str, object]:
    scenario = Scenario(
        Path(tempfile.mkdtemp(prefix="bench-e2e-floor-")), invoices=0, buyers=BUYERS, latency=latency
    )
    try:

        def post_all(buyer: int) -> None:
            with httpx.Client(timeout=30) as client:
                for who, body in documents:
                    if who == buyer:
                        answer = client.post(
                            f"{scenario.url}/b{buyer}/cxml/invoices",
                            content=body,
                            headers={"Content-Type": "text/xml; charset=UTF-8"},
                        )
                        answer.raise_for_status()

        threads = [threading.Thread(target=post_all, args=(b,)) for b in range(BUYERS)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - start
        ideal = len(documents) * latency / BUYERS
        return {
            "run": "bare httpx",
            "invoices": len(documents),
            "latency ms": latency * 1000,
            "wall s": wall,
            "ideal s": ideal,
            "ratio": wall / ideal,
        }
    finally:
        scenario.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.02, help="the portals' round trip in seconds")
    parser.add_argument(
        "--cpu-only", action="store_true", help="only the CPU per invoice of each step (end_to_end_cpu)"
    )
    parser.add_argument(
        "--profile",
        choices=("ingest", "submit", "poll", "feedback"),
        help="with --cpu-only: print the step's top costs (cProfile)",
    )
    parser.add_argument(
        "--ingest-seconds",
        type=float,
        help="the daemon's ingest interval (default: the reliability scenario's 1 s; production's is 60 s)",
    )
    args = parser.parse_args()
    if args.cpu_only:
        cpu = stage_cpu(min(args.invoices, 500), args.profile)
        report("end_to_end_cpu", cpu, ["step", "CPU ms/invoice"])
        per_step = {str(r["step"]).split(" ")[0]: float(r["CPU ms/invoice"]) for r in cpu}  # type: ignore[arg-type]
        target("submit CPU ms per invoice", per_step["submit"], 2.0, unit=" ms")
        return
    from_ar, documents = daemon_run(args.invoices, args.latency, False, ingest_seconds=args.ingest_seconds)
    sending, _ = daemon_run(args.invoices, args.latency, True, ingest_seconds=args.ingest_seconds)
    rows = [from_ar, sending, bare_httpx(documents, args.latency)]
    cpu = stage_cpu(min(args.invoices, 500))
    report("end_to_end_cpu", cpu, ["step", "CPU ms/invoice"])
    report(
        "end_to_end",
        rows,
        [
            "run",
            "invoices",
            "latency ms",
            "wall s",
            "ideal s",
            "ratio",
            "hub ms/send",
            "daemon CPU ms/send",
            "startup s",
            "duplicates",
            "target",
        ],
    )
    # Issue 21's targets, each as measured in this run.
    per_step = {str(r["step"]).split(" ")[0]: float(r["CPU ms/invoice"]) for r in cpu}  # type: ignore[arg-type]
    target("submit CPU ms per invoice", per_step["submit"], 2.0, unit=" ms")
    target("ingest CPU ms per invoice (10 lines, demo rules)", per_step["ingest"], 1.5, unit=" ms")
    target(
        "SQL intake invoices/s/core (AR read + pre-flight + store)",
        1000 / per_step["ingest"],
        500,
        at_least=True,
        unit="/s",
    )
    latency_ms = round(args.latency * 1000)
    limit = 1.3 if latency_ms <= 20 else 1.08
    target(f"end to end from AR at {latency_ms} ms / ideal", float(from_ar["ratio"]), limit)  # type: ignore[arg-type]
    if latency_ms >= 100:
        target(
            f"sending only / bare httpx at {latency_ms} ms (wall)",
            float(sending["wall s"]) / float(rows[2]["wall s"]),  # type: ignore[arg-type]
            1.05,
        )


if __name__ == "__main__":
    main()
