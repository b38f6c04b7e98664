"""Peak memory of the files AR adapter reading a large CSV export (issue 10: bounded memory).

    python -m bench.ar_files_memory [--mb 50] [--bad-every N] [--tracemalloc] [--json]

Writes a combined CSV export of about `--mb` megabytes (5 lines per invoice; with `--bad-every N`, every
Nth invoice has a unit price that is not a number) into a scratch folder, then pulls every record
through `FilesArAdapter` (as intake does: one at a time, none kept) and reports the process's peak
resident memory above what it was just before the read (Linux VmHWM), and with `--tracemalloc` the
peak of Python allocations (slower: every allocation is traced). Then it drops the same export again
under another name and counts what a second read imports (0: each content once).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench.timing import report, target

HEADER = (
    "invoice_number,customer_id,customer_name,invoice_date,due_date,currency,po_number,subtotal,tax_total,"
    "total,line_no,po_line,part_number,description,quantity,uom,unit_price,amount,tax_rate,tax_amount\n"
)
LINES_PER_INVOICE = 5


def write_export(path: Path, megabytes: float, bad_every: int = 0) -> int:
    """A combined export of about `megabytes` MB, every `bad_every`th invoice with a bad unit price (0:
    none); returns the number of invoices in it."""
    target = int(megabytes * 1024 * 1024)
    written = 0
    invoices = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(HEADER)
        while written < target:
            invoices += 1
            number = f"INV-{invoices:07d}"
            price = "12.5O" if bad_every and invoices % bad_every == 0 else "12.50"
            rows = []
            for line in range(1, LINES_PER_INVOICE + 1):
                rows.append(
                    f"{number},C-1,ACME Manufacturing,2026-11-20,2026-12-20,USD,PO-100001,312.50,25.80,338.30,"
                    f'{line},{line},BRG-62{line:02d},"Deep groove ball bearing 62{line:02d}-2RS, sealed, C3",'
                    f"5,EA,{price},62.50,8.25,5.16\n"
                )
            chunk = "".join(rows)
            file.write(chunk)
            written += len(chunk)
    return invoices


def _hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_hwm() -> bool:
    try:  # Linux: writing 5 to clear_refs resets the peak to the current resident size
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measure(megabytes: float, trace: bool, bad_every: int = 0) -> dict[str, float | int | bool]:
    from hub.ar import ArContext
    from hub.ar.files import FilesArAdapter, FilesSettings
    from hub.model import Supplier
    from hub.secrets import SecretsResolver

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        export = folder / "big.csv"
        invoices = write_export(export, megabytes, bad_every)
        size = export.stat().st_size
        settings = FilesSettings.model_validate({"folder": str(folder), "settle_seconds": 0})
        context = ArContext(
            supplier=Supplier(name="Bluebonnet Industrial Supply LLC"),
            secrets=SecretsResolver(),
            base_dir=folder,
        )
        adapter = FilesArAdapter(settings, context)
        reset = _reset_hwm()
        before = _hwm_kib()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        records = errors = 0
        for record in adapter.pull():
            records += 1
            errors += record.error is not None
        seconds = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
        peak = _hwm_kib()
        outcome = "done" if (folder / "done" / "big.csv").exists() else "error"
        report = folder / "error" / "big.csv.error.txt"
        # The problems listed in the report: one line each, after the two-line head and a blank line.
        reported = len(report.read_text(encoding="utf-8").splitlines()) - 3 if report.exists() else 0
        shutil.copyfile(folder / outcome / "big.csv", folder / "big-resent.csv")
        again = sum(1 for _ in FilesArAdapter(settings, context).pull())
    return {
        "file_mb": round(size / 1024 / 1024, 1),
        "invoices": invoices,
        "records": records,
        "errors": errors,
        "seconds": round(seconds, 1),
        "rss_before_mb": round(before / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
        "rss_growth_mb": round((peak - before) / 1024, 1),
        "hwm_reset": reset,
        "tracemalloc_peak_mb": round(traced_peak / 1024 / 1024, 1),
        "filed_to": outcome,
        "errors_reported": reported,
        "records_on_second_drop": again,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--bad-every", type=int, default=0, help="every Nth invoice has a bad price")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.mb, args.tracemalloc, args.bad_every)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        report("ar_files_memory", [result], list(result))  # also bench/results/ar_files_memory.json
        # Reading and parsing only (wall, one process): the hub's intake into the store is measured by
        # bench.end_to_end ("SQL intake"); files intake into the store has no bench of its own yet.
        target(
            "files adapter read invoices/s (wall, no store)",
            float(result["invoices"]) / max(float(result["seconds"]), 1e-9),
            500,
            at_least=True,
            unit="/s",
        )
        target("files adapter RSS growth MB (flat memory)", float(result["rss_growth_mb"]), 25, unit=" MB")


if __name__ == "__main__":
    main()
