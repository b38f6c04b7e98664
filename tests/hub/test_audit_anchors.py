"""Anchors: whoever owns the database can rewrite the audit chains so that `audit verify` finds them whole
(each forgery below passes it, which is why anchors exist); signed checkpoints kept outside the database
catch every one, and a tampered anchors file is caught too."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli import app
from connectors.sandbox.coupa import CoupaSandbox
from hub import audit
from hub.audit_anchors import AnchorVerification, checkpoint, verify_anchors
from hub.clock import ManualClock, SystemClock
from hub.config import AuditConfig
from hub.corrections import resubmit
from hub.daemon import Daemon
from hub.errors import ConfigError
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.runtime import Hub
from hub.store.tables import EventRow
from tests.ar.support import CUSTOMERS, drop_fixture, hub_config
from tests.factories import T0, ListAr, make_hub, make_invoice
from tests.hub.test_audit import event_ids, raw

KEY = b"k" * 40
MAX_AGE = timedelta(hours=2, minutes=1)


@pytest.fixture
def ar() -> ListAr:
    return ListAr()


@pytest.fixture
def hub(tmp_path: Path, coupa: CoupaSandbox, ar: ListAr) -> Iterator[Hub]:
    """INV-1 accepted; INV-2 rejected, fixed in AR and resubmitted from the CLI; INV-3 accepted."""
    assert coupa.server is not None
    built = make_hub(tmp_path, coupa.server.url, ar=ar, clock=ManualClock(T0))
    ar.add(make_invoice("INV-1"))
    ar.add(make_invoice("INV-2", po="PO-999999"))
    ar.add(make_invoice("INV-3"))
    ingest(built)
    submit_profile(built, built.profile("acme-coupa"))
    ar.add(make_invoice("INV-2", po="PO-100001"))
    assert resubmit(built, "INV-2", actor="cli:dana").ok
    yield built
    built.close()


def anchor(hub: Hub, path: Path, key: bytes = KEY, full_every: int = 24) -> dict[str, object]:
    with hub.store.session() as session:
        return checkpoint(session, key, path, hub.clock.now(), full_every=full_every)


def chains(hub: Hub) -> audit.Verification:
    with hub.store.session() as session:
        return audit.verify(session)


def against(hub: Hub, path: Path, max_age: timedelta | None = MAX_AGE) -> AnchorVerification:
    with hub.store.session() as session:
        return verify_anchors(session, KEY, path, hub.clock.now(), max_age)


def chain_of(hub: Hub, number: str) -> list[EventRow]:
    with hub.store.session() as session:
        ids = event_ids(hub, number)
        events = [session.get(EventRow, i) for i in ids]
        for event in events:
            session.expunge(event)
    return [e for e in events if e is not None]


def names(result: AnchorVerification) -> list[str]:
    return sorted({p.invoice_number for p in result.problems})


@pytest.fixture
def anchors(tmp_path: Path, hub: Hub) -> Path:
    path = tmp_path / "outside" / "anchors.jsonl"
    anchor(hub, path)
    assert chains(hub).ok and against(hub, path).ok
    return path


# --- the four forgeries: each passes `audit verify`, each is caught with anchors ---------------------------
def test_a_cut_tail_with_the_head_rolled_back_is_caught(hub: Hub, anchors: Path) -> None:
    events = chain_of(hub, "INV-1")
    keep = events[-2]
    raw(
        hub,
        f"DELETE FROM events WHERE id = {events[-1].id}",
        f"UPDATE invoices SET event_seq = {keep.seq}, event_head = '{keep.hash}' WHERE invoice_number = 'INV-1'",
    )
    assert chains(hub).ok  # the chain alone cannot tell
    result = against(hub, anchors)
    assert names(result) == ["INV-1", "store"]
    [cut] = [p for p in result.problems if p.invoice_number == "INV-1"]
    assert cut.seq == events[-1].seq and "no longer holds that event" in cut.why


def test_a_rewritten_and_rehashed_chain_is_caught(hub: Hub, anchors: Path) -> None:
    events = chain_of(hub, "INV-2")
    statements = []
    previous: str | None = None
    for event in events:
        if event.seq == 1:
            event.actor = "cli:mallory"
        event.prev_hash = previous
        event.hash = audit.digest(event)
        previous = event.hash
        statements.append(
            f"UPDATE events SET actor = '{event.actor}', prev_hash = {'NULL' if event.prev_hash is None else repr(event.prev_hash)}, "
            f"hash = '{event.hash}' WHERE id = {event.id}"
        )
    statements.append(f"UPDATE invoices SET event_head = '{previous}' WHERE invoice_number = 'INV-2'")
    raw(hub, *statements)
    assert chains(hub).ok
    result = against(hub, anchors)
    assert [(p.invoice_number, p.seq) for p in result.problems] == [("INV-2", events[-1].seq)]
    assert "rewritten" in result.problems[0].why


def test_every_event_deleted_is_caught(hub: Hub, anchors: Path) -> None:
    raw(hub, "DELETE FROM events", "UPDATE invoices SET event_seq = 0, event_head = NULL")
    verdict = chains(hub)
    assert verdict.ok and verdict.events == 0
    result = against(hub, anchors)
    assert names(result) == ["INV-1", "INV-2", "INV-3", "store"]
    assert any("events were deleted" in p.why for p in result.problems)


def test_an_invoice_deleted_with_all_its_events_is_caught(hub: Hub, anchors: Path) -> None:
    target = "(SELECT id FROM invoices WHERE invoice_number = 'INV-3')"
    tables = ("notifications", "feedback_outbox", "events", "attempts", "invoice_revisions")
    raw(
        hub,
        *(f"DELETE FROM {table} WHERE invoice_id = {target}" for table in tables),
        "DELETE FROM invoices WHERE invoice_number = 'INV-3'",
    )
    assert chains(hub).ok and chains(hub).invoices == 2
    result = against(hub, anchors)
    assert names(result) == ["INV-3", "store"]
    assert any("invoices were deleted" in p.why for p in result.problems)


# --- the anchors file itself ------------------------------------------------------------------------------
def _three_anchors(hub: Hub, path: Path, ar: ListAr) -> list[str]:
    """Anchors at T0, T0+1h (after INV-4 came in), T0+2h; the clock then at T0+2h."""
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(hours=1))
    ar.add(make_invoice("INV-4"))
    ingest(hub)
    anchor(hub, path)
    hub.clock.advance(timedelta(hours=1))
    anchor(hub, path)
    return path.read_text().splitlines()


def test_later_checkpoints_list_only_the_heads_that_moved_and_full_ones_list_all(
    hub: Hub, anchors: Path, ar: ListAr
) -> None:
    lines = [json.loads(line) for line in _three_anchors(hub, anchors, ar)]
    assert [(a["n"], a["full"], sorted(h[0] for h in a["heads"].values())) for a in lines] == [
        (1, True, ["INV-1", "INV-2", "INV-3"]),
        (2, False, ["INV-4"]),
        (3, False, []),
    ]
    assert lines[1]["invoices"] == 4 and lines[1]["events"] > lines[0]["events"]
    record = anchor(hub, anchors, full_every=3)  # every third one lists all: 1, 4, ...
    assert record["full"] is True and len(record["heads"]) == 4  # type: ignore[arg-type]
    assert against(hub, anchors).ok


def test_an_edited_anchor_is_caught(hub: Hub, anchors: Path, ar: ListAr) -> None:
    lines = _three_anchors(hub, anchors, ar)
    first = json.loads(lines[0])
    inv1 = next(k for k, v in first["heads"].items() if v[0] == "INV-1")
    first["heads"][inv1][1] -= 1  # roll the anchored head back to match a forged store
    lines[0] = json.dumps(first, sort_keys=True, separators=(",", ":"))
    anchors.write_text("\n".join(lines) + "\n")
    result = against(hub, anchors)
    assert [p.invoice_number for p in result.problems] == ["anchors line 1", "anchors line 2"]
    assert "signature does not match" in result.problems[0].why
    assert "does not follow the line before it" in result.problems[1].why


def test_an_anchor_removed_from_the_middle_is_caught(hub: Hub, anchors: Path, ar: ListAr) -> None:
    lines = _three_anchors(hub, anchors, ar)
    anchors.write_text(lines[0] + "\n" + lines[2] + "\n")
    result = against(hub, anchors)
    assert [p.invoice_number for p in result.problems] == ["anchors line 2", "anchors line 2"]
    assert "is anchor 3, expected 2" in result.problems[0].why


def test_a_cut_anchors_file_is_caught_by_the_age_of_its_newest_anchor(
    hub: Hub, anchors: Path, ar: ListAr
) -> None:
    lines = _three_anchors(hub, anchors, ar)
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(hours=1))
    assert against(hub, anchors).ok  # the newest (T0+2h) is an hour old: due, not late
    anchors.write_text(lines[0] + "\n")  # the anchors after the forgery's time cut off
    result = against(hub, anchors)
    assert [p.invoice_number for p in result.problems] == ["anchors file"]
    assert "later anchors were cut off" in result.problems[0].why


def test_an_anchor_forged_with_another_key_is_caught(hub: Hub, anchors: Path) -> None:
    anchor(hub, anchors, key=b"m" * 40)  # whoever lacks the key can only sign with another
    result = against(hub, anchors)
    assert [(p.invoice_number, "another key" in p.why) for p in result.problems] == [("anchors line 2", True)]


def test_a_short_key_is_refused(hub: Hub, tmp_path: Path) -> None:
    hub.config = hub.config.model_copy(
        update={"audit": AuditConfig(anchor_key="env:SHORT", anchors_file=tmp_path / "a.jsonl")}
    )
    hub.secrets._environ = {"SHORT": "password"}  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="at least 32 characters"):
        Daemon(hub).audit_checkpoint()


# --- the daemon job and the commands ---------------------------------------------------------------------
def test_the_daemon_writes_checkpoints_on_its_interval(tmp_path: Path, coupa: CoupaSandbox) -> None:
    assert coupa.server is not None
    path = tmp_path / "daemon-anchors.jsonl"
    hub = make_hub(tmp_path, coupa.server.url, clock=SystemClock())  # type: ignore[arg-type]
    hub.config = hub.config.model_copy(
        update={"audit": AuditConfig(anchor_key="env:AUDIT_KEY", anchors_file=path, checkpoint_seconds=0.2)}
    )
    hub.secrets._environ = {"AUDIT_KEY": KEY.decode()}  # type: ignore[attr-defined]
    daemon = Daemon(hub)
    runner = threading.Thread(target=daemon.run_forever, kwargs={"install_signals": False})
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not path.exists() or len(path.read_text().splitlines()) < 2):
            time.sleep(0.05)
        assert len(path.read_text().splitlines()) >= 2
        assert against(hub, path).ok
    finally:
        daemon.stop.set()
        runner.join(timeout=30)
        hub.close()
    assert not runner.is_alive()


def test_the_commands_checkpoint_and_verify_against_anchors(
    tmp_path: Path, coupa: CoupaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert coupa.server is not None
    drop_fixture(tmp_path / "exports", "invoices.csv")
    config = hub_config(
        tmp_path, {"kind": "files", "folder": "exports", "customers": CUSTOMERS}, sandbox_url=coupa.server.url
    )
    data = yaml.safe_load(config.read_text())
    data["audit"] = {"anchor_key": "env:PORTALHUB_AUDIT_KEY", "anchors_file": "anchors/audit.jsonl"}
    config.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("PORTALHUB_AUDIT_KEY", KEY.decode())
    cli = CliRunner()
    assert cli.invoke(app, ["-c", str(config), "run", "--once"]).exit_code == 0
    made = cli.invoke(app, ["-c", str(config), "audit", "checkpoint"])
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("anchor 1: 3 invoices")
    anchors = tmp_path / "anchors" / "audit.jsonl"
    verified = cli.invoke(app, ["-c", str(config), "audit", "verify", "--anchors", str(anchors)])
    assert verified.exit_code == 0, verified.output
    assert "against 1 anchor(s) of 3 invoice(s)" in verified.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "hub.db") as db:  # the owner of the database empties the trail
        db.execute("DROP TRIGGER events_no_delete")
        db.execute("DELETE FROM events")
        db.execute("UPDATE invoices SET event_seq = 0, event_head = NULL")
    assert cli.invoke(app, ["-c", str(config), "audit", "verify"]).exit_code == 0  # chains alone: "fine"
    caught = cli.invoke(app, ["-c", str(config), "audit", "verify", "--anchors", str(anchors), "--json"])
    assert caught.exit_code == 1
    report = json.loads(caught.stdout)
    assert report["ok"] is False and {p["invoice_number"] for p in report["problems"]} >= {"store"}


def test_syslog_gets_a_summary_of_each_checkpoint(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from hub import audit_anchors

    address = tmp_path / "log"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as syslog:
        syslog.bind(str(address))
        syslog.settimeout(10)
        monkeypatch.setattr(audit_anchors, "SYSLOG_ADDRESS", str(address))
        with hub.store.session() as session:
            record = checkpoint(session, KEY, tmp_path / "a.jsonl", hub.clock.now(), to_syslog=True)
        message = syslog.recv(65536).decode()
    assert message.startswith("<14>portalhub audit anchor {")  # facility user, severity info
    summary = json.loads(message.split("anchor ", 1)[1].rstrip("\x00"))
    assert summary["sig"] == record["sig"] and summary["n"] == 1 and summary["events"] == record["events"]
    assert "heads" not in summary


def test_an_anchors_file_that_cannot_be_written_is_a_clear_error(hub: Hub, tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    target = tmp_path / "not-a-folder" / "anchors.jsonl"
    hub.config = hub.config.model_copy(
        update={"audit": AuditConfig(anchor_key="env:AUDIT_KEY", anchors_file=target)}
    )
    hub.secrets._environ = {"AUDIT_KEY": KEY.decode()}  # type: ignore[attr-defined]
    with pytest.raises(
        ConfigError, match=r"cannot write the audit anchors file .*not-a-folder/anchors\.jsonl"
    ):
        Daemon(hub).audit_checkpoint()
