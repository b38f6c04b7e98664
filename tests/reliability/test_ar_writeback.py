"""AR write-back under faults: the AR database locked by another writer, or its table gone. Events wait
in the outbox and arrive once, in order, when the AR system is back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlmodel import col, select

from hub.ar.sql import SqlArAdapter
from hub.clock import ManualClock
from hub.config import ArConfig
from hub.store.tables import OutboxRow
from status_sync.feedback import deliver
from tests.factories import SUPPLIER, T0, ListAr, make_hub, make_invoice

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def _ar(path: Path) -> SqlArAdapter:
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / "ar_schema.sql").read_text())
    db.close()
    # A short lock wait: the test holds the lock on purpose and the feedback must give up, not hang.
    adapter = SqlArAdapter(ArConfig(url=f"sqlite:///{path}"), SUPPLIER)
    adapter.engine.dispose()
    from sqlalchemy import create_engine

    adapter.engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2})
    return adapter


def _pending(hub) -> int:  # type: ignore[no-untyped-def]
    with hub.store.session() as session:
        return len(session.exec(select(OutboxRow).where(col(OutboxRow.delivered_at).is_(None))).all())


def test_a_locked_ar_database_delays_events_and_they_arrive_once(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    source = ListAr()
    for n in range(3):
        source.add(make_invoice(f"INV-{n}"))
    clock = ManualClock(T0)
    hub = make_hub(tmp_path, coupa.server.url, ar=source, clock=clock)
    from hub.pipeline.intake import ingest

    ingest(hub)
    hub.ar_sink = _ar(tmp_path / "ar.db")
    blocker = sqlite3.connect(tmp_path / "ar.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another program holds the AR database
    report = deliver(hub)
    assert report.delivered == 0 and report.failed > 0 and "locked" in (report.error or "")
    waiting = _pending(hub)
    assert waiting == report.failed
    blocker.execute("ROLLBACK")
    blocker.close()
    assert deliver(hub).delivered == 0  # not before its retry time
    clock.advance(minutes=2)
    assert deliver(hub).delivered == waiting
    assert deliver(hub).delivered == 0
    db = sqlite3.connect(tmp_path / "ar.db")
    count, distinct = db.execute("SELECT count(*), count(DISTINCT event_id) FROM ar_portal_status").fetchone()
    db.close()
    assert count == distinct == waiting
    hub.close()


def test_a_missing_ar_table_keeps_every_event_until_it_is_back(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    source = ListAr()
    source.add(make_invoice("INV-1"))
    clock = ManualClock(T0)
    hub = make_hub(tmp_path, coupa.server.url, ar=source, clock=clock)
    from hub.pipeline.intake import ingest

    ingest(hub)
    hub.ar_sink = _ar(tmp_path / "ar.db")
    db = sqlite3.connect(tmp_path / "ar.db")
    db.execute("ALTER TABLE ar_portal_status RENAME TO ar_portal_status_away")  # a migration half done
    db.commit()
    failed = deliver(hub)
    assert failed.delivered == 0 and "ar_portal_status" in (failed.error or "")
    db.execute("ALTER TABLE ar_portal_status_away RENAME TO ar_portal_status")
    db.commit()
    db.close()
    clock.advance(hours=1)
    assert deliver(hub).delivered == failed.failed
    assert _pending(hub) == 0
    hub.close()
