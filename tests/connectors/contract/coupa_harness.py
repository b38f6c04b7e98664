"""The contract harness for Coupa: the Coupa sandbox with the test buyer."""

from __future__ import annotations

from pathlib import Path

import httpx

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import FaultPlan, SandboxServer
from hub.model import Invoice
from tests.connectors.support import make_connector, write_profile
from tests.factories import T0, buyer_config, make_invoice


class CoupaHarness:
    name = "coupa"
    supports_faults = frozenset({"drop_after", "unavailable_503"})

    def __init__(self, tmp_path: Path):
        self.faults = FaultPlan()
        self.sandbox = CoupaSandbox(buyer_config(), SandboxClock(start=T0))
        self.server: SandboxServer = self.sandbox.serve(faults=self.faults)
        self.http = httpx.Client(timeout=httpx.Timeout(2.0))
        self.connector = make_connector(self.http)
        self.profile = write_profile(tmp_path, self.server.url)

    def invoice(self, number: str) -> Invoice:
        return make_invoice(number)

    def refused_invoice(self, number: str) -> Invoice:
        return make_invoice(number, po="PO-999999")  # no such PO at the buyer

    def portal_count(self) -> int:
        return sum(1 for invoice in self.sandbox.invoices if invoice.payload_id)

    def advance(self, hours: float) -> None:
        self.sandbox.clock.advance(hours=hours)

    def inject(self, fault: str) -> None:
        self.faults.queue(fault, path_prefix="/acme/")  # type: ignore[arg-type]

    def stop_portal(self) -> None:
        self.server.stop()

    def close(self) -> None:
        self.http.close()
        self.server.stop()
