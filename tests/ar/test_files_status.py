"""Status events written back as files: each event once, across batches, restarts and crashes; a folder
that cannot be written keeps the events in the real feedback outbox."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlmodel import select

from hub.ar.files.status_files import STATUS_COLUMNS
from hub.store.database import Store
from hub.store.tables import OutboxRow
from status_sync.feedback import deliver
from tests.ar.support import files_adapter
from tests.factories import T0, FeedbackHub


def event(n: int, **over: Any) -> dict[str, Any]:
    return {
        "event_id": f"evt-{n}",
        "source": "ar-files",
        "ar_key": f"INV-{n}",
        "invoice_number": f"INV-{n}",
        "customer_id": "C-1",
        "profile_id": "acme-coupa",
        "state": "REJECTED",
        "previous_state": "SUBMITTED",
        "reason": f'rejected by acme-coupa: PO "PO-{n}", line 2: price 12,50 ≠ 12.00',
        "category": "po",
        "raw_status": "rejected",
        "portal_invoice_id": None,
        "at": "2026-11-20T15:00:00+00:00",
        **over,
    }


def status_rows(folder: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted((folder / "status").glob("status-*.csv")):
        with path.open(encoding="utf-8", newline="") as file:
            rows.extend(csv.DictReader(file))
    return rows


def test_each_event_is_written_once_across_batches_and_restarts(tmp_path: Path) -> None:
    adapter = files_adapter(tmp_path)
    adapter.write([event(1), event(2)])
    adapter.write([event(2), event(3), event(3)])  # a redelivered event, and one twice in a batch
    files_adapter(tmp_path).write([event(1), event(3)])  # after a restart: nothing new
    adapter.write([])
    rows = status_rows(tmp_path)
    assert [r["event_id"] for r in rows] == ["evt-1", "evt-2", "evt-3"]
    assert len(list((tmp_path / "status").iterdir())) == 2  # two batches had something new
    assert list(rows[0]) == list(STATUS_COLUMNS)
    assert rows[0]["reason"] == 'rejected by acme-coupa: PO "PO-1", line 2: price 12,50 ≠ 12.00'
    assert rows[0]["portal_invoice_id"] == ""


def test_jsonl_status_files_keep_every_key(tmp_path: Path) -> None:
    adapter = files_adapter(tmp_path, status_format="jsonl", status_folder="out/status")
    adapter.write([event(1, extra={"nested": True})])
    [path] = (tmp_path / "out" / "status").glob("status-*.jsonl")
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == event(1, extra={"nested": True})


def test_a_crash_between_commit_and_rename_is_finished_at_the_next_write(tmp_path: Path) -> None:
    adapter = files_adapter(tmp_path)
    status = tmp_path / "status"
    status.mkdir()
    # Crashed after the ledger commit, before the rename: the events are recorded, the file is .part.
    (status / "status-20261120T150000000000Z-0001.csv.part").write_text("event_id\r\nevt-1\r\n")
    adapter.ledger.commit_status_file("status-20261120T150000000000Z-0001.csv", ["evt-1"])
    # Crashed before the commit: a .part file nobody recorded (its events will be delivered again).
    (status / "status-20261120T150001000000Z-0002.csv.part").write_text("event_id\r\nevt-2\r\n")
    adapter.write([event(1), event(2)])
    names = sorted(p.name for p in status.iterdir())
    assert len(names) == 2 and not any(n.endswith(".part") for n in names)
    assert names[0] == "status-20261120T150000000000Z-0001.csv"
    assert [r["event_id"] for r in status_rows(tmp_path)] == ["evt-1", "evt-2"]
    assert adapter.ledger.pending_status_files() == []


def test_a_folder_that_cannot_be_written_keeps_the_events_in_the_outbox(
    tmp_path: Path, sqlite_store: Store
) -> None:
    adapter = files_adapter(tmp_path / "ar")
    (tmp_path / "ar" / "status").write_text("a file where the status folder should be")
    with sqlite_store.session() as session:
        for n in (1, 2):
            session.add(OutboxRow(event_key=f"evt-{n}", payload=json.dumps(event(n)), created_at=T0))
    feedback = FeedbackHub(sqlite_store, adapter)
    report = deliver(feedback)
    assert (report.delivered, report.failed) == (0, 2)
    assert report.error is not None and report.error.startswith(f"cannot write status files to {tmp_path}")
    with sqlite_store.session() as session:
        rows = session.exec(select(OutboxRow)).all()
        assert all(r.delivered_at is None and r.attempts == 1 for r in rows)
        assert all(r.next_attempt_at is not None and r.next_attempt_at > T0 for r in rows)
    (tmp_path / "ar" / "status").unlink()  # the AR side fixes its folder
    feedback.clock.advance(minutes=5)
    assert deliver(feedback).delivered == 2
    assert [r["event_id"] for r in status_rows(tmp_path / "ar")] == ["evt-1", "evt-2"]
