"""Intake into the store: AR records read, pre-flighted and stored, per core (issue 21).

    PORTALHUB_CXML_REFS=../shared/refs/cxml .venv/bin/python -m bench.intake [--invoices 2000] [--files-mb 10]

- `sql`: the reliability scenario's AR database (bench/scenario.py: 1 - 3 lines per invoice,
  three Coupa buyer profiles on the Coupa baseline) taken in by `ingest`, as the daemon does;
- `files`: a combined CSV export (bench/ar_files_memory.py's, 5 lines per invoice, every 1,000th with a
  bad price) dropped into a files inbox and taken in by `ingest` into the store, the export then filed
  to done/: the 60,000-invoice drop of issue 21, scaled by `--files-mb`.
Each: CPU of this process per invoice (`time.process_time`: AR read, pre-flight, the store's writes;
the SQLite store's own work runs in this process too), invoices/s/core, and the peak RSS growth
during the run (memory flat: the records are read and stored in batches, none kept).
Targets (issue 21): >= 500 invoices/s/core for SQL and files intake; RSS growth <= 25 MB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from bench.ar_files_memory import _hwm_kib, _reset_hwm, write_export
from bench.invoices import NOW as T0
from bench.scenario import Scenario
from bench.timing import report, target
from bench.workspace import hub_in
from hub.clock import ManualClock
from hub.config import load_config
from hub.pipeline.intake import ingest
from hub.runtime import build_hub


def sql_intake(invoices: int) -> dict[str, object]:
    scenario = Scenario(Path(tempfile.mkdtemp(prefix="bench-intake-sql-")), invoices=invoices, buyers=3)
    try:
        with hub_in(scenario) as hub:
            return _measure("sql (scenario AR database)", invoices, lambda: ingest(hub).counts)
    finally:
        scenario.close()


def files_intake(megabytes: float) -> dict[str, object]:
    # The scenario's workspace (its Coupa profiles route customer C-1, the export's), with the AR
    # system replaced by a files inbox.
    scenario = Scenario(Path(tempfile.mkdtemp(prefix="bench-intake-files-")), invoices=0, buyers=3)
    root = scenario.root
    inbox = root / "exports"
    inbox.mkdir()
    invoices = write_export(root / "big.csv", megabytes, bad_every=1000)
    (root / "big.csv").rename(inbox / "big.csv")
    config = yaml.safe_load(scenario.config.read_text())
    config["ar"] = {"kind": "files", "folder": str(inbox), "settle_seconds": 0}
    config.update(store_url=f"sqlite:///{root / 'hub.db'}", rules_dir=str(root / "rules.d"))
    config["secrets_file"] = str(root / "secrets.yaml")
    scenario.config.write_text(yaml.safe_dump(config))
    hub = build_hub(load_config(scenario.config), clock=ManualClock(T0))
    try:
        row = _measure("files (CSV export, 5 lines)", invoices, lambda: ingest(hub).counts)
    finally:
        hub.close()
        scenario.close()
    row["filed to done/"] = (inbox / "done" / "big.csv").exists()
    return row


def _measure(name: str, invoices: int, run: object) -> dict[str, object]:
    assert callable(run)
    _reset_hwm()
    before = _hwm_kib()
    start = time.process_time()
    counts = run()
    cpu = time.process_time() - start
    taken = sum(v for k, v in counts.items() if k in ("new", "quarantined"))
    assert taken == invoices, f"{name}: {counts} for {invoices} invoices"
    return {
        "intake": name,
        "invoices": invoices,
        "CPU ms/invoice": cpu * 1000 / invoices,
        "invoices/s/core": invoices / cpu,
        "RSS growth MB": (_hwm_kib() - before) / 1024,
        "counts": dict(counts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=2000, help="SQL intake")
    parser.add_argument("--files-mb", type=float, default=10, help="size of the CSV export")
    args = parser.parse_args()
    rows = [sql_intake(args.invoices), files_intake(args.files_mb)]
    report("intake", rows, ["intake", "invoices", "CPU ms/invoice", "invoices/s/core", "RSS growth MB"])
    for row in rows:
        kind = str(row["intake"]).split(" ")[0]
        target(
            f"{kind} intake into the store invoices/s/core",
            float(row["invoices/s/core"]),  # type: ignore[arg-type]
            500,
            at_least=True,
            unit="/s",
        )
        target(f"{kind} intake RSS growth MB (flat memory)", float(row["RSS growth MB"]), 25, unit=" MB")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
