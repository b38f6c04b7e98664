"""Helpers for the OpenInvoice tests: a sandbox with both faces on real sockets, a test CA made here and
now, profiles for either transport, and oil and gas invoices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from connectors.base import ConnectorContext, Envelope, OutboundDocument, Receipt
from connectors.openinvoice import OpenInvoiceConnector
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.openinvoice import OpenInvoiceSandboxConfig, SandboxPortal
from connectors.sandbox.server import SandboxServer
from hub.model import Invoice, InvoiceLine, Party
from hub.registry import ConnectorRegistry
from rules.loader import load_profile
from rules.schema import Profile
from tests.connectors.support import DictSecrets
from tests.factories import SUPPLIER, T0

SUPPLIER_ID = "123456789"
BUYER_ID = "611222333"  # Llano Estacado Oil & Gas: AFE and field ticket required, a price book
SOAP_USER = "bluebonnet"
SOAP_PASSWORD = "oi-soap-password-5150"
MAC_KEY = "oi-mac-key-7781-secret"
KEY_PASSPHRASE = "oi-key-passphrase-3344"
CLIENT_CN = "bluebonnet-industrial"
SECRETS = {
    "secret:oi_password": SOAP_PASSWORD,
    "secret:oi_mac_key": MAC_KEY,
    "secret:oi_key_passphrase": KEY_PASSPHRASE,
}
COST_CENTERS = ["CC-PERMIAN-OPS", "CC-DELAWARE"]


def sandbox_config(**buyer: Any) -> OpenInvoiceSandboxConfig:
    spec: dict[str, Any] = {
        "id": BUYER_ID,
        "name": "Llano Estacado Oil & Gas",
        "require_afe": True,
        "require_field_ticket": True,
        "cost_centers": COST_CENTERS,
        "price_book": {"SVC-HOTOIL": "140.00"},
        "approve_after_hours": 24,
        "pay_after_hours": 48,
        "dispute_after_hours": 24,
    }
    spec.update(buyer)
    return OpenInvoiceSandboxConfig.model_validate(
        {
            "suppliers": [
                {
                    "id": SUPPLIER_ID,
                    "name": "Bluebonnet Industrial Supply LLC",
                    "soap_username": SOAP_USER,
                    "soap_password": SOAP_PASSWORD,
                    "client_cn": CLIENT_CN,
                    "mac_key": MAC_KEY,
                }
            ],
            "buyers": [spec],
        }
    )


def oil_line(
    number: int = 1,
    part: str = "SVC-HOTOIL",
    quantity: str = "10",
    uom: str = "HUR",
    price: str = "140.00",
    **references: str | None,
) -> InvoiceLine:
    values: dict[str, Any] = {
        "afe_number": "AFE-24-0117",
        "well_id": "42-329-40112",
        "cost_center": "CC-PERMIAN-OPS",
        "field_ticket_number": "FT-7100",
    }
    values.update(references)
    return InvoiceLine(
        line_number=number,
        supplier_part_id=part,
        description=f"service {part}",
        quantity=Decimal(quantity),
        unit_of_measure=uom,
        unit_price=Decimal(price),
        amount=Decimal(quantity) * Decimal(price),
        **values,
    )


def oil_invoice(
    number: str = "INV-OI-1", lines: Sequence[InvoiceLine] | None = None, **overrides: Any
) -> Invoice:
    """An invoice the test buyer accepts: AFE, well, cost center and field ticket on every line."""
    built = list(lines) if lines is not None else [oil_line()]
    subtotal = sum((line.amount for line in built), Decimal(0))
    values: dict[str, Any] = {
        "invoice_number": number,
        "invoice_date": T0.date(),
        "currency": "USD",
        "customer_id": "C-1",
        "po_number": "4500001001",
        "supplier": SUPPLIER,
        "buyer": Party(name="Llano Estacado Oil & Gas", party_id=BUYER_ID),
        "lines": built,
        "subtotal": subtotal,
        "tax_total": Decimal(0),
        "total": subtotal,
    }
    values.update(overrides)
    return Invoice(**values)


def profile_spec(
    transport: str,
    *,
    soap_url: str = "http://127.0.0.1:1",
    rest_url: str = "https://127.0.0.1:1",
    profile_id: str | None = None,
    customers: Sequence[str] = ("C-1",),
    rules: list[Any] | None = None,
    connection: Mapping[str, Any] | None = None,
    soap: Mapping[str, Any] | None = None,
    rest: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    spec_connection: dict[str, Any] = {
        "transport": transport,
        "seller": {"identifier": SUPPLIER_ID},
        "buyer": {"identifier": BUYER_ID},
        "timeout_seconds": 2,
        "overlap_seconds": 0,
        "soap": {
            "wsdl": f"{soap_url}/openinvoice/InvoiceService?wsdl",
            "username": SOAP_USER,
            "password": "secret:oi_password",
            **(soap or {}),
        },
        "rest": {
            "base_url": rest_url,
            "client_cert_file": "tls/client.pem",
            "client_key_file": "tls/client.key",
            "client_key_passphrase": "secret:oi_key_passphrase",
            "ca_file": "tls/ca.pem",
            "mac_key": "secret:oi_mac_key",
            **(rest or {}),
        },
        **(connection or {}),
    }
    # An option given as None is left out (a secret-named key may not even be null in a rules file).
    for section in (spec_connection, spec_connection.get("soap"), spec_connection.get("rest")):
        for key in [k for k, v in (section or {}).items() if v is None]:
            del section[key]  # type: ignore[union-attr]
    return {
        "id": profile_id or f"llano-openinvoice-{transport}",
        "buyer": "Llano Estacado Oil & Gas",
        "connector": "openinvoice",
        "version": "1",
        "extends": ["pidx-baseline"],
        "match": {"customer_id": list(customers)},
        "connection": spec_connection,
        "limits": {"per_minute": 600},
        "rules": rules or [],
    }


def write_profile(folder: Path, spec: dict[str, Any]) -> Profile:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return load_profile(path, ConnectorRegistry().check_connection)


def make_connector(http: httpx.Client, secrets: Mapping[str, str] = SECRETS) -> OpenInvoiceConnector:
    return OpenInvoiceConnector(
        ConnectorContext(http=http, secrets=DictSecrets(secrets), now=lambda: T0, sleep=lambda _: None)
    )


class OpenInvoiceWorld:
    """The sandbox (SOAP and REST, with a CA made here and now: the hub's files in `folder/tls`), a
    connector, and a profile per transport, in `folder`."""

    def __init__(self, folder: Path, config: OpenInvoiceSandboxConfig | None = None):
        self.folder = folder
        self.portal = SandboxPortal(
            config or sandbox_config(),
            clock=SandboxClock(start=T0),
            tls_dir=folder / "tls",
            key_passphrase=KEY_PASSPHRASE,
        ).start()
        assert self.portal.certificates is not None
        self.certificates = self.portal.certificates
        self.faults = self.portal.faults
        self.sandbox = self.portal.sandbox
        assert self.sandbox.soap_server is not None and self.sandbox.rest_server is not None
        self.soap_server: SandboxServer = self.sandbox.soap_server
        self.rest_server: SandboxServer = self.sandbox.rest_server
        self.http = httpx.Client(timeout=httpx.Timeout(2.0))
        self.connector = make_connector(self.http)

    def spec(self, transport: str, **options: Any) -> dict[str, Any]:
        return profile_spec(
            transport, soap_url=self.soap_server.url, rest_url=self.rest_server.url, **options
        )

    def profile(self, transport: str, **options: Any) -> Profile:
        return write_profile(self.folder, self.spec(transport, **options))

    def close(self) -> None:
        self.connector.close()
        self.http.close()
        self.portal.stop()


def envelope(number: str, payload_id: str | None = None) -> Envelope:
    return Envelope(
        payload_id=payload_id or f"{number}.1@portalhub.test", timestamp=T0, invoice_number=number
    )


def render(connector: OpenInvoiceConnector, profile: Profile, invoice: Invoice) -> OutboundDocument:
    return connector.render(invoice, profile, envelope(invoice.invoice_number))


def send(connector: OpenInvoiceConnector, profile: Profile, invoice: Invoice) -> Receipt:
    return connector.submit(render(connector, profile, invoice), profile)
