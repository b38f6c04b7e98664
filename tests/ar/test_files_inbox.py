"""The watched folder: only complete files are read, each content once (across names and restarts),
nothing is lost when the hub stops half-way through a file, and every file ends in done/ or error/."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.ar.files.common import Export, Found
from tests.ar.support import CSV_HEADER, csv_row, drop, drop_fixture, files_adapter, files_in, pull

THREE = CSV_HEADER + "\n" + "\n".join(csv_row(f"INV-{n}") for n in (1, 2, 3)) + "\n"


def test_part_files_hidden_files_and_files_still_changing_are_not_read(tmp_path: Path) -> None:
    adapter = files_adapter(tmp_path, settle_seconds=30)
    drop(tmp_path, "a.csv.part", THREE, age=3600)  # the exporter's temporary name
    drop(tmp_path, ".a.csv", THREE, age=3600)  # a hidden file (rsync, editors)
    drop(tmp_path, "b.csv", THREE, age=1)  # written a second ago: may still be growing
    assert pull(adapter) == []
    assert files_in(tmp_path) == [".a.csv", "a.csv.part", "b.csv"]
    os.rename(tmp_path / "a.csv.part", tmp_path / "a.csv")  # the exporter is done: an atomic rename
    assert [r.key for r in pull(adapter)] == ["INV-1", "INV-2", "INV-3"]
    assert files_in(tmp_path) == [".a.csv", "b.csv", "done/a.csv"]
    stamp = time.time() - 60
    os.utime(tmp_path / "b.csv", (stamp, stamp))  # quiet for long enough now
    assert pull(adapter) == []  # the same content as a.csv: not imported twice
    assert files_in(tmp_path) == [".a.csv", "done/a.csv", "done/b.csv", "done/b.csv.duplicate.txt"]


def test_a_file_that_changes_while_it_is_read_is_read_again_not_filed_away(tmp_path: Path) -> None:
    path = drop(tmp_path, "slow.csv", CSV_HEADER + "\n" + csv_row("INV-1") + "\n" + csv_row("INV-2") + "\n")
    adapter = files_adapter(tmp_path)
    reads = adapter.pull()
    assert next(reads).key == "INV-1"
    with path.open("a", encoding="utf-8") as file:  # the exporter was not done after all
        file.write(csv_row("INV-3") + "\n")
    stamp = time.time() - 60
    os.utime(path, (stamp, stamp))  # even with an old timestamp: the size changed under the read
    assert [r.key for r in reads] == ["INV-2"]
    assert files_in(tmp_path) == ["slow.csv"]  # not filed away: what was read may be incomplete
    assert [r.key for r in pull(adapter)] == ["INV-1", "INV-2", "INV-3"]
    assert files_in(tmp_path) == ["done/slow.csv"]


def test_the_same_content_under_another_name_is_imported_once_even_after_a_restart(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "invoices.csv")
    assert len(pull(files_adapter(tmp_path))) == 3
    drop_fixture(tmp_path, "invoices.csv", as_name="invoices-resent.csv")
    drop_fixture(tmp_path, "invoices.csv")  # the same name again, too
    assert pull(files_adapter(tmp_path)) == []  # a new adapter: the ledger is on disk
    assert files_in(tmp_path) == [
        "done/invoices-resent.csv",
        "done/invoices-resent.csv.duplicate.txt",
        "done/invoices.csv",
        "done/invoices~2.csv",
        "done/invoices~2.csv.duplicate.txt",
    ]
    note = (tmp_path / "done" / "invoices-resent.csv.duplicate.txt").read_text()
    assert note.startswith("Not imported again: invoices-resent.csv has the same content as invoices.csv")


def test_a_bad_file_dropped_again_unchanged_joins_its_error_report(tmp_path: Path) -> None:
    bad = CSV_HEADER + "\n" + csv_row("INV-1", currency="usd") + "\n"
    drop(tmp_path, "bad.csv", bad)
    assert [r.error is not None for r in pull(files_adapter(tmp_path))] == [True]
    drop(tmp_path, "bad.csv", bad)
    assert pull(files_adapter(tmp_path)) == []
    assert files_in(tmp_path) == [
        "error/bad.csv",
        "error/bad.csv.error.txt",
        "error/bad~2.csv",
        "error/bad~2.csv.error.txt",
    ]
    assert (
        (tmp_path / "error" / "bad~2.csv.error.txt")
        .read_text()
        .startswith("Not imported again: bad.csv has the same content as bad.csv, read at ")
    )


def test_a_file_is_filed_away_only_after_every_record_was_taken(tmp_path: Path) -> None:
    drop(tmp_path, "three.csv", THREE)
    adapter = files_adapter(tmp_path)
    reads = adapter.pull()
    assert next(reads).key == "INV-1"
    reads.close()  # the hub stopped (crash, SIGTERM) after taking one record
    assert files_in(tmp_path) == ["three.csv"]
    # Read again from the start: the hub skips INV-1 (unchanged) and takes the others; nothing is lost.
    assert [r.key for r in files_adapter(tmp_path).pull()] == ["INV-1", "INV-2", "INV-3"]
    assert files_in(tmp_path) == ["done/three.csv"]


def test_unknown_files_and_lonely_halves_of_a_pair_go_to_error_with_the_reason(tmp_path: Path) -> None:
    drop(tmp_path, "invoices.xlsx", b"PK\x03\x04 a spreadsheet")
    drop(tmp_path, "late.header.csv", "invoice_number\n", age=7200)
    drop(tmp_path, "fresh.header.csv", "invoice_number\n", age=60)
    records = {r.key: r.error for r in pull(files_adapter(tmp_path, pair_timeout_seconds=3600))}
    assert records == {
        "file:invoices.xlsx": "invoices.xlsx was not read: portalhub reads .csv, .json, .jsonl, .ndjson, "
        ".xml exports; this file type is not one",
        "file:late.header.csv": "late.header.csv was not read: its lines file late.lines.csv did not "
        "arrive within 1 h",
    }
    assert files_in(tmp_path) == [
        "error/invoices.xlsx",
        "error/invoices.xlsx.error.txt",
        "error/late.header.csv",
        "error/late.header.csv.error.txt",
        "fresh.header.csv",
    ]


def test_a_collector_can_reread_chosen_records_without_moving_anything(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "invoices.csv")
    pull(files_adapter(tmp_path))  # imported, now in done/
    drop(tmp_path, "newer.csv", CSV_HEADER + "\n" + csv_row("INV-3001", qty="4", customer_name="ACME") + "\n")
    adapter = files_adapter(tmp_path)
    records = list(adapter.pull(keys=["INV-3001", "INV-3002", "INV-404"]))
    assert [r.key for r in records] == ["INV-3001", "INV-3002"]
    assert records[0].invoice is not None and records[0].invoice.lines[0].quantity == 4  # the newest export
    assert list(adapter.pull(keys=[])) == []
    assert files_in(tmp_path) == ["done/invoices.csv", "newer.csv"]


def test_a_file_portalhub_fails_on_goes_to_error_and_the_folder_moves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.ar.files import adapter as files_module

    real = files_module.read_csv

    def failing(export: Export, *args: Any) -> Iterator[Found]:
        # A reader bug: after the first invoice of `half.csv`, or at once for `bad.csv`.
        records = real(export, *args)
        if export.paths[0].name == "half.csv":
            yield next(records)
        if export.paths[0].name in ("half.csv", "bad.csv"):
            raise RuntimeError("an unforeseen value")
        yield from records

    monkeypatch.setattr(files_module, "read_csv", failing)
    drop(tmp_path, "bad.csv", THREE, age=300)  # the oldest: read first
    drop(tmp_path, "half.csv", CSV_HEADER + "\n" + csv_row("INV-7") + "\n" + csv_row("INV-8") + "\n", age=200)
    drop(tmp_path, "good.csv", CSV_HEADER + "\n" + csv_row("INV-9") + "\n", age=100)
    records = pull(files_adapter(tmp_path))
    assert [r.key for r in records] == ["file:bad.csv", "INV-7", "file:half.csv", "INV-9"]
    assert records[0].error == (
        "bad.csv could not be read: portalhub failed on it (RuntimeError: an unforeseen value); please "
        "report this to portalhub's maintainers with the file"
    )
    assert files_in(tmp_path) == [
        "done/good.csv",
        "error/bad.csv",
        "error/bad.csv.error.txt",
        "error/half.csv",
        "error/half.csv.error.txt",
    ]
    whole = (tmp_path / "error" / "bad.csv.error.txt").read_text().splitlines()
    assert whole[0] == "portalhub did not import bad.csv: the file could not be read, for the reason below."
    assert whole[-1] == records[0].error
    part = (tmp_path / "error" / "half.csv.error.txt").read_text().splitlines()
    assert part[0] == (
        "portalhub stopped reading half.csv part-way: 1 record(s) imported, 0 held back, the rest not read, "
        "for the reason last below."
    )
