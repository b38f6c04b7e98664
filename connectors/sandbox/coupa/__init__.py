"""A Coupa portal on 127.0.0.1 that behaves like the real one (refs/PORTALS.md, "Coupa").

- `POST /<instance>/cxml/invoices`: parses the cXML safely, validates it against the official DTD its
  DOCTYPE names (connectors/sandbox/cxml: the portal's own parsing, none of the hub's), checks
  credentials and enablement, refuses a reused invoice number for the supplier, checks the PO/contract
  backing and the PO lines (part, UOM, line number), and the buyer's own requirements; answers with
  Coupa's codes and texts inside a cXML Response (checks.py).
- `POST /oauth2/token` and `GET /api/v1/invoices`: the supplier REST API (OAuth 2.0 client credentials,
  `updated-at[gt]`, `invoice-number`, `status[in]`, `offset`/`limit` paging, JSON or XML) (api.py).
- Invoices move pending_approval -> approved -> paid, or -> disputed with a reason, on a clock the
  caller controls; statuses are computed from that clock, so nothing runs in the background.
- `/_sandbox/...`: control and inspection for tests and the demo (connectors/sandbox/control.py).

`SandboxPortal` (facade.py) is the family's face for the demo, the contract suite and the benchmarks.
"""

from connectors.sandbox.coupa.config import (
    CoupaBuyer,
    CoupaSandboxConfig,
    ExistingInvoice,
    PoLine,
    PurchaseOrder,
    load_config,
)
from connectors.sandbox.coupa.facade import SandboxPortal
from connectors.sandbox.coupa.portal import CoupaSandbox
from connectors.sandbox.coupa.records import PortalInvoice

__all__ = [
    "CoupaBuyer",
    "CoupaSandbox",
    "CoupaSandboxConfig",
    "ExistingInvoice",
    "PoLine",
    "PortalInvoice",
    "PurchaseOrder",
    "SandboxPortal",
    "load_config",
]
