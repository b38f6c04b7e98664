"""Small helpers shared by the benchmarks: timing loops and the results table."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def rate(work: Callable[[Any], object], items: Sequence[Any], min_seconds: float = 1.5) -> float:
    """Items per CPU second for `work` on one core, repeated over `items` for `min_seconds` of CPU.

    CPU time of this process, not wall time: "per second per core" is what the targets mean, and other
    processes on the machine (tests, editors) then do not move the figures."""
    for item in items[: max(1, len(items) // 10)]:  # warm caches: compiled rules, lxml, pydantic
        work(item)
    done = 0
    start = time.process_time()
    while True:
        for item in items:
            work(item)
        done += len(items)
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return done / elapsed


def machine() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or "?",
        "system": f"{platform.system()} {platform.release()}",
    }


def report(name: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print(f"\n{name}")
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_fmt(row.get(c)).ljust(widths[c]) for c in columns))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"machine": machine(), "rows": rows}, indent=2, default=str)
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)
