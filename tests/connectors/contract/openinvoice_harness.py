"""The contract harnesses for OpenInvoice: one connector, two transports, one harness each.

Both are keyed in registry.py under their own names ("openinvoice" for SOAP, "openinvoice-rest") and
declare `name = "openinvoice"`, the connector they exercise."""

from __future__ import annotations

from pathlib import Path

from connectors.sandbox.openinvoice import SOAP_PATH, SUBMIT_PATH
from hub.model import Invoice
from tests.connectors.contract.harness import PortalHarness
from tests.connectors.openinvoice_support import OpenInvoiceWorld, oil_invoice, oil_line


class _OpenInvoiceHarness(PortalHarness):
    name = "openinvoice"
    family = "openinvoice"
    transport = ""
    submit_path = ""
    supports_faults = frozenset({"drop_after", "unavailable_503"})

    def __init__(self, tmp_path: Path):
        self.world = OpenInvoiceWorld(tmp_path)
        self.portal = self.world.portal
        self.connector = self.world.connector
        self.profile = self.world.profile(self.transport)

    def invoice(self, number: str) -> Invoice:
        return oil_invoice(number)

    def refused_invoice(self, number: str) -> Invoice:
        return oil_invoice(number, lines=[oil_line(afe_number=None)])  # the buyer requires an AFE

    def inject(self, fault: str) -> None:
        self.portal.inject(fault, path_prefix=self.submit_path)  # type: ignore[arg-type]

    def close(self) -> None:
        self.world.close()


class OpenInvoiceSoapHarness(_OpenInvoiceHarness):
    transport = "soap"
    submit_path = SOAP_PATH


class OpenInvoiceRestHarness(_OpenInvoiceHarness):
    transport = "rest"
    submit_path = SUBMIT_PATH
