"""The contract harness for Coupa: the Coupa sandbox with the test buyer."""

from __future__ import annotations

from pathlib import Path

import httpx

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import SandboxPortal
from hub.model import Invoice
from tests.connectors.contract.harness import PortalHarness
from tests.connectors.support import make_connector, write_profile
from tests.factories import T0, buyer_config, make_invoice


class CoupaHarness(PortalHarness):
    name = "coupa"
    family = "coupa"
    supports_faults = frozenset({"drop_after", "unavailable_503"})

    def __init__(self, tmp_path: Path):
        self.portal = SandboxPortal(buyer_config(), clock=SandboxClock(start=T0)).start()
        self.http = httpx.Client(timeout=httpx.Timeout(2.0))
        self.connector = make_connector(self.http)
        self.profile = write_profile(tmp_path, self.portal.url)

    def invoice(self, number: str) -> Invoice:
        return make_invoice(number)

    def refused_invoice(self, number: str) -> Invoice:
        return make_invoice(number, po="PO-999999")  # no such PO at the buyer

    def close(self) -> None:
        self.http.close()
        self.portal.stop()
