"""The demo's web-portal customer without a browser: the AR data carries each invoice's PDF, and a
machine without Chromium gets Northwind's invoices blocked with that reason instead of a crash."""

from __future__ import annotations

import base64
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import yaml

from connectors.base import ConnectorContext
from connectors.webportal import WebPortalConnector
from hub.ar.sql import SqlArAdapter
from hub.config import ArConfig
from hub.demo.webportal import WebPortalDemoPortal
from hub.model import Invoice
from hub.preflight import PlaceholderSecrets, preflight
from hub.registry import ConnectorRegistry
from rules.loader import load_profile
from tests.factories import SUPPLIER, T0

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _ar(tmp_path: Path) -> SqlArAdapter:
    database = tmp_path / "ar.db"
    ar = sqlite3.connect(database)
    ar.executescript((FIXTURES / "demo" / "ar_schema.sql").read_text(encoding="utf-8"))
    ar.executescript((FIXTURES / "demo" / "ar_data_webportal.sql").read_text(encoding="utf-8"))
    ar.commit()
    ar.close()
    return SqlArAdapter(ArConfig(url=f"sqlite:///{database}"), SUPPLIER)


def test_the_ar_system_hands_over_each_invoices_pdf(tmp_path: Path) -> None:
    records = {r.invoice_number: r for r in _ar(tmp_path).pull()}
    assert len(records) == 8 and all(r.invoice is not None for r in records.values())
    invoice = records["INV-26001"].invoice
    assert invoice is not None
    [pdf] = invoice.attachments
    assert pdf.filename == "INV-26001.pdf" and pdf.content.startswith(b"%PDF-1.4") and b"%%EOF" in pdf.content
    assert records["INV-26001"].raw["header"]["invoice_pdf"] == f"<{pdf.size} bytes>"  # not copied raw
    # A real PDF's bytes are not UTF-8: the store's JSON carries them as base64, and back.
    stored = invoice.model_dump_json()
    assert base64.urlsafe_b64encode(pdf.content).decode() in stored
    assert Invoice.model_validate_json(stored) == invoice and invoice.content_hash()
    assert records["INV-26008"].invoice is not None and records["INV-26008"].invoice.attachments == []


def test_without_chromium_the_demo_blocks_northwinds_invoices_with_that_reason(tmp_path: Path) -> None:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    shutil.copy(FIXTURES / "rules" / "northwind-webportal.yaml", rules)
    secrets = {"northwind_portal_password": "demo-password-1", "northwind_portal_totp_seed": "not-base32"}
    (tmp_path / "secrets.yaml").write_text(yaml.safe_dump(secrets), encoding="utf-8")
    portal = WebPortalDemoPortal()
    portal.chromium = None
    url = portal.start(secrets, tmp_path, None)
    try:
        config: dict[str, object] = {"rules_dir": "rules.d"}
        portal.configure(config)
        assert (
            config["evidence_dir"] == "evidence" and (rules / "recipes" / "sandbox-webportal.yaml").is_file()
        )
        kept = yaml.safe_load((tmp_path / "secrets.yaml").read_text(encoding="utf-8"))
        assert (
            base64.b32decode(kept["northwind_portal_totp_seed"]) and kept == secrets
        )  # base32 now, and saved
        text = (rules / "northwind-webportal.yaml").read_text(encoding="utf-8")
        (rules / "northwind-webportal.yaml").write_text(
            text.replace(portal.placeholder, url), encoding="utf-8"
        )
        profile = load_profile(rules / "northwind-webportal.yaml", ConnectorRegistry().check_connection)
        invoice = next(r.invoice for r in _ar(tmp_path).pull() if r.invoice_number == "INV-26001")
        assert invoice is not None
        connector = WebPortalConnector(
            ConnectorContext(http=None, secrets=PlaceholderSecrets(), now=lambda: T0)
        )  # type: ignore[arg-type]
        result = preflight(invoice, profile, connector, {}, datetime.now(UTC))
        [blocking] = [v for v in result.blocking if v.rule_id == "demo-no-chromium"]
        assert "no Chromium" in blocking.message and "apt-get install -y chromium" in (blocking.hint or "")
    finally:
        portal.stop()
