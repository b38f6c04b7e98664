"""Every connector's contract harness, by connector name. A new portal family adds one line."""

from __future__ import annotations

from tests.connectors.contract.ariba_harness import AribaHarness
from tests.connectors.contract.coupa_harness import CoupaHarness
from tests.connectors.contract.harness import HarnessFactory
from tests.connectors.contract.openinvoice_harness import OpenInvoiceRestHarness, OpenInvoiceSoapHarness
from tests.connectors.contract.supplierportal_harness import SupplierPortalHarness
from tests.connectors.contract.webportal_harness import WebPortalHarness

HARNESSES: dict[str, HarnessFactory] = {
    "coupa": CoupaHarness,
    "ariba": AribaHarness,
    "openinvoice": OpenInvoiceSoapHarness,
    "openinvoice-rest": OpenInvoiceRestHarness,  # one connector, a second transport
    "webportal": WebPortalHarness,
    "webportal-wizard": SupplierPortalHarness,  # one connector, a second portal and its recipe
}
