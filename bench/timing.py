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


def target(what: str, measured: float, limit: float, *, at_least: bool = False, unit: str = "") -> bool:
    """Print one target of issue 21 as `TARGET <what>: <measured> vs <limit> (ratio) OK|MISSED` and
    keep it in bench/results/targets.json (one entry per target, the latest run). The ratio is
    measured / limit, so <= 1 meets an upper bound; for a lower bound (`at_least`) it is limit /
    measured, so <= 1 always means met."""
    ratio = (limit / measured if measured else float("inf")) if at_least else measured / limit
    ok = ratio <= 1
    sign = ">=" if at_least else "<="
    print(
        f"TARGET {what}: {_fmt(measured)}{unit} (target {sign} {_fmt(limit)}{unit}) ratio {ratio:.2f} "
        f"{'OK' if ok else 'MISSED'}"
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "targets.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept[what] = {
        "measured": measured,
        "limit": limit,
        "at_least": at_least,
        "ratio": ratio,
        "ok": ok,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path.write_text(json.dumps(kept, indent=2))
    return ok
