"""The Ariba Network sandbox behind the shape every family shares (connectors/sandbox/facade.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from connectors.sandbox import facade
from connectors.sandbox.ariba.config import AribaSandboxConfig
from connectors.sandbox.ariba.network import INVOICE_PATH, AribaSandbox
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.server import FaultPlan, SandboxServer


class SandboxPortal(facade.SandboxPortal):
    family = "ariba"
    config_model = AribaSandboxConfig

    def __init__(
        self,
        config: AribaSandboxConfig,
        *,
        clock: SandboxClock | None = None,
        faults: FaultPlan | None = None,
        latency: float = 0.0,
        cxml_refs: Path | None = None,
    ):
        """`cxml_refs`: the folder of official cXML DTDs the network validates against (else the
        config's or $PORTALHUB_CXML_REFS; none: no DTD check)."""
        super().__init__(config, clock=clock, faults=faults, latency=latency)
        self.sandbox = AribaSandbox(config, self.clock, cxml_refs=cxml_refs)

    def start(self, port: int = 0) -> Self:
        self.sandbox.serve(port, faults=self.faults, latency=self.latency)
        return self

    @property
    def servers(self) -> list[SandboxServer]:
        return [self.sandbox.server] if self.sandbox.server is not None else []

    def stop(self) -> None:
        self.sandbox.stop()  # the server, and the pusher's client

    def received(self) -> list[facade.HeldInvoice]:
        return [
            facade.HeldInvoice(i.buyer.key, i.number) for i in list(self.sandbox.invoices) if i.payload_id
        ]

    def submit_path(self) -> str:
        return INVOICE_PATH

    def advance(self, hours: float) -> None:
        self.sandbox.advance(hours=hours)  # the buyers act, and the network pushes what they did
