"""The contract harness for Ariba: the Ariba Network sandbox with the test buyer, statuses by poll."""

from __future__ import annotations

from pathlib import Path

import httpx

from connectors.sandbox.ariba import SandboxPortal
from connectors.sandbox.clock import SandboxClock
from hub.model import Invoice
from tests.connectors.ariba_support import ariba_config, make_ariba_connector, write_ariba_profile
from tests.connectors.contract.harness import PortalHarness
from tests.factories import T0, make_invoice


class AribaHarness(PortalHarness):
    name = "ariba"
    family = "ariba"
    supports_faults = frozenset({"drop_after", "unavailable_503"})

    def __init__(self, tmp_path: Path):
        self.portal = SandboxPortal(ariba_config(), clock=SandboxClock(start=T0)).start()
        self.http = httpx.Client(timeout=httpx.Timeout(2.0))
        self.connector = make_ariba_connector(self.http)
        self.profile = write_ariba_profile(tmp_path, self.portal.url, status_mode="poll")

    def invoice(self, number: str) -> Invoice:
        return make_invoice(number)

    def refused_invoice(self, number: str) -> Invoice:
        return make_invoice(number, po="PO-999999")  # an order sent outside the network: INV-15

    def close(self) -> None:
        self.http.close()
        self.portal.stop()
