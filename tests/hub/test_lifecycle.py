"""The state machine: allowed moves, append-only events, and feedback queued with every change."""

from __future__ import annotations

import pytest
from sqlmodel import select

from hub.lifecycle import ALLOWED, TransitionError, can_move, move, record_creation
from hub.model import InvoiceState
from hub.store.database import Store
from hub.store.tables import EventRow, OutboxRow
from tests.factories import T0
from tests.store.test_store import _invoice

S = InvoiceState


def test_every_state_has_its_moves_declared() -> None:
    assert set(ALLOWED) == set(InvoiceState)


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        (S.NEW, S.READY, True),
        (S.NEW, S.SUBMITTED, False),  # nothing reaches a portal without pre-flight and an attempt
        (S.READY, S.SUBMITTING, True),
        (S.READY, S.SUBMITTED, False),
        (S.SUBMITTING, S.IN_DOUBT, True),
        (S.IN_DOUBT, S.SUBMITTING, False),  # reconcile first: never resent blind
        (S.IN_DOUBT, S.READY, True),
        (S.SUBMITTED, S.READY, False),  # an accepted invoice is not resent by the pipeline
        (S.REJECTED, S.READY, True),  # a corrected invoice
        (S.DISPUTED, S.READY, True),
        (S.PAID, S.READY, False),
        (S.BLOCKED, S.SUBMITTING, False),
        (S.APPROVED, S.PAID, True),
    ],
)
def test_moves(source: InvoiceState, target: InvoiceState, allowed: bool) -> None:
    assert can_move(source, target) is allowed


def test_a_refused_move_changes_nothing(sqlite_store: Store) -> None:
    with sqlite_store.session() as session:
        row = _invoice("INV-1", S.READY)
        session.add(row)
    with pytest.raises(TransitionError, match="READY -> PAID"), sqlite_store.session() as session:
        move(session, row, S.PAID, actor="t", now=T0)
    with sqlite_store.session() as session:
        assert session.exec(select(EventRow)).all() == []
        assert session.exec(select(OutboxRow)).all() == []


def test_each_move_is_an_event_and_a_queued_feedback_in_one_transaction(sqlite_store: Store) -> None:
    with sqlite_store.session() as session:
        row = _invoice("INV-1", S.NEW)
        session.add(row)
        session.flush()
        record_creation(session, row, actor="ar:t", reason="received")
        move(session, row, S.READY, actor="t", now=T0, reason="passed pre-flight")
    with pytest.raises(RuntimeError), sqlite_store.session() as session:
        move(session, row, S.SUBMITTING, actor="t", now=T0)
        raise RuntimeError("crash before commit")
    with sqlite_store.session() as session:
        events = session.exec(select(EventRow).order_by(EventRow.id)).all()  # type: ignore[arg-type]
        outbox = session.exec(select(OutboxRow)).all()
    assert [(e.from_state, e.to_state) for e in events] == [(None, "NEW"), ("NEW", "READY")]
    assert sorted(o.event_key for o in outbox) == sorted(f"evt-{e.id}" for e in events)


def test_dedupe_key_records_an_event_once(sqlite_store: Store) -> None:
    with sqlite_store.session() as session:
        row = _invoice("INV-1", S.SUBMITTED)
        session.add(row)
        session.flush()
        assert move(session, row, S.APPROVED, actor="p", now=T0, dedupe_key="k1") is not None
        assert move(session, row, S.APPROVED, actor="p", now=T0, dedupe_key="k1") is None
    with sqlite_store.session() as session:
        assert len(session.exec(select(EventRow)).all()) == 1
