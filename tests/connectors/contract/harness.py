"""What a portal family provides so the shared contract suite can run against its connector.

A harness starts the family's sandbox (its `SandboxPortal`, connectors/sandbox/facade.py) on a real
socket, builds the connector and a profile for it, and knows which invoices that portal accepts and
refuses; what the suite does to the portal (faults, clock, stop, count) goes through the facade, the
same for every family (`PortalHarness`). Register it in `HARNESSES` (registry.py); a meta-test fails
for any installed connector without one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from connectors.base import Connector
from connectors.sandbox.facade import SandboxPortal
from hub.model import Invoice
from rules.schema import Profile

#: Fault names a harness may support (see connectors/sandbox/server.py FaultKind).
FAULTS = ("drop_after", "unavailable_503")


class ConnectorHarness(Protocol):
    name: str  # the connector's registered name
    #: Faults the family's sandbox can inject on the submission request.
    supports_faults: frozenset[str]
    connector: Connector
    profile: Profile

    def invoice(self, number: str) -> Invoice:
        """An invoice this portal accepts."""
        ...

    def refused_invoice(self, number: str) -> Invoice:
        """An invoice this portal refuses for its content (not a duplicate, not credentials)."""
        ...

    def portal_count(self) -> int:
        """How many invoices the portal holds that came from the hub."""
        ...

    def advance(self, hours: float) -> None:
        """Move the portal's clock so buyers act on invoices (approve, dispute, pay)."""
        ...

    def inject(self, fault: str) -> None:
        """The next submission request meets this fault."""
        ...

    def stop_portal(self) -> None:
        """Take the portal off the network (connection refused from now on)."""
        ...

    def close(self) -> None: ...


class HarnessFactory(Protocol):
    def __call__(self, tmp_path: Path) -> ConnectorHarness: ...


class PortalHarness:
    """The portal side of a harness, through the family's sandbox facade."""

    #: The sandbox family the harness starts (a meta-test wants every installed one played).
    family: str
    portal: SandboxPortal
    #: Faults met twice: a browser resends a form whose connection dropped, once, on its own, so "the
    #: answer is lost" means that resend's answer too.
    repeated_faults: frozenset[str] = frozenset()

    def portal_count(self) -> int:
        return len(self.portal.received())

    def advance(self, hours: float) -> None:
        self.portal.advance(hours)

    def inject(self, fault: str) -> None:
        self.portal.inject(fault, count=2 if fault in self.repeated_faults else 1)  # type: ignore[arg-type]

    def stop_portal(self) -> None:
        self.portal.stop()
