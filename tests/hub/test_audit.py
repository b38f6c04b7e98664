"""The audit trail: every event names who did it, each invoice's events form a hash chain that
`verify` recomputes, and the database refuses to change or delete events (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from connectors.sandbox.coupa import CoupaSandbox
from hub import audit
from hub.clock import ManualClock
from hub.corrections import resubmit
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.store.database import MIGRATIONS, Store
from hub.store.tables import EventRow
from tests.factories import T0, ListAr, make_hub, make_invoice


@pytest.fixture
def hub(tmp_path: Path, coupa: CoupaSandbox) -> Iterator[Hub]:
    """INV-1 accepted by the daemon; INV-2 rejected (unknown PO), fixed in AR and resubmitted from the CLI."""
    assert coupa.server is not None
    ar = ListAr()
    built = make_hub(tmp_path, coupa.server.url, ar=ar, clock=ManualClock(T0))
    ar.add(make_invoice("INV-1"))
    ar.add(make_invoice("INV-2", po="PO-999999"))
    ingest(built)
    submit_profile(built, built.profile("acme-coupa"))
    ar.add(make_invoice("INV-2", po="PO-100001"))
    assert resubmit(built, "INV-2", actor="cli:dana").ok
    yield built
    built.close()


def check(hub: Hub) -> audit.Verification:
    with hub.store.session() as session:
        return audit.verify(session)


def raw(hub: Hub, *statements: str) -> None:
    """SQL behind the hub's back, as someone with database access would run it (triggers dropped)."""
    with hub.store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_delete")
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        for statement in statements:
            connection.exec_driver_sql(statement)


def event_ids(hub: Hub, number: str) -> list[int]:
    with hub.store.engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT e.id FROM events e JOIN invoices i ON i.id = e.invoice_id "
                    "WHERE i.invoice_number = :n ORDER BY e.seq"
                ),
                {"n": number},
            ).scalars()
        )


def test_each_event_names_its_actor_and_every_chain_verifies(hub: Hub) -> None:
    result = check(hub)
    assert result.ok, result.problems
    assert result.invoices == 2 and result.events >= 8
    with hub.store.engine.connect() as connection:
        row_id = connection.execute(
            text("SELECT id FROM invoices WHERE invoice_number = 'INV-2'")
        ).scalar_one()
    with hub.store.session() as session:
        events = audit.timeline(session, row_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash is None
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    actors = {e.actor for e in events}
    assert "daemon:test-worker" in actors and "cli:dana" in actors


def test_an_edited_event_is_found(hub: Hub) -> None:
    target = event_ids(hub, "INV-1")[1]
    raw(hub, f"UPDATE events SET reason = 'nothing to see' WHERE id = {target}")
    result = check(hub)
    assert [(p.invoice_number, p.seq) for p in result.problems] == [("INV-1", 2)]
    assert "content no longer matches" in result.problems[0].why


def test_an_event_removed_from_the_middle_is_found(hub: Hub) -> None:
    target = event_ids(hub, "INV-2")[2]
    raw(hub, f"DELETE FROM events WHERE id = {target}")
    result = check(hub)
    assert [(p.invoice_number, p.seq) for p in result.problems] == [("INV-2", 4)]
    assert "removed or inserted" in result.problems[0].why


def test_events_cut_off_the_end_are_found(hub: Hub) -> None:
    last = event_ids(hub, "INV-1")[-1]
    raw(hub, f"DELETE FROM events WHERE id = {last}")
    result = check(hub)
    assert len(result.problems) == 1 and result.problems[0].invoice_number == "INV-1"
    assert "removed from the end" in result.problems[0].why


def test_a_recomputed_hash_does_not_hide_an_edit(hub: Hub) -> None:
    """Whoever edits an event and fixes its own hash still breaks the link from the event after it."""
    first = event_ids(hub, "INV-1")[0]
    with hub.store.session() as session:
        event = session.get(EventRow, first)
        assert event is not None
        event.actor = "cli:mallory"
        forged = audit.digest(event)
        session.expunge(event)
    raw(hub, f"UPDATE events SET actor = 'cli:mallory', hash = '{forged}' WHERE id = {first}")
    result = check(hub)
    assert [(p.invoice_number, p.seq) for p in result.problems] == [("INV-1", 2)]


def _refuses_changes(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO invoices (source, ar_key, invoice_number, customer_id, purpose, currency, total, "
                "invoice_date, state, revision, content_hash, document, transient_failures, created_at, "
                "updated_at, event_seq) VALUES ('t', 'k', 'INV-9', 'C-1', 'invoice', 'USD', '1', :d, 'NEW', 1, "
                "'x', '{}', 0, :t, :t, 0)"
            ),
            {"d": T0.date(), "t": T0.replace(tzinfo=None) if store.is_sqlite else T0},
        )
        connection.execute(
            text(
                "INSERT INTO events (invoice_id, at, actor, to_state) "
                "SELECT id, :t, 'test', 'NEW' FROM invoices WHERE invoice_number = 'INV-9'"
            ),
            {"t": T0.replace(tzinfo=None) if store.is_sqlite else T0},
        )
    for statement in ("UPDATE events SET reason = 'changed'", "DELETE FROM events"):
        with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as connection:
            connection.execute(text(statement))


def test_sqlite_refuses_to_change_or_delete_events(sqlite_store: Store) -> None:
    _refuses_changes(sqlite_store)


def test_postgresql_refuses_to_change_or_delete_events(pg_store: Store) -> None:
    _refuses_changes(pg_store)


def test_upgrading_a_store_chains_the_events_it_already_has(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    at = datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC).replace(tzinfo=None)
    with store.engine.begin() as connection:
        for number in ("INV-A", "INV-B"):
            connection.execute(
                text(
                    "INSERT INTO invoices (source, ar_key, invoice_number, customer_id, purpose, currency, total, "
                    "invoice_date, state, revision, content_hash, document, transient_failures, created_at, "
                    "updated_at) VALUES ('t', :n, :n, 'C-1', 'invoice', 'USD', '1', '2026-11-02', 'READY', 1, "
                    "'x', '{}', 0, :t, :t)"
                ),
                {"n": number, "t": at},
            )
        for number, to in [("INV-A", "NEW"), ("INV-B", "NEW"), ("INV-A", "READY"), ("INV-B", "READY")]:
            connection.execute(
                text(
                    "INSERT INTO events (invoice_id, at, actor, from_state, to_state, reason) SELECT id, :t, "
                    "'daemon:old', NULL, :to, 'before the audit chain' FROM invoices WHERE invoice_number = :n"
                ),
                {"n": number, "to": to, "t": at},
            )
    store.migrate()
    with store.session() as session:
        result = audit.verify(session)
    assert result.ok and (result.events, result.invoices) == (4, 2)
    with store.engine.connect() as connection:
        heads = connection.execute(text("SELECT event_seq FROM invoices")).scalars().all()
    assert heads == [2, 2]
    store.dispose()
