"""How long the CLI takes to start (issue 9, item 6): `portalhub --help`, target <= 300 ms.

    .venv/bin/python -m bench.cli_start

Wall time of the installed console script as a subprocess (median and max of 10 runs), beside what
it cannot go below: the bare interpreter (`python -c pass`, the venv's site and .pth files included)
and importing Typer and rich, which the help needs. `TYPER_USE_RICH=0` (Typer's plain help, no
panels) is shown for comparison only: the target is on the help as users get it. A sub-app's help
(`rules --help`) also runs the top-level callback, which imports the log redaction (hub.secrets,
connectors.base, pydantic): shown, without a target of its own. Then the ten slowest imports
`python -X importtime` reports for `--help`: the commands import what they need inside their own
bodies, so `--help` pays for Typer and rich only. The machine's load average is printed with the
figures (wall times on a shared 2-core machine move with it).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.timing import report

SCRIPT = Path(sys.executable).parent / "portalhub"
RUNS = 10
TARGET_MS = 300


def wall_ms(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median and max wall time of `command` over RUNS runs (one warm-up run first)."""
    times = []
    for n in range(RUNS + 1):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, **(env or {})})
        if n:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, max(times) * 1000


def load() -> str:
    return os.popen("uptime").read().split("load average:")[-1].strip()


def main() -> None:
    cases = [
        ("portalhub --help", [str(SCRIPT), "--help"], None, True),
        ("portalhub rules --help", [str(SCRIPT), "rules", "--help"], None, False),
        ("python -c pass (floor)", [sys.executable, "-c", "pass"], None, False),
        (
            "python -c 'import typer, rich'",
            [sys.executable, "-c", "import typer, rich.console, rich.table"],
            None,
            False,
        ),
        ("portalhub --help, TYPER_USE_RICH=0", [str(SCRIPT), "--help"], {"TYPER_USE_RICH": "0"}, False),
    ]
    rows = []
    before = load()
    for name, command, env, targeted in cases:
        median, worst = wall_ms(command, env)
        rows.append(
            {
                "command": name,
                "median ms": median,
                "max ms": worst,
                "target": ("ok" if median <= TARGET_MS else "MISSED") if targeted else "",
            }
        )
    print(f"load average (1, 5, 15 min): before {before}, after {load()}")
    report("cli_start", rows, ["command", "median ms", "max ms", "target"])
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
