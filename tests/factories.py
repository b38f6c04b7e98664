"""Builders shared by the tests: consistent invoices, a test Coupa buyer, an in-memory AR system, and a
hub wired to a sandbox over real sockets."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from connectors.base import Connector
from connectors.sandbox.coupa import CoupaSandboxConfig
from hub.ar import ArRecord, ArSink
from hub.clock import ManualClock
from hub.config import DaemonConfig, HubConfig
from hub.model import Address, Invoice, InvoiceLine, InvoicePurpose, Party, Supplier, TaxLine
from hub.profile import PortalProfile
from hub.runtime import Hub, build_hub
from hub.store.database import Store

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SECRET = "acme-shared-secret-0123"
API_SECRET = "api-client-secret-4567"
SUPPLIER = Supplier(
    name="Bluebonnet Industrial Supply LLC",
    party_id="123456789",
    tax_id="74-1234567",
    address=Address(
        street=["1200 Industrial Blvd"], city="Houston", state="TX", postal_code="77002", country="US"
    ),
)
BUYER = Party(name="ACME Manufacturing", party_id="987654321")
CENT = Decimal("0.01")

#: (part, quantity, uom, unit price, PO line) of the test buyer's PO-100001
PO_LINES = [
    ("BRG-6205", "400", "EA", "12.50", 1),
    ("SEAL-22", "600", "EA", "4.20", 2),
    ("SVC-FIELD", "80", "HUR", "95.00", 3),
]


def make_invoice(
    number: str = "INV-1",
    *,
    customer: str = "C-1",
    po: str | None = "PO-100001",
    lines: Sequence[tuple[str | None, str, str, str]] = (("BRG-6205", "10", "EA", "12.50"),),
    tax_rate: str | None = None,
    purpose: InvoicePurpose = InvoicePurpose.INVOICE,
    invoice_date: date = T0.date(),
    **overrides: Any,
) -> Invoice:
    """A consistent invoice: amounts, taxes and totals are computed from the lines given."""
    built = []
    tax_total = Decimal(0)
    for n, (part, qty, uom, price) in enumerate(lines, 1):
        amount = (Decimal(qty) * Decimal(price)).quantize(CENT, ROUND_HALF_UP)
        taxes = []
        if tax_rate is not None:
            tax = (amount * Decimal(tax_rate) / 100).quantize(CENT, ROUND_HALF_UP)
            taxes.append(TaxLine(rate_percent=Decimal(tax_rate), taxable_amount=amount, amount=tax))
            tax_total += tax
        po_line = next((pl[4] for pl in PO_LINES if pl[0] == part), None)
        built.append(
            InvoiceLine(
                line_number=n,
                po_line_number=po_line,
                supplier_part_id=part,
                description=f"item {part}",
                quantity=Decimal(qty),
                unit_of_measure=uom,
                unit_price=Decimal(price),
                amount=amount,
                taxes=taxes,
            )
        )
    subtotal = sum((line.amount for line in built), Decimal(0))
    values: dict[str, Any] = {
        "invoice_number": number,
        "invoice_date": invoice_date,
        "purpose": purpose,
        "currency": "USD",
        "customer_id": customer,
        "po_number": po,
        "supplier": SUPPLIER,
        "buyer": BUYER,
        "lines": built,
        "subtotal": subtotal,
        "tax_total": tax_total,
        "total": subtotal + tax_total,
    }
    values.update(overrides)
    return Invoice(**values)


def buyer_config(**buyer: Any) -> CoupaSandboxConfig:
    """One Coupa instance `acme` with PO-100001 and contract MSA-1, and an API client."""
    spec: dict[str, Any] = {
        "instance": "acme",
        "name": "ACME Manufacturing",
        "to": {"domain": "DUNS", "identity": "987654321"},
        "supplier": {"domain": "DUNS", "identity": "123456789"},
        "shared_secret": SECRET,
        "contracts": ["MSA-1"],
        "purchase_orders": [
            {
                "number": "PO-100001",
                "lines": [
                    {"line": line, "part": part, "uom": uom, "unit_price": price, "quantity": qty}
                    for part, qty, uom, price, line in PO_LINES
                ],
            }
        ],
        "approve_after_hours": 24,
        "pay_after_hours": 48,
        "dispute_after_hours": 24,
    }
    spec.update(buyer)
    return CoupaSandboxConfig(buyers=[spec], api_clients={"portalhub-test": API_SECRET})  # type: ignore[list-item]


def profile_yaml(
    sandbox_url: str,
    *,
    profile_id: str = "acme-coupa",
    customers: Sequence[str] = ("C-1",),
    rules: list[Any] | None = None,
    per_minute: int = 600,
    with_api: bool = True,
) -> dict[str, Any]:
    connection: dict[str, Any] = {
        "invoice_url": f"{sandbox_url}/acme/cxml/invoices",
        "from": {"domain": "DUNS", "identity": "123456789"},
        "to": {"domain": "DUNS", "identity": "987654321"},
        "shared_secret": "secret:acme_shared_secret",
        "timeout_seconds": 2,
    }
    if with_api:
        connection["api"] = {
            "invoices_url": f"{sandbox_url}/api/v1/invoices",
            "token_url": f"{sandbox_url}/oauth2/token",
            "client_id": "portalhub-test",
            "client_secret": "secret:coupa_api_secret",
            "overlap_seconds": 0,
        }
    return {
        "id": profile_id,
        "buyer": "ACME Manufacturing",
        "connector": "coupa",
        "version": "1",
        "extends": ["coupa-baseline"],
        "match": {"customer_id": list(customers)},
        "connection": connection,
        "limits": {"per_minute": per_minute},
        "rules": rules or [],
    }


@dataclass
class ListAr:
    """An AR system in memory: records to hand out, events received (a fake, not a mock)."""

    records: list[ArRecord] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    name: str = "test-ar"
    fail_writes: bool = False
    batched_intake = True  # a list read changes nothing: the hub takes its records in batches

    def add(self, invoice: Invoice, key: str | None = None) -> None:
        key = key or invoice.invoice_number
        self.records = [r for r in self.records if r.key != key]
        self.records.append(
            ArRecord(
                key=key,
                raw={"number": invoice.invoice_number},
                invoice=invoice,
                invoice_number=invoice.invoice_number,
            )
        )

    def pull(self, keys: Collection[str] | None = None) -> Iterator[ArRecord]:
        yield from [r for r in self.records if keys is None or r.key in keys]

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        if self.fail_writes:
            raise ConnectionError("AR database unavailable")
        seen = {e["event_id"] for e in self.events}
        self.events.extend(e for e in events if e["event_id"] not in seen)


@dataclass
class SyncSettings:
    daemon: DaemonConfig = field(default_factory=DaemonConfig)


@dataclass
class FeedbackHub:
    """The parts of the hub the feedback step uses (status_sync.sync_hub.SyncHub), for tests of an AR
    sink on a bare store, without a rules folder or portals."""

    store: Store
    ar_sink: ArSink
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    worker_id: str = "test-worker"
    config: SyncSettings = field(default_factory=SyncSettings)

    def connector(self, profile: PortalProfile) -> Connector:
        raise AssertionError(f"the feedback step needs no connector (asked for {profile.id})")


def make_hub(
    root: Path,
    sandbox_url: str,
    *,
    ar: ListAr | None = None,
    clock: ManualClock | None = None,
    store_url: str | None = None,
    dtd: Path | None = None,
    profiles: Sequence[dict[str, Any]] | None = None,
    daemon: dict[str, Any] | None = None,
    worker_id: str = "test-worker",
) -> Hub:
    """A hub in `root` talking to the sandbox at `sandbox_url` over real sockets."""
    rules_dir = root / "rules.d"
    rules_dir.mkdir(parents=True, exist_ok=True)
    for spec in profiles or [profile_yaml(sandbox_url)]:
        (rules_dir / f"{spec['id']}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    secrets = root / "secrets.yaml"
    secrets.write_text(
        yaml.safe_dump({"acme_shared_secret": SECRET, "coupa_api_secret": API_SECRET}), encoding="utf-8"
    )
    config = HubConfig.model_validate(
        {
            "store_url": store_url or f"sqlite:///{root / 'hub.db'}",
            "rules_dir": str(rules_dir),
            "secrets_file": str(secrets),
            "cxml_dtd": str(dtd) if dtd else None,
            "supplier": SUPPLIER.model_dump(),
            "ar": {"kind": "sql", "url": "sqlite://"},
            "daemon": {
                "backoff_initial_seconds": 10,
                "backoff_max_seconds": 600,
                "reconcile_after_seconds": 0,
                "lease_seconds": 120,
                **(daemon or {}),
            },
        }
    )
    return build_hub(
        config,
        clock=clock or ManualClock(T0),
        http=httpx.Client(timeout=httpx.Timeout(2.0)),
        ar=ar or ListAr(),
        worker_id=worker_id,
    )


DEMO_AR_SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "demo" / "ar_schema.sql"


def create_demo_ar_tables(connection: Any, column_types: dict[str, str] | None = None) -> None:
    """The demo AR schema's tables on another database (PostgreSQL): its CREATE TABLE statements only
    (the triggers are SQLite's), with `column_types` giving a column another type ({"updated_at":
    "TIMESTAMPTZ"})."""
    for statement in DEMO_AR_SCHEMA.read_text().split(";"):
        if "CREATE TABLE" not in statement:
            continue
        for column, kind in (column_types or {}).items():
            statement = re.sub(rf"(\n\s*{column}\s+)\w+", rf"\g<1>{kind}", statement)
        connection.exec_driver_sql(statement)
