"""A 50 MB CSV export is read with bounded memory: the bench script runs in its own process (so its
resident-memory peak is its own) and must stay far below the size of the file, which any whole-file
read would exceed. One invoice in a thousand is bad: each is named in the error report, the others
all come through, and the same export dropped again imports nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.ar.support import ROOT


@pytest.mark.slow
def test_a_50_mb_export_is_read_with_bounded_memory() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.ar_files_memory", "--mb", "50", "--bad-every", "1000", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=True,
    )
    data = json.loads(result.stdout)
    assert data["file_mb"] >= 50 and data["invoices"] > 50_000
    bad = data["invoices"] // 1000
    assert (data["records"], data["errors"], data["errors_reported"]) == (data["invoices"], bad, bad)
    assert data["filed_to"] == "error" and data["records_on_second_drop"] == 0
    assert data["hwm_reset"], "the peak could not be measured from the start of the read"
    assert data["rss_growth_mb"] < 25, data  # measured: about 6 MB
