"""Per-profile health: a profile that cannot work is marked once with its reason (status, show, the
worklist, the digests), backs off instead of failing every tick, is held until a person acts when the
fix is in a file, and never turns a problem of the profile into a rejection of an invoice."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select
from typer.testing import CliRunner

from cli import app
from connectors.sandbox.coupa import CoupaSandbox
from hub import profile_health
from hub.clock import ManualClock
from hub.daemon import Daemon
from hub.errors import ProfileUnavailableError
from hub.notify.health import incidents
from hub.runtime import Hub
from hub.services import release_profile, status_summary, timeline
from hub.store.database import Store
from hub.store.tables import AttemptRow, InvoiceRow, OutboxRow
from hub.worklist import worklist
from tests.factories import SUPPLIER, T0, ListAr, make_hub, make_invoice, profile_yaml
from tests.hub.test_daemon_profiles import add_ar_invoices

UNSET = "PORTALHUB_TEST_SECRET_NEVER_SET"


@pytest.mark.parametrize("backend", ["sqlite_store", "pg_store"])
def test_transitions_are_reported_once_and_failures_back_off(
    backend: str, request: pytest.FixtureRequest
) -> None:
    store: Store = request.getfixturevalue(backend)
    now = T0
    with store.session() as session:
        assert profile_health.mark_failing(session, "p", kind="config", reason="no secret", now=now)
        assert not profile_health.mark_failing(session, "p", kind="config", reason="no secret", now=now)
        first = profile_health.health_of(session, "p")
        assert first.state == "failing" and first.failures == 2 and first.since == now
        assert first.next_try_at == now + profile_health.backoff(2) > now + profile_health.backoff(1)
        assert not profile_health.may_work(first, now) and profile_health.may_work(first, first.next_try_at)
        assert profile_health.mark_ok(session, "p", now) and not profile_health.mark_ok(session, "p", now)
        assert profile_health.health_of(session, "p").working
        assert profile_health.backoff(50) == profile_health.BACKOFF_MAX

        assert profile_health.hold(
            session, "p", kind="recipe", reason="page changed", now=now, fingerprint="f1"
        )
        assert not profile_health.hold(session, "p", kind="recipe", reason="page changed", now=now)
        held = profile_health.health_of(session, "p")
        assert not profile_health.mark_ok(session, "p", now)  # a hold ends by a person, not by a success
        assert not profile_health.may_work(held, now + timedelta(days=30), None)
        assert profile_health.may_work(held, now, "f2")  # its files changed
        assert "portalhub profile release p" in held.describe()
        before = profile_health.release(session, "p", "cli:ops", now)
        assert before is not None and before.kind == "recipe"
        assert profile_health.release(session, "p", "cli:ops", now) is None
        assert profile_health.health_of(session, "p").released_by == "cli:ops"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def ar() -> ListAr:
    return ListAr()


def _hub(tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock, **changes: object) -> Hub:
    assert coupa.server is not None
    spec = profile_yaml(coupa.server.url)
    spec["connection"].update(changes)
    return make_hub(tmp_path, coupa.server.url, ar=ar, clock=clock, profiles=[spec])


@pytest.fixture
def unset_secret_hub(
    tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hub]:
    monkeypatch.delenv(UNSET, raising=False)
    built = _hub(tmp_path, coupa, ar, clock, shared_secret=f"env:{UNSET}")
    yield built
    built.close()


def _row(hub: Hub, number: str) -> InvoiceRow:
    with hub.store.session() as session:
        return session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == number)).one()


def test_a_missing_secret_marks_the_profile_once_backs_off_and_recovers(
    unset_secret_hub: Hub,
    coupa: CoupaSandbox,
    ar: ListAr,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = unset_secret_hub
    daemon = Daemon(hub)
    ar.add(make_invoice("INV-1", customer="C-1"))
    daemon.ingest()
    caplog.set_level(logging.INFO)
    for _ in range(10):  # ten ticks 5 s apart, as the daemon's submit job would run
        daemon.submit("acme-coupa")
        clock.advance(timedelta(seconds=5))
    assert coupa.received == 0 and _row(hub, "INV-1").state == "READY"
    with hub.store.session() as session:
        health = profile_health.health_of(session, "acme-coupa")
    assert health.state == "failing" and health.kind == "config" and UNSET in (health.reason or "")
    assert health.failures == 2  # tried at 0 s and again after the 30 s backoff, not every tick
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "acme-coupa stopped working" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)  # no traceback

    # Shown where people look: status, show, the worklist, and the digests (once).
    summary = status_summary(hub)
    assert "failing (config)" in summary["profile_health"]["acme-coupa"]["summary"]
    assert any(a["invoice_number"] == "INV-1" and UNSET in a["why"] for a in summary["attention"])
    assert UNSET in timeline(hub, "INV-1")["invoice"]["profile_health"]["reason"]
    [item] = [r for r in worklist(hub) if r["invoice_number"] == "INV-1"]
    assert (
        item["category"] == "config" and item["who"].startswith("AR operations") and UNSET in item["reason"]
    )
    with hub.store.session() as session:
        found = incidents(session, list(hub.profiles.values()), clock.now(), timedelta(minutes=30))
        again = incidents(session, list(hub.profiles.values()), clock.now(), timedelta(minutes=30))
    assert [i.kind for i in found] == ["profile_config"] and [i.key for i in again] == [i.key for i in found]

    monkeypatch.setenv(UNSET, "the-shared-secret")  # fixed (the sandbox refuses it: credentials next)
    caplog.clear()
    clock.advance(timedelta(minutes=5))
    daemon.submit("acme-coupa")
    assert coupa.received == 1
    with hub.store.session() as session:
        health = profile_health.health_of(session, "acme-coupa")
    assert health.state == "failing" and health.kind == "credentials"


def test_a_secret_put_right_makes_the_profile_work_again(
    tmp_path: Path,
    coupa: CoupaSandbox,
    ar: ListAr,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.factories import SECRET

    monkeypatch.delenv(UNSET, raising=False)
    hub = _hub(tmp_path, coupa, ar, clock, shared_secret=f"env:{UNSET}")
    try:
        daemon = Daemon(hub)
        ar.add(make_invoice("INV-1", customer="C-1"))
        daemon.ingest()
        daemon.submit("acme-coupa")
        monkeypatch.setenv(UNSET, SECRET)
        caplog.set_level(logging.INFO)
        clock.advance(timedelta(minutes=1))
        report = daemon.submit("acme-coupa")
        assert report.sent == 1 and _row(hub, "INV-1").state == "SUBMITTED"
        with hub.store.session() as session:
            assert profile_health.health_of(session, "acme-coupa").working
        assert [r.getMessage() for r in caplog.records if "works again" in r.getMessage()] == [
            "profile acme-coupa works again (the portal answered)"
        ]
    finally:
        hub.close()


def test_a_profile_unavailable_error_holds_the_profile_and_never_rejects(
    tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = _hub(tmp_path, coupa, ar, clock)
    try:
        daemon = Daemon(hub)
        profile = hub.profiles["acme-coupa"]
        connector = hub.connector(profile)
        real_submit = connector.submit
        calls: list[str] = []

        def page_changed(document: object, profile: object) -> object:
            calls.append("submit")
            raise ProfileUnavailableError("the invoice form has no PO field any more", kind="recipe")

        monkeypatch.setattr(connector, "submit", page_changed)
        for number in ("INV-1", "INV-2"):
            ar.add(make_invoice(number, customer="C-1"))
        daemon.ingest()
        report = daemon.submit("acme-coupa")
        assert report.sent == 0 and report.outcomes == {"held": 1} and calls == ["submit"]
        assert {_row(hub, n).state for n in ("INV-1", "INV-2")} == {"READY"}
        with hub.store.session() as session:
            attempts = [(a.portal_invoice_number, a.outcome) for a in session.exec(select(AttemptRow))]
            states = [json.loads(o.payload)["state"] for o in session.exec(select(OutboxRow))]
            health = profile_health.health_of(session, "acme-coupa")
        assert attempts == [("INV-1", "not_sent")] and "REJECTED" not in states
        assert health.state == "held" and health.kind == "recipe"
        for _ in range(5):  # held: no tick touches the portal, whatever the time
            clock.advance(timedelta(hours=2))
            daemon.submit("acme-coupa")
            daemon.poll("acme-coupa")
        assert calls == ["submit"] and coupa.received == 0

        # An operator releases it: tried at the next tick (and held again, the cause is still there).
        assert release_profile(hub, "acme-coupa", "cli:ops") is not None
        daemon.submit("acme-coupa")
        assert calls == ["submit", "submit"]

        # The fix is in a file the profile is made of: the hold ends by itself.
        monkeypatch.setattr(connector, "submit", real_submit)
        rules_file = Path(profile.sources[0])
        rules_file.write_text(rules_file.read_text() + "# recipe updated\n", encoding="utf-8")
        report = daemon.submit("acme-coupa")
        assert report.sent == 2 and {_row(hub, n).state for n in ("INV-1", "INV-2")} == {"SUBMITTED"}
        with hub.store.session() as session:
            health = profile_health.health_of(session, "acme-coupa")
        assert health.working and health.released_by == "its files changed"
    finally:
        hub.close()


def test_profile_release_and_status_from_the_command_line(
    tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock
) -> None:
    hub = _hub(tmp_path, coupa, ar, clock)
    try:
        with hub.store.session() as session:
            profile_health.hold(
                session, "acme-coupa", kind="recipe", reason="the sign-in page moved", now=clock.now()
            )
    finally:
        hub.close()
    add_ar_invoices(tmp_path / "ar.db", "C-1", range(0))  # an AR database with no invoice yet
    config = tmp_path / "portalhub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "store_url": f"sqlite:///{tmp_path / 'hub.db'}",
                "rules_dir": str(tmp_path / "rules.d"),
                "secrets_file": str(tmp_path / "secrets.yaml"),
                "supplier": SUPPLIER.model_dump(mode="json"),
                "ar": {"kind": "sql", "url": f"sqlite:///{tmp_path / 'ar.db'}"},
            }
        )
    )
    runner = CliRunner()
    status = runner.invoke(app, ["--config", str(config), "status"])
    assert status.exit_code == 0, status.output
    assert "acme-coupa" in status.output and "the sign-in page moved" in status.output
    once = runner.invoke(app, ["--config", str(config), "run", "--once"])
    assert once.exit_code == 0 and "sent 0" in once.output and "held (recipe)" in once.output, once.output
    released = runner.invoke(app, ["--config", str(config), "profile", "release", "acme-coupa"])
    assert released.exit_code == 0 and "released" in released.output and "held (recipe)" in released.output
    again = runner.invoke(app, ["--config", str(config), "profile", "release", "acme-coupa"])
    assert again.exit_code == 0 and "nothing to release" in again.output
    data = json.loads(runner.invoke(app, ["--config", str(config), "status", "--json"]).output)
    assert data["profile_health"] == {}


def test_a_new_file_claiming_an_existing_customer_holds_the_customer_not_the_old_file(
    tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock
) -> None:
    assert coupa.server is not None
    hub = _hub(tmp_path, coupa, ar, clock)
    try:
        daemon = Daemon(hub)
        ar.add(make_invoice("INV-1", customer="C-1"))
        daemon.ingest()
        assert _row(hub, "INV-1").state == "READY"
        # The newcomer sorts first by name (the old loader blamed whichever file came second).
        newcomer = profile_yaml(coupa.server.url, profile_id="aa-newcomer", customers=("C-1", "C-9"))
        newcomer_file = Path(hub.config.rules_dir) / "aa-newcomer.yaml"
        newcomer_file.write_text(yaml.safe_dump(newcomer), encoding="utf-8")
        ar.add(make_invoice("INV-2", customer="C-1"))
        daemon.ingest()

        for number in ("INV-1", "INV-2"):
            row = _row(hub, number)
            assert row.state == "BLOCKED" and row.profile_id is None, number
            assert "already matched by acme-coupa, and now also by aa-newcomer" in (row.last_reason or "")
        assert hub.broken_profiles == {} and hub.route("C-1") is None
        with hub.store.session() as session:
            assert profile_health.health_of(session, "acme-coupa").working
            held = profile_health.health_of(session, "aa-newcomer")
        assert held.state == "held" and held.kind == "contested"
        for profile_id in ("acme-coupa", "aa-newcomer"):
            daemon.submit(profile_id)
        assert coupa.received == 0  # sent to nobody, least of all to the newcomer
        summary = status_summary(hub)
        assert "C-1" in summary["contested_customers"] and "aa-newcomer" in summary["profile_health"]
        # Another file changes: the newcomer is still the newcomer (held), the customer still waits.
        unrelated = profile_yaml(coupa.server.url, profile_id="other", customers=("C-5",))
        (Path(hub.config.rules_dir) / "other.yaml").write_text(yaml.safe_dump(unrelated), encoding="utf-8")
        daemon.ingest()
        with hub.store.session() as session:
            assert profile_health.health_of(session, "aa-newcomer").kind == "contested"
            assert profile_health.health_of(session, "acme-coupa").working
        assert "now also by aa-newcomer" in hub.contested["C-1"] and _row(hub, "INV-1").state == "BLOCKED"

        # A person decides: the newcomer gives the customer up. The invoices go to the old profile.
        newcomer["match"]["customer_id"] = ["C-9"]
        newcomer_file.write_text(yaml.safe_dump(newcomer), encoding="utf-8")
        daemon.ingest()
        assert {_row(hub, n).state for n in ("INV-1", "INV-2")} == {"READY"}
        assert {_row(hub, n).profile_id for n in ("INV-1", "INV-2")} == {"acme-coupa"}
        with hub.store.session() as session:
            assert profile_health.health_of(session, "aa-newcomer").working
        assert daemon.submit("acme-coupa").sent == 2 and coupa.received == 2
    finally:
        hub.close()


def test_a_broken_rules_file_holds_only_its_own_profile_and_is_released_when_fixed(
    tmp_path: Path, coupa: CoupaSandbox, ar: ListAr, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert coupa.server is not None
    hub = _hub(tmp_path, coupa, ar, clock)
    try:
        daemon = Daemon(hub)
        broken = Path(hub.config.rules_dir) / "acme-two.yaml"
        good = yaml.safe_dump(profile_yaml(coupa.server.url, profile_id="acme-two", customers=("C-2",)))
        broken.write_text(
            good.replace(
                "rules:", "rules:\n- id: x\n  field: po_number\n  pattern: '(?:(?:a{1000}){1000}){1000}'\n", 1
            )
        )
        caplog.set_level(logging.INFO)
        for number, customer in (("INV-1", "C-1"), ("INV-2", "C-2")):
            ar.add(make_invoice(number, customer=customer))
        for _ in range(3):
            daemon.ingest()
            clock.advance(timedelta(seconds=5))
        assert set(hub.profiles) == {"acme-coupa"}
        assert _row(hub, "INV-1").state == "READY" and _row(hub, "INV-2").state == "BLOCKED"
        with hub.store.session() as session:
            held = profile_health.health_of(session, "acme-two")
        assert held.state == "held" and held.kind == "rules" and "acme-two.yaml:" in (held.reason or "")
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "acme-two.yaml" in errors[0].getMessage() and not errors[0].exc_info
        assert daemon.submit("acme-coupa").sent == 1
        broken.write_text(good.replace("connector: coupa", "connector: coupa\nnot_a_key: 1"))  # broken anew
        daemon.ingest()
        daemon.ingest()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 2 and "not_a_key" in errors[1].getMessage()  # a new problem: said once more

        broken.write_text(good)  # fixed
        daemon.ingest()
        assert _row(hub, "INV-2").state == "READY"
        with hub.store.session() as session:
            assert profile_health.health_of(session, "acme-two").working
        assert daemon.submit("acme-two").sent == 1
    finally:
        hub.close()
