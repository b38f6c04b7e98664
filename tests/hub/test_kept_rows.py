"""The worklist's rows kept between `portalhub rejections` commands (hub/readonly/kept_rows.py): a kept
row is used only while its invoice is unchanged, and the answer is always the one the ORM path works out
from every event (hub/services.py), on SQLite and PostgreSQL: after the daemon moves an invoice, after a
late answer to a send (the one write that appends no event), as days pass, with filters, and whatever
state the kept file is in."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from hub import lifecycle, readonly, services
from hub.clock import ManualClock
from hub.readonly import ReadOnlyHub, StoreView
from hub.readonly.kept import cache_dir
from hub.states import InvoiceState
from hub.store.tables import AttemptRow, InvoiceRow, ProfileHealthRow
from hub.store_reader import StoreReader
from tests.hub.test_store_reader import NOW, both, store  # noqa: F401 (fixtures)

Both = tuple[ReadOnlyHub, StoreView]


@pytest.fixture
def histories(monkeypatch: pytest.MonkeyPatch) -> list[list[int] | None]:
    """The invoices whose events each command read (None: every stuck invoice's, at once)."""
    asked: list[list[int] | None] = []
    original = StoreReader.histories

    def spy(self: StoreReader, stuck: Any, ids: Any) -> Any:
        asked.append(None if ids is None else sorted(ids))
        return original(self, stuck, ids)

    monkeypatch.setattr(StoreReader, "histories", spy)
    return asked


def _ask(orm: ReadOnlyHub, **filters: Any) -> list[dict[str, Any]]:
    """`portalhub rejections` as a command asks it: a view of its own (one snapshot of the store)."""
    reader = StoreReader.open(orm.store.url)
    assert reader is not None
    view = StoreView(orm.config, reader, orm.clock)
    try:
        return readonly.rejections(view, **filters)
    finally:
        view.close()


def _ids(orm: ReadOnlyHub, *numbers: str) -> list[int]:
    with orm.store.session() as session:
        found = session.exec(select(InvoiceRow.id).where(InvoiceRow.invoice_number.in_(numbers))).all()  # type: ignore[attr-defined]
    return sorted(i for i in found if i is not None)


def test_a_second_command_reads_no_history_and_answers_the_same(
    both: Both,  # noqa: F811
    histories: list[list[int] | None],
) -> None:
    orm, _ = both
    expected = services.rejections(orm)
    assert _ask(orm) == expected  # rows made from every history, then kept
    assert _ask(orm) == expected  # from the kept rows
    # INV-5 waits on a profile that cannot work: its row says why, from the profile's health, and is
    # made at every command; every other row came from the kept file.
    assert histories == [None, _ids(orm, "INV-5")]
    filtered = services.rejections(orm, customer="C-1001", older_than_days=1)
    assert filtered and _ask(orm, customer="C-1001", older_than_days=1) == filtered
    assert histories[-1] == []  # INV-5 is not C-1001's
    # The file is its owner's only: rows name customers, amounts and the portals' words.
    (kept,) = _kept_files(orm)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def _kept_files(orm: ReadOnlyHub) -> list[Path]:
    name = f"rows-{hashlib.sha256(orm.store.url.encode()).hexdigest()[:16]}.json"
    return [p for p in cache_dir().glob("rows-*.json") if p.name == name]


def test_an_invoice_the_daemon_moved_is_made_again(both: Both, histories: list[list[int] | None]) -> None:  # noqa: F811
    orm, _ = both
    before = _ask(orm)
    with orm.store.session() as session:
        invoice = session.exec(select(InvoiceRow).where(InvoiceRow.invoice_number == "INV-2")).one()
        lifecycle.move(
            session,
            invoice,
            InvoiceState.DISPUTED,
            actor="portal",
            now=NOW - timedelta(hours=5),
            reason="the buyer disputes the price",
            category="price_quantity",
            raw_status="disputed",
        )
    after = _ask(orm)
    assert after == services.rejections(orm) and after != before
    (row,) = [r for r in after if r["invoice_number"] == "INV-2"]
    assert row["state"] == "DISPUTED" and row["category"] == "disputed"
    assert histories[-1] == _ids(orm, "INV-2", "INV-5")  # the changed invoice's events (and INV-5's)


def test_a_late_answer_to_a_send_is_seen(both: Both, histories: list[list[int] | None]) -> None:  # noqa: F811
    """A send's answer that arrives after the send was given up on is written on the attempt alone, with
    no event (hub/pipeline/outcome.py): the row shows it all the same."""
    orm, _ = both
    before = {r["invoice_number"]: r for r in _ask(orm)}
    assert before["INV-6"]["last_answer"] == "timeout"
    with orm.store.session() as session:
        attempt = session.exec(select(AttemptRow).where(AttemptRow.invoice_id == _ids(orm, "INV-6")[0])).one()
        attempt.portal_code, attempt.portal_text = "201", "accepted"
        attempt.outcome, attempt.finished_at = "late-accepted", NOW - timedelta(hours=1)
        session.add(attempt)
    after = _ask(orm)
    assert after == services.rejections(orm)
    assert {r["invoice_number"]: r for r in after}["INV-6"]["last_answer"] == "201 accepted"
    assert histories[-1] == _ids(orm, "INV-5", "INV-6")


def test_a_profile_that_stops_working_makes_its_waiting_rows_again(
    both: Both,  # noqa: F811
    histories: list[list[int] | None],
) -> None:
    """INV-4 waits on refused credentials (READY): its row is kept while its profile works. Once the
    profile is held, the row says why from the profile's health, with the invoice's history."""
    orm, _ = both
    _ask(orm)
    with orm.store.session() as session:
        session.add(
            ProfileHealthRow(
                profile_id="auth-p",
                state="held",
                kind="credentials",
                reason="login refused three times",
                since=NOW - timedelta(hours=2),
                updated_at=NOW - timedelta(hours=2),
            )
        )
    after = _ask(orm)
    assert after == services.rejections(orm)
    (row,) = [r for r in after if r["invoice_number"] == "INV-4"]
    assert row["reason"].startswith("waits: profile auth-p")
    assert histories[-1] == _ids(orm, "INV-4", "INV-5")


def test_days_pass_for_kept_rows(both: Both) -> None:  # noqa: F811
    orm, _ = both
    first = _ask(orm)
    orm = ReadOnlyHub(orm.config, orm.store, ManualClock(NOW + timedelta(days=9)))
    again = _ask(orm)
    assert again == services.rejections(orm)
    assert [r["days"] for r in again] != [r["days"] for r in first]


@pytest.mark.parametrize("damage", ["garbage", "another key", "unwritable"])
def test_a_kept_file_that_cannot_be_trusted_is_made_again(
    both: Both,  # noqa: F811
    damage: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    orm, _ = both
    expected = services.rejections(orm)
    if damage == "unwritable":
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        monkeypatch.setenv("PORTALHUB_CACHE_DIR", str(blocker / "cache"))
        assert _ask(orm) == expected
        assert _ask(orm) == expected
        return
    _ask(orm)
    (kept,) = _kept_files(orm)
    if damage == "garbage":
        kept.write_text('{"key": ')
    else:  # a file from another version of the code or store: its rows are not used
        content = kept.read_text().replace('"key":"', '"key":"0', 1)
        assert '"state":"REJECTED"' in content
        kept.write_text(content.replace('"state":"REJECTED"', '"state":"PAID"'))
    assert _ask(orm) == expected
    assert os.path.getsize(kept) > 100  # written again
