"""The read-only commands' SQL (hub/store_reader.py, through sqlite3 / psycopg) answers exactly what the
ORM path (hub/services.py) answers on the same store: `status`, `show` (by every number, and the
refusals for unknown and quarantined numbers), the next step, the worklist with its filters and typo
checks, and the quarantine list; on SQLite and on PostgreSQL. The store holds a case of every branch:
blocked with rules, rejected, corrected and disputed, waiting on credentials or on a held profile, an
unanswered send, a duplicate nobody could compare, sends in flight and stale, a portal down, a failing
poll, statuses not placed, quarantined records, daemons alive and stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from hub import readonly, services
from hub.clock import ManualClock
from hub.config import DaemonConfig
from hub.errors import ConfigError
from hub.readonly import ReadOnlyHub, StoreView
from hub.store.database import HEAD, Store
from hub.store.tables import (
    AttemptRow,
    CursorRow,
    DaemonRow,
    EventRow,
    InvoiceRow,
    ProfileHealthRow,
    QuarantineRow,
    UnplacedStatusRow,
)
from hub.store_reader import StoreReader, display_url
from hub.store_schema import StoreSchemaError, require_current_schema
from tests.factories import T0

NOW = T0 + timedelta(days=3)
PROFILES = {"acme-coupa": "C-1001", "auth-p": "C-2", "held-p": "C-3", "down-p": "C-4"}


def _rules(folder: Path) -> Path:
    folder.mkdir()
    for profile_id, customer in PROFILES.items():
        (folder / f"{profile_id}.yaml").write_text(
            f"id: {profile_id}\nbuyer: B\nconnector: coupa\nmatch: {{customer_id: [{customer}]}}\n"
            "connection: {}\nrules: []\n"
        )
    (folder / "broken.yaml").write_text("id: broken\nconnector: coupa\nmatch: {customer_id: [C-9]\n")
    return folder


class _Writer:
    def __init__(self, store: Store):
        self.store = store
        self.sends = 0

    def invoice(self, number: str, state: str, profile: str | None, **fields: Any) -> int:
        customer = fields.pop("customer_id", PROFILES.get(profile or "", "C-0"))
        events = fields.pop("events", [])
        attempts = fields.pop("attempts", [])
        with self.store.session() as session:
            row = InvoiceRow(
                source="ar",
                ar_key=number,
                invoice_number=number,
                customer_id=customer,
                profile_id=profile,
                purpose=fields.pop("purpose", "invoice"),
                currency=fields.pop("currency", "USD"),
                total=Decimal(fields.pop("total", "500")),
                invoice_date=T0.date(),
                state=state,
                content_hash="h",
                document="{}",
                created_at=T0,
                updated_at=fields.pop("updated_at", T0 + timedelta(hours=1)),
                **fields,
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            ids: dict[str, int] = {}
            for name, send in attempts:
                self.sends += 1
                attempt = AttemptRow(
                    invoice_id=row.id,
                    revision=1,
                    payload_id=f"pl-{self.sends}",
                    profile_id=profile or "-",
                    connector="coupa",
                    worker_id="w",
                    **send,
                )
                session.add(attempt)
                session.flush()
                assert attempt.id is not None
                ids[name] = attempt.id
            for minutes, (from_state, to_state, extra) in enumerate(events):
                send_name = extra.pop("attempt", None)
                details = extra.pop("details", None)
                session.add(
                    EventRow(
                        invoice_id=row.id,
                        at=T0 + timedelta(minutes=minutes),
                        actor="daemon:w",
                        from_state=from_state,
                        to_state=to_state,
                        attempt_id=ids[send_name] if send_name else None,
                        details=json.dumps(details) if details is not None else None,
                        **extra,
                    )
                )
            return row.id


def _fill(store: Store) -> None:
    w = _Writer(store)
    violation = {
        "rule_id": "acme-po-format",
        "source": "/rules/acme-coupa.yaml:12",
        "field": "po_number",
        "value": "PO-1",
        "expected": "^PO-\\d{6}$",
        "message": "ACME PO numbers look like PO-123456",
        "hint": "Fix the PO in AR",
        "severity": "error",
    }
    w.invoice(
        "INV-1",
        "BLOCKED",
        "acme-coupa",
        last_reason="acme-po-format",
        last_category="po",
        events=[
            (None, "NEW", {}),
            ("NEW", "BLOCKED", {"category": "po", "details": {"violations": [violation]}}),
            ("BLOCKED", "BLOCKED", {"category": "po", "details": {"violations": [violation]}}),
        ],
    )
    w.invoice(
        "INV-2",
        "REJECTED",
        "acme-coupa",
        total="1500",
        currency="JPY",
        last_reason="PO not found",
        last_category="po",
        events=[
            (None, "NEW", {}),
            ("NEW", "READY", {}),
            ("READY", "SUBMITTING", {"attempt": "a"}),
            ("SUBMITTING", "REJECTED", {"attempt": "a", "category": "po", "reason": "PO not found"}),
        ],
        attempts=[
            (
                "a",
                {
                    "portal_invoice_number": "INV-2",
                    "outcome": "rejected",
                    "started_at": T0 + timedelta(minutes=2),
                    "portal_code": "400",
                    "portal_text": "PO not found",
                    "duration_ms": 120,
                    "http_status": 400,
                },
            )
        ],
    )
    w.invoice(
        "INV-3",
        "DISPUTED",
        "acme-coupa",
        total="12.5",
        currency="KWD",
        portal_invoice_number="INV-3-R2",
        portal_invoice_id="c-3",
        last_reason="price too high",
        last_category="price_quantity",
        events=[
            (None, "NEW", {}),
            ("NEW", "SUBMITTING", {"attempt": "a"}),
            ("SUBMITTING", "REJECTED", {"attempt": "a", "category": "price_quantity"}),
            ("REJECTED", "SUBMITTING", {"attempt": "b"}),
            ("SUBMITTING", "SUBMITTED", {"attempt": "b"}),
            (
                "SUBMITTED",
                "DISPUTED",
                {
                    "category": "price_quantity",
                    "raw_status": "disputed",
                    "details": {"update": {"reason": "price too high", "reason_code": "D1"}},
                },
            ),
            ("DISPUTED", "DISPUTED", {"reason": "a note"}),
        ],
        attempts=[
            (
                "a",
                {
                    "portal_invoice_number": "INV-3",
                    "outcome": "rejected",
                    "started_at": T0 + timedelta(minutes=1),
                    "portal_text": "price differs from the PO",
                },
            ),
            (
                "b",
                {
                    "portal_invoice_number": "INV-3-R1",
                    "outcome": "accepted",
                    "started_at": T0 + timedelta(minutes=3),
                },
            ),
        ],
    )
    w.invoice(
        "INV-4",
        "READY",
        "auth-p",
        last_reason="login refused",
        last_category="credentials",
        events=[(None, "NEW", {}), ("NEW", "READY", {"category": "credentials", "reason": "login refused"})],
        attempts=[
            (
                "a",
                {
                    "portal_invoice_number": "INV-4",
                    "outcome": "auth",
                    "started_at": NOW - timedelta(hours=5),
                    "error": "401 bad secret",
                },
            )
        ],
    )
    w.invoice("INV-5", "READY", "held-p", events=[(None, "NEW", {}), ("NEW", "READY", {})])
    w.invoice(
        "INV-6",
        "IN_DOUBT",
        "acme-coupa",
        last_reason="no answer",
        events=[(None, "NEW", {}), ("NEW", "SUBMITTING", {"attempt": "a"}), ("SUBMITTING", "IN_DOUBT", {})],
        attempts=[
            (
                "a",
                {
                    "portal_invoice_number": "INV-6",
                    "outcome": "in_doubt",
                    "started_at": T0,
                    "error": "timeout",
                },
            )
        ],
    )
    w.invoice(
        "INV-7",
        "SUBMITTED",
        "acme-coupa",
        last_category="duplicate",
        events=[
            (None, "NEW", {}),
            ("NEW", "SUBMITTED", {"category": "duplicate", "details": {"evidence": {"compared": False}}}),
        ],
    )
    w.invoice(
        "INV-8", "SUBMITTING", "acme-coupa", lease_owner="w", lease_expires_at=NOW + timedelta(minutes=5)
    )
    w.invoice("INV-9", "SUBMITTING", "acme-coupa", lease_owner="w", lease_expires_at=NOW - timedelta(hours=1))
    w.invoice("INV-10", "PAID", "acme-coupa", events=[(None, "NEW", {}), ("NEW", "PAID", {})])
    w.invoice(
        "CM-10",
        "BLOCKED",
        "acme-coupa",
        purpose="credit_memo",
        total="-100",
        original_invoice_number="INV-10",
    )
    w.invoice(
        "INV-11",
        "READY",
        "acme-coupa",
        last_reason="503 from the portal",
        next_attempt_at=NOW + timedelta(minutes=10),
    )
    w.invoice("INV-12", "REJECTED", None, customer_id="C-8", last_category="other")
    w.invoice(
        "INV-13",
        "READY",
        "down-p",
        attempts=[
            (
                "a",
                {
                    "portal_invoice_number": "INV-13",
                    "outcome": outcome,
                    "started_at": NOW - timedelta(hours=2, minutes=n),
                    "portal_text": "503",
                },
            )
            for n, outcome in enumerate(("transient", "transient", "abandoned", "pending"))
        ],
    )
    with store.session() as session:
        session.add(
            ProfileHealthRow(
                profile_id="held-p",
                state="held",
                kind="rules",
                reason="rules file does not load",
                since=NOW - timedelta(days=1),
                updated_at=NOW - timedelta(days=1),
            )
        )
        session.add(ProfileHealthRow(profile_id="acme-coupa", state="ok", updated_at=T0))
        session.add(
            CursorRow(
                profile_id="acme-coupa",
                cursor="c1",
                polled_at=NOW - timedelta(hours=1),
                requests=3,
                last_error=f"{(NOW - timedelta(minutes=5)).isoformat()}: 500 from the listing",
            )
        )
        session.add(CursorRow(profile_id="down-p", cursor=None, polled_at=None, requests=0))
        for n, (number, resolved) in enumerate((("INV-Q1", None), ("INV-Q2", NOW), (None, None))):
            session.add(
                QuarantineRow(
                    source="ar",
                    ar_key=f"rec-{n}",
                    invoice_number=number,
                    reason=f"currency 'US' is not ISO 4217 ({n})",
                    record="{}",
                    content_hash=f"q{n}",
                    first_seen=T0 + timedelta(hours=n),
                    last_seen=T0 + timedelta(hours=2 * n),
                    resolved_at=resolved,
                )
            )
        for n, (number, invoice_id, resolved) in enumerate(
            (("INV-10", 10, None), ("INV-404", None, None), ("inv-10", None, NOW))
        ):
            session.add(
                UnplacedStatusRow(
                    dedupe_key=f"u{n}",
                    received_at=T0 + timedelta(hours=n),
                    profile_id="acme-coupa",
                    problem="unknown-type" if invoice_id else "unknown-invoice",
                    explanation="a status type with no known meaning",
                    invoice_number=number,
                    invoice_id=invoice_id,
                    status_kind="DocumentStatus",
                    status_type="awaiting_receipt",
                    comments="Waiting for the goods receipt.",
                    details="{}",
                    resolved_at=resolved,
                )
            )
        for worker, seen, stopped in (("d1", NOW - timedelta(seconds=20), None), ("d2", T0, T0)):
            session.add(
                DaemonRow(
                    worker_id=worker,
                    host="h",
                    pid=1,
                    version="1",
                    started_at=T0,
                    last_seen_at=seen,
                    stopped_at=stopped,
                    heartbeat_seconds=15,
                    jobs=json.dumps({"submit": {"outcome": "ok"}}),
                )
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Store:
    return cast(
        Store, request.getfixturevalue(f"{request.param}_store" if request.param == "sqlite" else "pg_store")
    )


@pytest.fixture
def both(store: Store, tmp_path: Path) -> Iterator[tuple[ReadOnlyHub, StoreView]]:
    _fill(store)
    config = cast(
        Any,
        SimpleNamespace(
            rules_dir=_rules(tmp_path / "rules"),
            daemon=DaemonConfig(),
            notifications=None,
            store_url=store.url,
        ),
    )
    reader = StoreReader.open(store.url)
    assert reader is not None and reader.revision() == HEAD
    view = StoreView(config, reader, ManualClock(NOW))
    yield ReadOnlyHub(config, store, ManualClock(NOW)), view
    view.close()


def _error(call: Any) -> tuple[type, str]:
    with pytest.raises(ConfigError) as caught:
        call()
    return type(caught.value), str(caught.value)


def test_status_is_the_same(both: tuple[ReadOnlyHub, StoreView]) -> None:
    orm, view = both
    expected = services.status_summary(orm)
    assert readonly.status_summary(view) == expected
    assert readonly.status_summary(orm) == expected  # a hub with an ORM store: a borrowed connection
    # The cases are there: otherwise the comparison proves little.
    assert {a["invoice_number"] for a in expected["attention"]} == {
        "INV-4",
        "INV-5",
        "INV-6",
        "INV-9",
        "INV-11",
    }
    assert set(expected["portals_not_working"]) == {"acme-coupa", "auth-p", "down-p"}
    assert set(expected["profile_health"]) == {"held-p"} and expected["quarantined"] == 2
    assert [d["alive"] for d in expected["daemons"]] == [True, False]
    assert expected["broken_rules_files"] and expected["profiles"]["(no profile)"] == {"REJECTED": 1}


@pytest.mark.parametrize(
    "number",
    [
        "INV-1",
        "INV-2",
        "inv-3",
        "INV-3-R2",
        "inv-3-r1",
        "INV-4",
        "INV-5",
        "INV-6",
        "INV-7",
        "INV-10",
        "INV-12",
    ],
)
def test_show_is_the_same(both: tuple[ReadOnlyHub, StoreView], number: str) -> None:
    orm, view = both
    expected = services.timeline(orm, number)
    expected["next_step"] = services.next_step(orm, expected["invoice"])
    found = readonly.timeline(view, number)
    found["next_step"] = readonly.next_step(view, found["invoice"])
    assert found == expected
    if number == "inv-3-r1":  # by an earlier send's number: corrections and the dispute's words
        assert found["invoice"]["invoice_number"] == "INV-3" and found["corrections"]
        assert found["invoice"]["total"] == "12.500" and found["next_step"]["category"] == "disputed"
    if number == "INV-10":
        assert found["related"] and found["unplaced_statuses"]


@pytest.mark.parametrize("number", ["INV-Q1", "inv-q2", "rec-2", "INV-404", "NOPE"])
def test_unknown_and_quarantined_numbers_are_refused_the_same(
    both: tuple[ReadOnlyHub, StoreView], number: str
) -> None:
    orm, view = both
    expected = _error(lambda: services.timeline(orm, number))
    assert _error(lambda: readonly.timeline(view, number)) == expected
    assert ("is quarantined" in expected[1]) == (number in ("INV-Q1", "rec-2"))


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"customer": "C-1001"},
        {"portal": "held-p"},
        {"categories": ("po", "unconfirmed")},
        {"older_than_days": 2},
        {"since": NOW - timedelta(days=1)},
        {"min_amount": Decimal("600")},
    ],
)
def test_the_worklist_is_the_same(both: tuple[ReadOnlyHub, StoreView], filters: dict[str, Any]) -> None:
    orm, view = both
    expected = services.rejections(orm, **filters)
    assert readonly.rejections(view, **filters) == expected
    if not filters:
        assert {r["category"] for r in expected} >= {
            "po",
            "disputed",
            "credentials",
            "config",
            "unconfirmed",
            "unplaced_status",
            "other",
        }


@pytest.mark.parametrize(
    "filters", [{"portal": "acme-copa"}, {"customer": "c-1001"}, {"customer": "C-0000"}, {"customer": "C-8"}]
)
def test_filter_typos_are_refused_the_same(
    both: tuple[ReadOnlyHub, StoreView], filters: dict[str, Any]
) -> None:
    orm, view = both
    wanted = {"customer": None, "portal": None, **filters}
    try:
        services.check_worklist_filter(orm, **wanted)
    except ConfigError as exc:
        assert _error(lambda: readonly.check_worklist_filter(view, **wanted)) == (type(exc), str(exc))
    else:
        readonly.check_worklist_filter(view, **wanted)
        assert filters == {"customer": "C-8"}  # held in the store, matched by no profile


@pytest.mark.parametrize("resolved", [False, True])
def test_quarantine_is_the_same(both: tuple[ReadOnlyHub, StoreView], resolved: bool) -> None:
    orm, view = both
    expected = services.quarantined(orm, resolved=resolved)
    assert readonly.quarantined(view, resolved=resolved) == expected
    assert len(expected) == (3 if resolved else 2)


def test_the_schema_check_reads_the_revision_and_masks_the_password(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'new.db'}"
    assert StoreReader.open(missing) is None and not (tmp_path / "new.db").exists()  # reading creates nothing
    (tmp_path / "notes.db").write_text("not a database")
    reader = StoreReader.open(f"sqlite:///{tmp_path / 'notes.db'}")
    assert reader is not None and reader.revision() is None
    reader.close()
    url = "postgresql://portalhub:s3cret@db.example:5433/hub"
    shown = display_url(url)
    assert shown == Store(url).display_url() and "s3cret" not in shown
    assert display_url(missing) == Store(missing).display_url()


def test_a_new_postgresql_store_is_refused_with_what_to_run(pg_database: str) -> None:
    reader = StoreReader.open(pg_database)
    assert reader is not None
    try:
        assert reader.revision() is None
    finally:
        reader.close()
    with pytest.raises(StoreSchemaError, match="has no portalhub tables yet: run `portalhub migrate`"):
        require_current_schema(pg_database)
