"""How long the CLI takes to answer, measured whole (process start to exit).

    .venv/bin/python -m bench.cli_start [--workspace DIR] [--big] [--runs N]

Targets (issue 18, item 8): `portalhub --help` <= 150 ms; `status`, `show`, `rejections` <= 200 ms on the
demo store and <= 300 ms on a store of 100,000 invoices / 1,000,000 events (`--big`: the store
bench/store_size.py builds and caches for the day, bench/big_store.py; building it takes minutes). The
demo workspace (hub/demo: `prepare` + `run_until_settled`) is made in a temporary folder, or taken from
`--workspace DIR` (made there when empty, kept). Each figure is printed with OK or MISSED.

Wall time of the installed console script as a subprocess (median and max of 10 runs, after one
warm-up run), beside what it cannot go below: the bare interpreter (`python -c pass`, the venv's site
and .pth files included), importing Typer, and what any command needs before it runs (the CLI module:
Typer and the command groups). The project's bytecode is compiled first, as an installed package's
is: where PYTHONDONTWRITEBYTECODE is set (CI machines), every run would otherwise compile the hub's
modules again. The help is plain text in sections per kind of user (hub/commands/context.py `Group`):
Typer's boxed help imports rich's Markdown and traceback renderers, ~60 ms more per help page. The
read-only commands read the store through its database driver (hub/store_reader.py), the rules folder
and settings from their kept answers and the worklist from its kept rows (hub/readonly/kept.py,
kept_rows.py), and print plain text (hub/text_table.py, hub/commands/output.py `page`, `line`):
importing SQLModel is shown for comparison only. A sub-app's help
(`rules --help`) also runs the top-level callback: shown, without a target of its own. Then the ten
slowest imports `python -X importtime` reports for `--help`. The machine's load average is printed
with the figures (wall times on a shared 2-core machine move with it; the CPU column much less).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.timing import report

SCRIPT = Path(sys.executable).parent / "portalhub"
ROOT = Path(__file__).resolve().parents[1]
#: The project's code a command may import (compiled to bytecode before the runs).
PACKAGES = ("cli.py", "hub", "connectors", "mappings", "rules", "status_sync")
RUNS = 10
TARGET_MS = 150  # --help
DEMO_TARGET_MS = 200
BIG_TARGET_MS = 300
DEMO_SHOW = "INV-24016"
CPU_MS: dict[str, float] = {}


def wall_ms(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float]:
    """Median and max wall time of `command` over RUNS runs (one warm-up run first). Exit codes 0 and 1
    both answer (1: something to fix); anything else is a failure. The median CPU time (user + system)
    of the runs is kept in CPU_MS: on a loaded machine it moves far less than the wall time."""
    times, cpu = [], []
    for n in range(RUNS + 1):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
        if n:
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
    CPU_MS[" ".join(command)] = statistics.median(cpu) * 1000
    return statistics.median(times) * 1000, max(times) * 1000


def load() -> str:
    return os.popen("uptime").read().split("load average:")[-1].strip()


def demo_workspace(folder: Path | None) -> Path:
    """The demo workspace's configuration: in `folder` when it has one, else made (settled) there."""
    from hub.demo import prepare, run_until_settled

    root = folder or Path(tempfile.mkdtemp(prefix="bench-cli-"))
    if (root / "portalhub.yaml").exists() and (root / "portalhub.db").exists():
        return root / "portalhub.yaml"
    root.mkdir(parents=True, exist_ok=True)
    workspace = prepare(root.resolve())
    try:
        run_until_settled(workspace)
    finally:
        workspace.close()
    return workspace.config_path


def big_config(demo_config: Path, invoices: int, existing: Path | None) -> tuple[Path, str]:
    """A configuration beside the demo's whose store is the big one: `existing` (a store file
    bench/store_size.py made), else today's from its cache (built when missing)."""
    from bench import big_store
    from bench.scenario import Scenario
    from bench.store_size import SHOW, cached_store

    if existing is not None:
        store = existing.resolve()
    else:
        scenario = Scenario(
            Path(tempfile.mkdtemp(prefix="bench-cli-big-")), invoices=1, buyers=big_store.PROFILES
        )
        store = cached_store(invoices, scenario)
    config = yaml.safe_load(demo_config.read_text())
    config["store_url"] = f"sqlite:///{store}"
    path = demo_config.with_name("portalhub-big.yaml")
    path.write_text(yaml.safe_dump(config))
    return path, SHOW


