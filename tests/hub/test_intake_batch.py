"""Intake in batches (hub/pipeline/intake_batch.py) writes exactly what taking each record alone writes,
and a crash inside a batch leaves every record either stored or still in the AR source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from connectors.sandbox.coupa import CoupaSandbox
from hub.ar import ArRecord
from hub.audit import verify
from hub.clock import ManualClock
from hub.config import load_config
from hub.model import InvoicePurpose
from hub.pipeline import intake, intake_batch
from hub.pipeline.intake import ingest
from hub.runtime import Hub, build_hub
from tests.ar.support import CSV_HEADER, CUSTOMERS, csv_row, drop, hub_config
from tests.factories import T0, ListAr, make_hub, make_invoice, profile_yaml


class OneAtATime(ListAr):
    """The same records, from a source that does not take batches (the hub's per-record path)."""

    batched_intake = False


def _records(ar: ListAr) -> None:
    """Every kind of record intake meets in one pull: good, blocked by a rule, unrouted, a number
    repeated within the pull and under another AR key, a cancel, a record that is not an invoice."""
    ar.add(make_invoice("INV-1"))
    ar.add(make_invoice("INV-2", po=None))  # the baseline wants a PO: blocked
    ar.add(make_invoice("INV-3", customer="C-404"))  # no profile takes the customer
    ar.add(make_invoice("INV-4"))
    ar.add(make_invoice("INV-4"), key="INV-4-again")  # same number, another AR record: duplicate
    ar.add(make_invoice("INV-5", tax_rate="8.25"))
    ar.add(
        make_invoice(
            "CAN-1",
            purpose=InvoicePurpose.CANCEL,
            original_invoice_number="INV-1",
        )
    )
    ar.records.append(
        ArRecord(key="BAD-1", raw={"n": 1}, error="total is not a number", invoice_number="BAD-1")
    )
    for n in range(6, 30):
        ar.add(make_invoice(f"INV-{n}"))


def _store(hub: Hub) -> dict[str, Any]:
    """Everything intake wrote, without ids and hashes (they differ between two stores)."""
    with hub.store.engine.connect() as connection:

        def rows(query: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in connection.execute(text(query))]

        invoices = rows(
            "SELECT ar_key, invoice_number, customer_id, profile_id, purpose, total, state, revision, "
            "content_hash, document, last_reason, last_category, rules_fingerprint, event_seq, "
            "transient_failures, portal_invoice_number FROM invoices ORDER BY id"
        )
        events = []
        for *event, details in rows(
            "SELECT i.ar_key, e.seq, e.actor, e.from_state, e.to_state, e.reason, e.category, e.details "
            "FROM events e JOIN invoices i ON i.id = e.invoice_id ORDER BY e.invoice_id, e.seq"
        ):
            shown = json.loads(details) if details else {}
            shown.pop("rules_sources", None)  # the two hubs' rules files are in two folders
            events.append((*event, shown))
        payloads = []
        for (payload,) in rows("SELECT payload FROM feedback_outbox ORDER BY id"):
            values = json.loads(payload)
            values.pop("event_id")
            payloads.append(values)
        revisions = rows(
            "SELECT i.ar_key, r.revision, r.content_hash FROM invoice_revisions r "
            "JOIN invoices i ON i.id = r.invoice_id ORDER BY r.id"
        )
        quarantine = rows("SELECT ar_key, reason, resolved_at FROM quarantine ORDER BY id")
    return {
        "invoices": invoices,
        "events": sorted(events, key=str),
        "outbox": sorted(payloads, key=lambda p: json.dumps(p, sort_keys=True)),
        "revisions": revisions,
        "quarantine": quarantine,
    }


def _same(batched: dict[str, Any], alone: dict[str, Any]) -> None:
    for table, rows in alone.items():
        assert len(batched[table]) == len(rows), table
        for got, expected in zip(batched[table], rows, strict=True):
            assert got == expected, table


@pytest.fixture
def hubs(tmp_path: Path, coupa: CoupaSandbox) -> Iterator[tuple[Hub, ListAr, Hub, ListAr]]:
    assert coupa.server is not None
    batched, alone = ListAr(), OneAtATime()
    built = [
        make_hub(tmp_path / name, coupa.server.url, ar=ar, clock=ManualClock(T0), profiles=[_profile(coupa)])
        for name, ar in (("batched", batched), ("alone", alone))
    ]
    yield built[0], batched, built[1], alone
    for hub in built:
        hub.close()


def _profile(coupa: CoupaSandbox) -> dict[str, Any]:
    assert coupa.server is not None
    return profile_yaml(coupa.server.url, rules=[{"id": "po-given", "field": "po_number", "required": True}])


def test_a_batch_writes_what_taking_each_record_alone_writes(
    hubs: tuple[Hub, ListAr, Hub, ListAr], monkeypatch: pytest.MonkeyPatch
) -> None:
    batched_hub, batched, alone_hub, alone = hubs
    monkeypatch.setattr(intake, "BATCH", 7)  # several batches, one ending inside the repeated number
    for ar in (batched, alone):
        _records(ar)
    first = ingest(batched_hub)
    assert first.counts == ingest(alone_hub).counts
    assert first.counts["new"] == 31 and first.counts["quarantined"] == 1
    stored = _store(batched_hub)
    _same(stored, _store(alone_hub))
    states = {row[0]: row[6] for row in stored["invoices"]}
    assert states["INV-1"] == "READY" and states["INV-2"] == "BLOCKED" and states["INV-3"] == "BLOCKED"
    assert states["INV-4"] == "READY" and states["INV-4-again"] == "BLOCKED"
    # A second pull changes nothing; a corrected record and the bad one read well are taken as alone.
    for ar in (batched, alone):
        ar.add(make_invoice("INV-2", po="PO-100001"))
        ar.records = [r for r in ar.records if r.key != "BAD-1"]
        ar.add(make_invoice("BAD-1"))
    again = ingest(batched_hub)
    assert again.counts == ingest(alone_hub).counts
    assert again.counts["corrected"] == 1 and again.counts["new"] == 1
    _same(_store(batched_hub), _store(alone_hub))
    with batched_hub.store.session() as session:
        check = verify(session)
    assert check.ok, check.problems
    assert check.events == len(stored["events"]) + 3  # + BAD-1's two events and INV-2's correction


def test_a_crash_inside_a_batch_loses_and_doubles_nothing(
    hubs: tuple[Hub, ListAr, Hub, ListAr], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, ar, _, _ = hubs
    monkeypatch.setattr(intake, "BATCH", 10)
    _records(ar)
    real = intake_batch.insert_new
    calls = {"n": 0}

    def crash_in_second_batch(*args: Any) -> int:
        calls["n"] += 1
        written = real(*args)
        if calls["n"] == 2:
            raise SystemExit("killed after writing, before the commit")
        return written

    monkeypatch.setattr(intake_batch, "insert_new", crash_in_second_batch)
    with pytest.raises(SystemExit):
        ingest(hub)
    with hub.store.engine.connect() as connection:
        stored = connection.execute(text("SELECT COUNT(*) FROM invoices")).scalar_one()
        events = connection.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
    assert stored == 9 and events == 18  # the first batch only (9 invoices and BAD-1), whole
    monkeypatch.setattr(intake_batch, "insert_new", real)
    report = ingest(hub)
    assert report.counts["new"] == 22 and report.counts["unchanged"] == 9
    with hub.store.engine.connect() as connection:
        keys = [r[0] for r in connection.execute(text("SELECT ar_key FROM invoices"))]
        outbox = connection.execute(text("SELECT COUNT(*) FROM feedback_outbox")).scalar_one()
    assert sorted(keys) == sorted({r.key for r in ar.records if r.invoice is not None})
    assert outbox == 2 * 31 + 1  # two events per invoice and the quarantine, each once
    with hub.store.session() as session:
        assert verify(session).ok


def test_an_export_is_filed_away_only_once_its_records_are_stored(
    tmp_path: Path, coupa: CoupaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files adapter moves an export to done/ after `settle()`: a crash while its batch is being
    stored leaves the export in the folder, read again whole by the next run."""
    assert coupa.server is not None
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = [csv_row(f"INV-{n}") for n in range(1, 6)]
    drop(folder, "five.csv", CSV_HEADER + "\n" + "\n".join(rows) + "\n")
    config = hub_config(
        tmp_path, {"kind": "files", "folder": "exports", "customers": CUSTOMERS}, sandbox_url=coupa.server.url
    )
    hub = build_hub(load_config(config), clock=ManualClock(T0))
    try:
        real = intake_batch.insert_new

        def killed(*args: Any) -> int:
            real(*args)
            raise SystemExit("killed after writing, before the commit")

        monkeypatch.setattr(intake_batch, "insert_new", killed)
        with pytest.raises(SystemExit):
            ingest(hub)
        assert (folder / "five.csv").exists() and not (folder / "done" / "five.csv").exists()
        monkeypatch.setattr(intake_batch, "insert_new", real)
        assert ingest(hub).counts["new"] == 5
        assert (folder / "done" / "five.csv").exists() and not (folder / "five.csv").exists()
        assert ingest(hub).counts["new"] == 0
        with hub.store.engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM invoices")).scalar_one() == 5
    finally:
        hub.close()


def test_a_batch_on_postgresql_is_stored_whole_with_its_chains(
    tmp_path: Path, coupa: CoupaSandbox, pg_database: str
) -> None:
    """The multi-row INSERT ... RETURNING and the IN lists on PostgreSQL: ids come back in order (each
    invoice's events name it, the chains verify), and a second pull finds every record unchanged."""
    assert coupa.server is not None
    ar = ListAr()
    _records(ar)
    hub = make_hub(
        tmp_path,
        coupa.server.url,
        ar=ar,
        clock=ManualClock(T0),
        profiles=[_profile(coupa)],
        store_url=pg_database,
    )
    try:
        first = ingest(hub)
        assert first.counts["new"] == 31 and first.counts["quarantined"] == 1
        assert ingest(hub).counts["unchanged"] == 31
        stored = _store(hub)
        states = {row[0]: row[6] for row in stored["invoices"]}
        assert states["INV-1"] == "READY" and states["INV-4-again"] == "BLOCKED"
        assert {event[0] for event in stored["events"]} == set(states)
        with hub.store.session() as session:
            check = verify(session)
        assert check.ok and check.events == 62, check.problems
    finally:
        hub.close()
