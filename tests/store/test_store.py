"""The store on both backends: exact money, aware instants, the migration matching the models, and
claims that no two workers ever share."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, select

from hub.lifecycle import move_claimed
from hub.model import InvoiceState
from hub.store import work
from hub.store.database import Store
from hub.store.tables import EventRow, InvoiceRow, LeaseRow
from tests.factories import T0


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Store:
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)


def _invoice(
    number: str, state: InvoiceState = InvoiceState.READY, total: str = "1234567890123.4567"
) -> InvoiceRow:
    return InvoiceRow(
        source="t",
        ar_key=number,
        invoice_number=number,
        customer_id="C-1",
        profile_id="p",
        purpose="invoice",
        currency="USD",
        total=Decimal(total),
        invoice_date=T0.date(),
        state=state.value,
        content_hash="x",
        document="{}",
        created_at=T0,
        updated_at=T0,
    )


def test_migration_matches_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == [], f"hub/store/tables.py and the migrations disagree: {diff}"


def test_head_names_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from hub.store.database import HEAD, MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrading_a_store_fills_the_original_numbers(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from hub.store.database import MIGRATIONS, normalise_url

    url = (
        f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("pg_database")
    )
    old = Store(normalise_url(url))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    documents = {
        "INV-1": '{"invoice_number":"INV-1","original_invoice_number":null}',
        "CM-1": '{"invoice_number":"CM-1","original_invoice_number":"INV-1"}',
    }
    with old.engine.begin() as connection:
        for number, document in documents.items():
            connection.execute(
                text(
                    "INSERT INTO invoices (source, ar_key, invoice_number, customer_id, purpose, currency, total, "
                    "invoice_date, state, revision, content_hash, document, transient_failures, created_at, "
                    "updated_at, event_seq) VALUES ('t', :n, :n, 'C-1', 'invoice', 'USD', 1, '2026-11-02', "
                    "'READY', 1, 'x', :d, 0, '2026-11-02 09:30:00', '2026-11-02 09:30:00', 0)"
                ),
                {"n": number, "d": document},
            )
    old.migrate()
    with old.session() as session:
        found = {r.invoice_number: r.original_invoice_number for r in session.exec(select(InvoiceRow))}
    assert found == {"INV-1": None, "CM-1": "INV-1"}
    old.dispose()


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    with store.session() as session:
        assert session.exec(select(InvoiceRow)).all() == []


def test_money_is_exact_and_instants_are_aware(store: Store) -> None:
    with store.session() as session:
        session.add(_invoice("INV-1", total="1234567890123.4567"))
    with store.session() as session:
        row = session.exec(select(InvoiceRow)).one()
    assert row.total == Decimal("1234567890123.4567")  # a float would have lost the last digits
    assert row.created_at == T0 and row.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(store: Store) -> None:
    row = _invoice("INV-1")
    row.created_at = T0.replace(tzinfo=None)
    with pytest.raises(Exception, match="naive"), store.session() as session:
        session.add(row)


def test_claim_leases_one_invoice_and_respects_the_lease(store: Store) -> None:
    with store.session() as session:
        session.add(_invoice("INV-1"))
    with store.session() as session:
        first = work.claim_due(session, "p", InvoiceState.READY, "w1", T0, 60, store.dialect)
    with store.session() as session:
        second = work.claim_due(session, "p", InvoiceState.READY, "w2", T0, 60, store.dialect)
    assert first is not None and first.lease_owner == "w1"
    assert second is None  # leased by w1
    with store.session() as session:
        after_expiry = work.claim_due(
            session, "p", InvoiceState.READY, "w2", T0 + timedelta(seconds=61), 60, store.dialect
        )
    assert after_expiry is not None and after_expiry.lease_owner == "w2"


def test_claim_skips_invoices_not_yet_due(store: Store) -> None:
    row = _invoice("INV-1")
    row.next_attempt_at = T0 + timedelta(minutes=5)
    with store.session() as session:
        session.add(row)
    with store.session() as session:
        assert work.claim_due(session, "p", InvoiceState.READY, "w", T0, 60, store.dialect) is None
    with store.session() as session:
        assert work.claim_due(
            session, "p", InvoiceState.READY, "w", T0 + timedelta(minutes=6), 60, store.dialect
        )


def test_concurrent_claims_never_share_an_invoice(store: Store) -> None:
    with store.session() as session:
        for n in range(60):
            session.add(_invoice(f"INV-{n}"))
    claims: Counter[int] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            while True:
                with store.session() as session:
                    row = work.claim_due(session, "p", InvoiceState.READY, name, T0, 600, store.dialect)
                    if row is None:
                        return
                    assert row.id is not None
                    with lock:
                        claims[row.id] += 1
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(claims) == 60
    assert max(claims.values()) == 1


def _claim(session: Any, invoice: work.Claimed, worker: str, now: Any) -> bool:
    """The send path's claim: the move to SUBMITTING that takes the lease, if the invoice is unchanged."""
    return move_claimed(
        session,
        invoice,
        InvoiceState.SUBMITTING,
        actor=f"daemon:{worker}",
        now=now,
        guard=work.Guard.FREE,
        changes={"lease_owner": worker, "lease_expires_at": now + timedelta(seconds=600)},
    )


