"""An OpenInvoice-style portal on 127.0.0.1 (refs/PORTALS.md, "OpenInvoice"): one portal, two faces.

- SOAP (`serve_soap`, plain HTTP): the WSDL at `/openinvoice/InvoiceService?wsdl` and the service at
  `/openinvoice/InvoiceService` (SubmitInvoice, GetInvoiceStatus, ListInvoiceChanges); WS-Security.
- REST (`serve_rest`, HTTPS with client certificates): `…/invoices/invoice.submit` with a `mac` header,
  `…/invoices` listing with `$filter`/`$orderby`/`$top`/`$skip`.
- `/_sandbox/...` on the SOAP server (connectors/sandbox/control.py): inspection and
  control for people exploring the demo.

Both faces share one set of invoices, buyers and clock. Certificates for the REST face come from
`certs.TestCertificateAuthority`, made at run time by the tests and the demo.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from connectors.sandbox.config import load_sandbox_config
from connectors.sandbox.openinvoice.config import (
    ExistingInvoice,
    OpenInvoiceBuyer,
    OpenInvoiceSandboxConfig,
    SupplierAccount,
)
from connectors.sandbox.openinvoice.facade import Certificates, SandboxPortal
from connectors.sandbox.openinvoice.portal import PortalInvoice
from connectors.sandbox.openinvoice.rest import INVOICES_PATH, SUBMIT_PATH
from connectors.sandbox.openinvoice.sandbox import OpenInvoiceSandbox
from connectors.sandbox.openinvoice.soap import SOAP_PATH, SoapFault

__all__ = [
    "INVOICES_PATH",
    "SOAP_PATH",
    "SUBMIT_PATH",
    "Certificates",
    "ExistingInvoice",
    "OpenInvoiceBuyer",
    "OpenInvoiceSandbox",
    "OpenInvoiceSandboxConfig",
    "PortalInvoice",
    "SandboxPortal",
    "SoapFault",
    "SupplierAccount",
    "load_config",
]


def load_config(path: Path, secrets: Mapping[str, str]) -> OpenInvoiceSandboxConfig:
    """A sandbox YAML file whose `secret:name` values are taken from `secrets`."""
    return load_sandbox_config(path, secrets, OpenInvoiceSandboxConfig)
