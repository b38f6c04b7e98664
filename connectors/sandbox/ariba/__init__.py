"""An SAP Ariba Network on 127.0.0.1 that behaves like the real one (refs/PORTALS.md, "SAP Ariba Network").

- `POST /service/transaction/cxml.asp`: one URL for every buyer (the `To` credential routes). Parses
  the cXML safely with the network's own code (connectors/sandbox/cxml), validates it against the
  official DTD its DOCTYPE names (when a DTD folder is configured), the supplier's credentials (Sender
  NetworkID + shared secret), the trading relationship and the account's deployment mode, then the
  network's and the buyer's invoice rules, answering with coded texts (`INV-98: ...`) (checks.py).
- `GET /api/supplier-invoices/v1/invoices`: the status listing (poll mode, and lookups by number).
- Statuses follow each buyer's clock (approved, paid with amount and date, or rejected with the
  buyer's comments) and are pushed as StatusUpdateRequests to the buyer's `push_url` whenever the
  clock moves (`advance`, `deliver`), retried while the receiver is down (push.py).
- `/_sandbox/...`: control and inspection (clock, deliveries, faults, everything held).
"""

from connectors.sandbox.ariba.config import (
    AribaBuyer,
    AribaOrder,
    AribaSandboxConfig,
    ExistingInvoice,
    load_config,
)
from connectors.sandbox.ariba.facade import SandboxPortal
from connectors.sandbox.ariba.network import INVOICE_PATH, LISTING_PATH, AribaSandbox, NetworkInvoice
from connectors.sandbox.ariba.push import Delivery, Party, StatusMessage, render_status_update

__all__ = [
    "INVOICE_PATH",
    "LISTING_PATH",
    "AribaBuyer",
    "AribaOrder",
    "AribaSandbox",
    "AribaSandboxConfig",
    "Delivery",
    "ExistingInvoice",
    "NetworkInvoice",
    "Party",
    "SandboxPortal",
    "StatusMessage",
    "load_config",
    "render_status_update",
]
