"""The contract harness for Ariba: the Ariba Network sandbox with the test buyer, statuses by poll."""

from __future__ import annotations

from pathlib import Path

import httpx

from connectors.sandbox.ariba import INVOICE_PATH, AribaSandbox
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan, SandboxServer
from hub.model import Invoice
from tests.connectors.ariba_support import ariba_config, make_ariba_connector, write_ariba_profile
from tests.factories import T0, make_invoice


class AribaHarness:
    name = "ariba"
    supports_faults = frozenset({"drop_after", "unavailable_503"})

    def __init__(self, tmp_path: Path):
        self.faults = FaultPlan()
        self.sandbox = AribaSandbox(ariba_config(), SandboxClock(start=T0))
        self.server: SandboxServer = self.sandbox.serve(faults=self.faults)
        self.http = httpx.Client(timeout=httpx.Timeout(2.0))
        self.connector = make_ariba_connector(self.http)
        self.profile = write_ariba_profile(tmp_path, self.server.url, status_mode="poll")

    def invoice(self, number: str) -> Invoice:
        return make_invoice(number)

    def refused_invoice(self, number: str) -> Invoice:
        return make_invoice(number, po="PO-999999")  # an order sent outside the network: INV-15

    def portal_count(self) -> int:
        return sum(1 for invoice in self.sandbox.invoices if invoice.payload_id)

    def advance(self, hours: float) -> None:
        self.sandbox.advance(hours=hours)

    def inject(self, fault: str) -> None:
        self.faults.queue(fault, path_prefix=INVOICE_PATH)  # type: ignore[arg-type]

    def stop_portal(self) -> None:
        self.server.stop()

    def close(self) -> None:
        self.http.close()
        self.sandbox.stop()
