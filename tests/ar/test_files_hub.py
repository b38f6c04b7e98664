"""The whole hub on the files adapter: sample exports of every format dropped in a folder go through
intake, pre-flight and the Coupa sandbox (real sockets); statuses come back as files (or as signed
webhooks to a real receiver), each event once, and a second cycle imports nothing again."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from lxml import etree
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import SandboxServer
from hub.clock import ManualClock
from hub.config import load_config
from hub.daemon import Daemon
from hub.runtime import build_hub
from hub.store.tables import InvoiceRow, QuarantineRow
from tests.ar.support import CSV_HEADER, CUSTOMERS, EXPORTS, csv_row, drop, files_in, hub_config
from tests.ar.test_webhook import SECRET, Receiver
from tests.factories import SECRET as PORTAL_SECRET
from tests.factories import T0

SAMPLES = sorted(p.name for p in EXPORTS.iterdir())
NUMBERS = {
    "INV-3001", "INV-3002", "CM-3003", "INV-3101", "INV-3102", "INV-3201", "INV-3301", "INV-3302",
    "INV-3401", "INV-3501", "CN-3502",
}  # fmt: skip


def _drop_samples(folder: Path) -> None:
    folder.mkdir()
    for name in SAMPLES:
        drop(folder, name, (EXPORTS / name).read_bytes())
    drop(folder, "bad.csv", CSV_HEADER + "\n" + csv_row("INV-3999", currency="dollars") + "\n")


def _status_events(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted((folder / "status").glob("status-*.csv")):
        with path.open(encoding="utf-8", newline="") as file:
            rows.extend(csv.DictReader(file))
    return rows


def test_exports_of_every_format_reach_the_portal_and_statuses_come_back_as_files(
    tmp_path: Path, coupa: CoupaSandbox
) -> None:
    _drop_samples(tmp_path / "exports")
    config = hub_config(
        tmp_path, {"kind": "files", "folder": "exports", "customers": CUSTOMERS}, sandbox_url=coupa.server.url
    )
    hub = build_hub(load_config(config), clock=ManualClock(T0))
    try:
        first = Daemon(hub).run_once()
        assert first.intake is not None and first.intake.counts["new"] == len(NUMBERS)
        assert first.intake.counts["quarantined"] == 1
        with hub.store.session() as session:
            rows = {r.invoice_number: r for r in session.exec(select(InvoiceRow))}
            quarantined = session.exec(select(QuarantineRow)).one()
        assert set(rows) == NUMBERS
        assert all(r.source == "ar-files" and r.state != "NEW" for r in rows.values())
        # Every format became an invoice the buyer's portal accepted (the sandbox then polls them as pending).
        assert {n: r.state for n, r in rows.items()} == dict.fromkeys(NUMBERS, "PENDING_APPROVAL")
        assert quarantined.ar_key == "INV-3999" and "currency must be an ISO 4217 code" in quarantined.reason
        assert coupa.invoices, "nothing reached the portal"
        second = Daemon(hub).run_once()
        assert second.intake is not None and second.intake.counts["new"] == 0
    finally:
        hub.close()
    events = _status_events(tmp_path / "exports")
    assert len({e["event_id"] for e in events}) == len(events)  # each event once
    assert {e["invoice_number"] for e in events} == NUMBERS | {"INV-3999"}
    assert any(e["state"] == "QUARANTINED" and e["invoice_number"] == "INV-3999" for e in events)
    assert sorted(files_in(tmp_path / "exports")) == sorted(
        [f"done/{name}" for name in SAMPLES]
        + ["error/bad.csv", "error/bad.csv.error.txt"]
        + [f"status/{p.name}" for p in (tmp_path / "exports" / "status").iterdir()]
    )


def test_portalhub_run_takes_the_folder_from_the_config_and_retargets_an_exported_cxml(
    tmp_path: Path, coupa: CoupaSandbox
) -> None:
    folder = tmp_path / "exports"
    for name in ("cxml-INV-3401.xml", "ubl-CN-3502.xml"):
        drop(folder, name, (EXPORTS / name).read_bytes())
    ar = {"kind": "files", "folder": "exports", "customers": CUSTOMERS, "status_format": "jsonl"}
    config = hub_config(tmp_path, ar, sandbox_url=coupa.server.url)
    result = CliRunner().invoke(app, ["-c", str(config), "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "new=2" in result.stdout
    exported = etree.fromstring((EXPORTS / "cxml-INV-3401.xml").read_bytes())
    [sent] = [i for i in coupa.invoices if i.number == "INV-3401"]
    document = etree.fromstring(sent.document)
    # Rendered anew for ACME's portal with the profile's credentials: nothing of the export's envelope.
    assert sent.payload_id and sent.payload_id != exported.get("payloadID")
    assert document.findtext("Header/Sender/Credential/SharedSecret") == PORTAL_SECRET
    assert document.findtext("Header/Sender/UserAgent") != exported.findtext("Header/Sender/UserAgent")
    assert b"the-ar-systems-own-network-secret" not in sent.document
    summary = "Request/InvoiceDetailRequest/InvoiceDetailSummary/NetAmount/Money"
    assert document.findtext(summary) == exported.findtext(summary) == "286.87"
    assert files_in(folder)[:2] == ["done/cxml-INV-3401.xml", "done/ubl-CN-3502.xml"]
    [status] = (folder / "status").glob("status-*.jsonl")
    events = [json.loads(line) for line in status.read_text(encoding="utf-8").splitlines()]
    assert {(e["invoice_number"], e["state"]) for e in events} >= {
        ("INV-3401", "SUBMITTED"),
        ("CN-3502", "SUBMITTED"),
    }


@pytest.fixture
def receiver() -> tuple[Receiver, SandboxServer]:
    target = Receiver()
    return target, SandboxServer(target).start()


def test_files_in_and_signed_webhooks_out(
    tmp_path: Path,
    coupa: CoupaSandbox,
    receiver: tuple[Receiver, SandboxServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target, server = receiver
    monkeypatch.setenv("AR_HOOK", SECRET)
    (tmp_path / "exports").mkdir()
    shutil.copy(EXPORTS / "invoices.csv", tmp_path / "exports" / "invoices.csv")
    config = hub_config(
        tmp_path,
        {"kind": "files", "folder": "exports", "settle_seconds": 0},
        {"kind": "webhook", "url": f"{server.url}/portalhub/events", "secret": "env:AR_HOOK"},
        sandbox_url=coupa.server.url,
    )
    hub = build_hub(load_config(config), clock=ManualClock(T0))
    try:
        target.fail_with = 503  # the AR side is down for the first cycle
        report = Daemon(hub).run_once()
        assert report.feedback is not None and report.feedback.delivered == 0 and target.events == []
        target.fail_with = None
        hub.clock.advance(minutes=5)  # type: ignore[attr-defined]
        report = Daemon(hub).run_once()
        assert report.feedback is not None and report.feedback.delivered > 0
    finally:
        hub.close()
        server.stop()
    assert target.bad_signatures == 0
    assert {e["invoice_number"] for e in target.events} == {"INV-3001", "INV-3002", "CM-3003"}
    assert not (tmp_path / "exports" / "status").exists()  # the webhook is the sink, not the folder