def test_a_guarded_claim_holds_once_for_two_workers_that_read_the_same_invoice(store: Store) -> None:
    with store.session() as session:
        session.add(_invoice("INV-1"))
    with store.session() as session:
        seen_by_w1 = work.next_due(session, "p", InvoiceState.READY, T0)
    with store.session() as session:
        seen_by_w2 = work.next_due(session, "p", InvoiceState.READY, T0)
    assert seen_by_w1 is not None and seen_by_w2 is not None and seen_by_w1.id == seen_by_w2.id
    with store.session() as session:
        assert _claim(session, seen_by_w1, "w1", T0)
    with store.session() as session:
        assert not _claim(session, seen_by_w2, "w2", T0)  # nothing written: w2 reads again
        assert work.next_due(session, "p", InvoiceState.READY, T0) is None
    with store.session() as session:
        now = work.snapshot(session, seen_by_w1.id)
        events = session.exec(select(EventRow).where(EventRow.invoice_id == seen_by_w1.id)).all()
    assert (now.state, now.lease_owner, now.event_seq) == ("SUBMITTING", "w1", 1)
    assert [(e.actor, e.to_state, e.seq) for e in events] == [("daemon:w1", "SUBMITTING", 1)]
    # The answer is recorded only by the worker whose lease it still is.
    with store.session() as session:
        assert not move_claimed(
            session,
            now,
            InvoiceState.SUBMITTED,
            actor="daemon:w2",
            now=T0,
            guard=work.Guard.HELD,
            worker="w2",
            changes={"lease_owner": None, "lease_expires_at": None},
        )
        assert move_claimed(
            session,
            now,
            InvoiceState.SUBMITTED,
            actor="daemon:w1",
            now=T0,
            guard=work.Guard.HELD,
            worker="w1",
            changes={"lease_owner": None, "lease_expires_at": None},
        )
    with store.session() as session:
        assert work.snapshot(session, seen_by_w1.id).state == "SUBMITTED"


def test_concurrent_guarded_claims_never_share_an_invoice(store: Store) -> None:
    with store.session() as session:
        for n in range(60):
            session.add(_invoice(f"INV-{n}"))
    claims: Counter[int] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            while True:
                with store.session() as session:
                    invoice = work.next_due(session, "p", InvoiceState.READY, T0)
                if invoice is None:
                    return
                with store.session() as session:
                    if not _claim(session, invoice, name, T0):
                        continue
                with lock:
                    claims[invoice.id] += 1
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(claims) == 60
    assert max(claims.values()) == 1


def test_named_lease_is_exclusive_until_it_expires(store: Store) -> None:
    with store.session() as session:
        assert work.acquire_lease(session, "submit:p", "w1", T0, 30)
    with store.session() as session:
        assert not work.acquire_lease(session, "submit:p", "w2", T0 + timedelta(seconds=10), 30)
        assert work.acquire_lease(session, "submit:p", "w1", T0 + timedelta(seconds=10), 30)  # renewal
    with store.session() as session:
        assert work.acquire_lease(session, "submit:p", "w2", T0 + timedelta(seconds=41), 30)
    with store.session() as session:
        work.release_lease(session, "submit:p", "w1")  # not the owner: changes nothing
        assert session.get(LeaseRow, "submit:p").owner == "w2"  # type: ignore[union-attr]


def test_sqlite_file_is_created_with_its_folder(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'deep' / 'er' / 'hub.db'}")
    store.migrate()
    assert (tmp_path / "deep" / "er" / "hub.db").exists()
    store.dispose()


def test_unsupported_url_is_a_config_error() -> None:
    from hub.errors import ConfigError

    with pytest.raises(ConfigError, match="only sqlite and postgresql"):
        Store("mysql://root@127.0.0.1/test")


def test_daemons_starting_together_migrate_once(pg_database: str) -> None:
    """Four daemons starting at once on an empty PostgreSQL database must not race to create tables."""
    from hub.store.database import normalise_url

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        try:
            store = Store(normalise_url(pg_database))
            barrier.wait()
            store.migrate()
            store.dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
