"""A buyer's supplier web portal on 127.0.0.1 (for the browser connector): real HTML over real sockets.

Sign-in with a password and a TOTP second factor; an invoice form with its own checks (the PO must
exist, AFE numbers for buyers who want them, no invoice number twice, totals that add up, a real PDF);
lines added one at a time; an invoice list with filters and pages whose statuses advance on a
controllable clock; rejection and dispute reasons on detail pages; sessions that expire.
"""

from connectors.sandbox.webportal.app import WebPortalSandbox
from connectors.sandbox.webportal.config import Buyer, WebPortalSandboxConfig, load_config
from connectors.sandbox.webportal.facade import SandboxPortal

__all__ = [
    "Buyer",
    "SandboxPortal",
    "WebPortalSandbox",
    "WebPortalSandboxConfig",
    "load_config",
]
