"""What a portal family provides so the shared contract suite can run against its connector.

A harness starts the family's sandbox on a real socket, builds the connector and a profile for it,
and knows which invoices that portal accepts and refuses. Register it in `HARNESSES` (registry.py);
a meta-test fails for any installed connector without one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from connectors.base import Connector
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