def commands(config: Path, show: str, target: float, label: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for args in (["status"], ["show", show], ["rejections"]):
        median, worst = wall_ms([str(SCRIPT), "-c", str(config), *args], cwd=config.parent)
        rows.append(
            {
                "command": f"portalhub {' '.join(args)} ({label})",
                "median ms": median,
                "max ms": worst,
                "cpu ms": CPU_MS[" ".join([str(SCRIPT), "-c", str(config), *args])],
                "target": f"{'OK' if median <= target else 'MISSED'} (<= {target:.0f})",
            }
        )
    return rows


def main() -> None:
    global RUNS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, help="the demo workspace to use (made there if empty)")
    parser.add_argument("--big", action="store_true", help="also on the 100k-invoice store (slow to build)")
    parser.add_argument("--invoices", type=int, default=100_000, help="invoices in the big store")
    parser.add_argument(
        "--big-store", type=Path, help="with --big: this store file (bench/results/cache/store-*.db) as it is"
    )
    parser.add_argument("--runs", type=int, default=RUNS)
    options = parser.parse_args()
    RUNS = options.runs
    cases = [
        ("portalhub --help", [str(SCRIPT), "--help"], None, True),
        ("portalhub rules --help", [str(SCRIPT), "rules", "--help"], None, False),
        ("python -c pass (floor)", [sys.executable, "-c", "pass"], None, False),
        ("python -c 'import typer'", [sys.executable, "-c", "import typer"], None, False),
        (
            # What every command pays before it runs: the CLI module (Typer and the command groups).
            "python -c 'import cli' (a command's floor)",
            [sys.executable, "-c", "import cli"],
            None,
            False,
        ),
        (
            # The ORM: no longer imported by the read-only commands (hub/store_reader.py).
            "python -c 'import sqlmodel' (the ORM, for comparison)",
            [sys.executable, "-c", "import sqlmodel, sqlalchemy.orm"],
            None,
            False,
        ),
    ]
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *(str(ROOT / name) for name in PACKAGES)], check=False
    )
    if compiled.returncode:
        raise SystemExit("compileall failed: the project's modules do not compile")
    demo = demo_workspace(options.workspace)
    big = big_config(demo, options.invoices, options.big_store) if options.big else None
    rows: list[dict[str, object]] = []
    before = load()
    for name, command, env, targeted in cases:
        median, worst = wall_ms(command, env)
        rows.append(
            {
                "command": name,
                "median ms": median,
                "max ms": worst,
                "cpu ms": CPU_MS[" ".join(command)],
                "target": f"{'OK' if median <= TARGET_MS else 'MISSED'} (<= {TARGET_MS})" if targeted else "",
            }
        )
    rows += commands(demo, DEMO_SHOW, DEMO_TARGET_MS, "demo store")
    if big is not None:
        rows += commands(big[0], big[1], BIG_TARGET_MS, f"{options.invoices:,}-invoice store")
    print(f"load average (1, 5, 15 min): before {before}, after {load()}")
    report("cli_start", rows, ["command", "median ms", "max ms", "cpu ms", "target"])
    traced = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import sys; sys.argv=['portalhub','--help']; import cli; cli.main()",
        ],
        capture_output=True,
        text=True,
    )
    imports = []
    for line in traced.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(3)) <= 3:  # imports of the first two levels, with what they pull in
            imports.append({"module": match.group(4), "cumulative ms": int(match.group(2)) / 1000})
    imports.sort(key=lambda r: -float(r["cumulative ms"]))
    report("cli_start_imports", imports[:10], ["module", "cumulative ms"])


if __name__ == "__main__":
    main()
