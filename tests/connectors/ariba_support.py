"""Helpers for the Ariba tests: a test network (one buyer, a test supplier account), its profile, and an
Ariba connector wired to it over real sockets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from connectors.ariba import AribaConnector
from connectors.base import ConnectorContext, Envelope, OutboundDocument, Receipt
from connectors.sandbox.ariba import (
    INVOICE_PATH,
    LISTING_PATH,
    AribaSandboxConfig,
    Party,
    StatusMessage,
    render_status_update,
)
from hub.clock import ManualClock
from hub.config import ReceiverConfig
from hub.model import Invoice
from hub.registry import ConnectorRegistry
from hub.runtime import Hub
from rules.loader import load_profile
from rules.schema import Profile
from tests.connectors.support import DictSecrets
from tests.factories import PO_LINES, T0, ListAr, make_hub

SUPPLIER_ANID = "AN02000012345-T"  # a test account: deploymentMode must be "test"
BUYER_ANID = "AN01000054321-T"
NETWORK_ANID = "AN01000000001"  # who the network pushes statuses as
ARIBA_SECRET = "ariba-shared-secret-7788"
LISTING_KEY = "ariba-listing-key-5566"
PUSH_SECRET = "ariba-push-secret-3344"
ARIBA_SECRETS = {
    "secret:ariba_shared_secret": ARIBA_SECRET,
    "secret:ariba_listing_key": LISTING_KEY,
    "secret:ariba_push_secret": PUSH_SECRET,
}


def ariba_config(push_url: str | None = None, **buyer: Any) -> AribaSandboxConfig:
    """The test network: buyer `acme` with order PO-100001 (PO_LINES prices) and obsolete PO-OLD-1."""
    spec: dict[str, Any] = {
        "key": "acme",
        "name": "ACME Manufacturing",
        "network_id": BUYER_ANID,
        "orders": [
            {"number": "PO-100001", "prices": {part: price for part, _, _, price, _ in PO_LINES}},
            {"number": "PO-OLD-1", "obsolete": True},
        ],
        "status_delivery": "both" if push_url else "poll",
        "push_url": push_url,
        "approve_after_hours": 24,
        "pay_after_hours": 48,
        "reject_after_hours": 24,
    }
    spec.update(buyer)
    return AribaSandboxConfig(
        buyers=[spec],  # type: ignore[list-item]
        suppliers={SUPPLIER_ANID: ARIBA_SECRET},
        api_keys={SUPPLIER_ANID: LISTING_KEY},
        push_sender={"domain": "NetworkID", "identity": NETWORK_ANID},
        push_secret=PUSH_SECRET,
    )


def ariba_profile_yaml(
    sandbox_url: str,
    *,
    profile_id: str = "acme-ariba",
    customers: tuple[str, ...] = ("C-1",),
    status_mode: str = "both",
    with_listing: bool = True,
    **connection: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "invoice_url": f"{sandbox_url}{INVOICE_PATH}",
        "from": {"domain": "NetworkID", "identity": SUPPLIER_ANID},
        "to": {"domain": "NetworkID", "identity": BUYER_ANID},
        "shared_secret": "secret:ariba_shared_secret",
        "deployment_mode": "test",
        "timeout_seconds": 2,
        "status_mode": status_mode,
    }
    if status_mode in ("push", "both"):
        spec["inbound"] = {
            "sender": {"domain": "NetworkID", "identity": NETWORK_ANID},
            "shared_secret": "secret:ariba_push_secret",
        }
    if with_listing:
        spec["listing"] = {
            "url": f"{sandbox_url}{LISTING_PATH}",
            "api_key": "secret:ariba_listing_key",
            "page_size": 50,
        }
    spec.update(connection)
    return {
        "id": profile_id,
        "buyer": "ACME Manufacturing",
        "connector": "ariba",
        "version": "1",
        "extends": ["ariba-baseline"],
        "match": {"customer_id": list(customers)},
        "connection": spec,
        "limits": {"per_minute": 600},
        "rules": [],
    }


def write_ariba_profile(folder: Path, sandbox_url: str, **options: Any) -> Profile:
    """ariba_profile_yaml(...) written to `folder` and loaded the way the hub loads it."""
    spec = ariba_profile_yaml(sandbox_url, **options)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return load_profile(path, ConnectorRegistry().check_connection)


def make_ariba_connector(http: httpx.Client, secrets: Mapping[str, str] = ARIBA_SECRETS) -> AribaConnector:
    return AribaConnector(ConnectorContext(http=http, secrets=DictSecrets(secrets), now=lambda: T0))


def ariba_envelope(number: str) -> Envelope:
    return Envelope(payload_id=f"{number}.1@portalhub.test", timestamp=T0, invoice_number=number)


def render(connector: AribaConnector, profile: Profile, invoice: Invoice) -> OutboundDocument:
    return connector.render(invoice, profile, ariba_envelope(invoice.invoice_number))


def send(connector: AribaConnector, profile: Profile, invoice: Invoice) -> Receipt:
    return connector.submit(render(connector, profile, invoice), profile)


def make_ariba_hub(
    root: Path,
    sandbox_url: str,
    *,
    ar: ListAr | None = None,
    clock: ManualClock | None = None,
    receiver: bool = True,
    **profile: Any,
) -> Hub:
    """A hub in `root` with one Ariba profile for the sandbox at `sandbox_url`, its secrets in the
    secrets file, and (unless `receiver=False`) a `receiver:` section on any free port."""
    hub = make_hub(
        root, sandbox_url, ar=ar, clock=clock, profiles=[ariba_profile_yaml(sandbox_url, **profile)]
    )
    # make_hub writes the Coupa test secrets; nothing has read the file yet, so the Ariba ones join them.
    secrets_file = root / "secrets.yaml"
    values = yaml.safe_load(secrets_file.read_text(encoding="utf-8"))
    values.update({ref.removeprefix("secret:"): value for ref, value in ARIBA_SECRETS.items()})
    secrets_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    if receiver:
        hub.config = hub.config.model_copy(update={"receiver": ReceiverConfig(port=0, path="/ariba/status")})
    return hub


def status_update(
    *,
    kind: str = "InvoiceStatus",
    status_type: str = "processing",
    at: datetime = T0,
    invoice_number: str | None = "INV-1",
    document_payload_id: str | None = None,
    comments: tuple[str, ...] = (),
    amount: Decimal | None = None,
    secret: str = PUSH_SECRET,
    sender: str = NETWORK_ANID,
    payload_id: str = "sur-1@sandbox.ariba.test",
) -> bytes:
    """A StatusUpdateRequest as the network pushes it (InvoiceIDInfo only when a number is given)."""
    body = render_status_update(
        StatusMessage(kind, status_type, at, comments, amount),
        payload_id=payload_id,
        document_payload_id=document_payload_id,
        invoice_number=invoice_number or "",
        invoice_date=None,
        buyer=Party("NetworkID", BUYER_ANID),
        supplier=Party("NetworkID", SUPPLIER_ANID),
        sender=Party("NetworkID", sender),
        shared_secret=secret,
        deployment_mode="test",
    )
    if invoice_number is None:
        body = body.replace(b'<InvoiceIDInfo invoiceID=""/>', b"").replace(
            b'<DocumentInfo documentID="" documentType="InvoiceDetailRequest"/>', b""
        )
    return body
