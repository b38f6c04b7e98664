"""How long the CLI takes to start (issue 9, item 6): `portalhub --help`, target <= 300 ms.

    .venv/bin/python -m bench.cli_start

Wall time of the installed console script as a subprocess (median and max of 10 runs), and the ten
slowest imports `python -X importtime` reports for the same command: the commands import what they
need inside their own bodies, so `--help` pays for Typer and rich only.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.timing import report

SCRIPT = Path(sys.executable).parent / "portalhub"
RUNS = 10


def main() -> None:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([str(SCRIPT), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    median, worst = statistics.median(times), max(times)
    report(
        "cli_start",
        [
            {
                "command": "portalhub --help",
                "median ms": median * 1000,
                "max ms": worst * 1000,
                "target": "ok" if median <= 0.3 else "MISSED",
            }
        ],
        ["command", "median ms", "max ms", "target"],
    )
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
    rows = []
    for line in traced.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(3)) <= 3:  # imports of the first two levels, with what they pull in
            rows.append({"module": match.group(4), "cumulative ms": int(match.group(2)) / 1000})
    rows.sort(key=lambda r: -float(r["cumulative ms"]))
    report("cli_start_imports", rows[:10], ["module", "cumulative ms"])


if __name__ == "__main__":
    main()
