"""A dispute's round trip, end to end on both transports: an invoice from the SQL AR database is sent,
the buyer disputes it on the portal's clock, the hub polls the dispute in and writes it back to the AR
database with the buyer's words; the collector corrects it, and the hub resubmits it under the same
number (OpenInvoice shows it as `resubmitted`) until it is paid."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlmodel import select

from connectors.sandbox.openinvoice import SOAP_PATH, SUBMIT_PATH
from hub.clock import ManualClock
from hub.config import HubConfig
from hub.daemon import Daemon
from hub.runtime import Hub, build_hub
from hub.store.tables import InvoiceRow
from tests.connectors.openinvoice_support import SECRETS, OpenInvoiceWorld
from tests.factories import SUPPLIER, T0

SCHEMA = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "ar_schema.sql"
INVOICE = (
    "INSERT INTO ar_invoices (invoice_id, invoice_number, customer_id, doc_type, invoice_date, currency, "
    "po_number, payment_terms_days, subtotal, tax_total, total, updated_at) VALUES "
    "(1, 'INV-D-1', 'C-1', 'INV', '2026-11-19', 'USD', '4500001001', 30, '1650.00', '0', '1650.00', "
    "'2026-11-19T10:00:00')"
)
# Hot oil billed at 165.00 an hour; the buyer's price book says 140.00.
LINE = (
    "INSERT INTO ar_invoice_lines (invoice_id, line_no, part_number, description, quantity, uom, unit_price, "
    "amount, afe_number, well_id, cost_center, field_ticket) VALUES (1, 1, 'SVC-HOTOIL', "
    "'Hot oil unit with operator', '10', 'HUR', '165.00', '1650.00', 'AFE-24-0117', '42-329-40112', "
    "'CC-PERMIAN-OPS', 'FT-7100')"
)


def _ar(path: Path) -> None:
    ar = sqlite3.connect(path)
    ar.executescript(SCHEMA.read_text(encoding="utf-8"))
    ar.execute(
        "INSERT INTO ar_customers VALUES ('C-1', 'Llano Estacado Oil & Gas', '611222333', NULL, "
        "'500 W Texas Ave', 'Midland', 'TX', '79701', 'US', NULL)"
    )
    ar.execute(INVOICE)
    ar.execute(LINE)
    ar.commit()
    ar.close()


@pytest.fixture(params=["soap", "rest"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[OpenInvoiceWorld, Hub, Path]]:
    world = OpenInvoiceWorld(tmp_path / "rules.d")  # the profile's certificate paths are relative to it
    spec = world.spec(request.param, customers=["C-1"])
    (world.folder / f"{spec['id']}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(
        yaml.safe_dump({k.removeprefix("secret:"): v for k, v in SECRETS.items()}), encoding="utf-8"
    )
    ar_path = tmp_path / "ar.db"
    _ar(ar_path)
    config = HubConfig.model_validate(
        {
            "store_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "rules_dir": str(world.folder),
            "secrets_file": str(secrets),
            "supplier": SUPPLIER.model_dump(),
            "ar": {"kind": "sql", "url": f"sqlite:///{ar_path}"},
            "daemon": {"backoff_initial_seconds": 1, "reconcile_after_seconds": 0, "lease_seconds": 120},
        }
    )
    hub = build_hub(config, clock=ManualClock(T0), http=httpx.Client(timeout=httpx.Timeout(2.0)))
    yield world, hub, ar_path
    hub.close()
    for connector in hub._connectors.values():
        close = getattr(connector, "close", None)
        if close is not None:
            close()
    world.close()


def _cycle(world: OpenInvoiceWorld, hub: Hub, hours: float) -> None:
    world.sandbox.clock.advance(hours=hours)
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(timedelta(hours=hours))
    Daemon(hub).run_once()


def _events(ar_path: Path) -> list[tuple[str, str | None, str | None, str | None]]:
    ar = sqlite3.connect(ar_path)
    rows = ar.execute(
        "SELECT state, reason, category, raw_status FROM ar_portal_status WHERE invoice_number = 'INV-D-1' ORDER BY at, event_id"
    ).fetchall()
    ar.close()
    return rows


def _mirror(ar_path: Path) -> tuple[str, str]:
    ar = sqlite3.connect(ar_path)
    row = ar.execute(
        "SELECT portal_state, portal_reason FROM ar_invoices WHERE invoice_number = 'INV-D-1'"
    ).fetchone()
    ar.close()
    return row


def test_a_dispute_reaches_the_ar_database_and_the_correction_is_paid(
    setup: tuple[OpenInvoiceWorld, Hub, Path],
) -> None:
    world, hub, ar_path = setup
    Daemon(hub).run_once()  # ingest, pre-flight, submit, first poll, feedback
    assert len(world.sandbox.invoices) == 1
    portal_id = world.sandbox.invoices[0].id
    assert _mirror(ar_path)[0] == "PENDING_APPROVAL"

    _cycle(world, hub, hours=25)  # the buyer's AP team disputes the rate
    disputes = [e for e in _events(ar_path) if e[0] == "DISPUTED"]
    assert len(disputes) == 1
    _, reason, category, raw_status = disputes[0]
    assert raw_status == "disputed" and category == "price_quantity"
    assert reason and "unit price 165.00 for SVC-HOTOIL is above the contract rate 140.00" in reason
    assert _mirror(ar_path) == ("DISPUTED", reason)

    # The collector rebills at the contract rate; OpenInvoice takes it under the same number.
    ar = sqlite3.connect(ar_path)
    with ar:
        ar.execute(
            "UPDATE ar_invoice_lines SET unit_price = '140.00', amount = '1400.00' WHERE invoice_id = 1"
        )
        ar.execute("UPDATE ar_invoices SET subtotal = '1400.00', total = '1400.00' WHERE invoice_id = 1")
    ar.close()
    _cycle(world, hub, hours=1)
    assert [i.id for i in world.sandbox.invoices] == [portal_id]  # resubmitted, not a second invoice
    assert any(e[3] == "resubmitted" for e in _events(ar_path))
    for _ in range(4):
        _cycle(world, hub, hours=24)
    assert _mirror(ar_path)[0] == "PAID"
    assert world.sandbox.invoices[0].total == 1400
    with hub.store.session() as session:
        row = session.exec(select(InvoiceRow)).one()
        assert row.revision == 2 and row.portal_invoice_number is None and row.portal_invoice_id == portal_id


def test_an_answer_lost_after_the_portal_took_it_is_settled_without_a_resend(
    setup: tuple[OpenInvoiceWorld, Hub, Path],
) -> None:
    world, hub, ar_path = setup
    (profile,) = hub.profiles.values()
    path = SOAP_PATH if profile.connection["transport"] == "soap" else SUBMIT_PATH
    world.faults.queue("drop_after", path_prefix=path)
    Daemon(hub).run_once()  # the send goes unanswered; the same cycle's poll finds the invoice
    _cycle(world, hub, hours=1)
    assert world.sandbox.portal.received == 1 and len(world.sandbox.invoices) == 1
    states = [e[0] for e in _events(ar_path)]
    assert states.index("IN_DOUBT") < states.index("SUBMITTED") < states.index("PENDING_APPROVAL")
    with hub.store.session() as session:
        row = session.exec(select(InvoiceRow)).one()
        assert row.portal_invoice_id == world.sandbox.invoices[0].id and row.revision == 1
