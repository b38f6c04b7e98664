"""The sandbox portals the demo starts: one module per portal family, listed here.

A family adds its sandbox to the demo by implementing `DemoPortal` in `hub/demo/<family>.py` and
adding its class to `DEMO_PORTALS`; its AR invoices go in `fixtures/demo/ar_data_<family>.sql` and its
rules files in `fixtures/rules/`, with `placeholder` where the sandbox's address belongs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from hub.demo.ariba import AribaDemoPortal
from hub.demo.coupa import CoupaDemoPortal
from hub.demo.openinvoice import OpenInvoiceDemoPortal
from hub.demo.webportal import WebPortalDemoPortal


class DemoPortal(Protocol):
    name: str
    #: Secret names the portal's profiles reference (`secret:<name>`); the demo generates their values.
    secret_names: tuple[str, ...]
    #: Written in the fixture rules files where the sandbox's base URL belongs.
    placeholder: str
    #: Inject the network faults the demo shows the hub surviving (off for `portalhub sandbox`).
    faults: bool

    def start(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> str:
        """Start the sandbox; returns its base URL."""
        ...

    def configure(self, config: dict[str, Any]) -> None:
        """Add what the hub configuration needs for this portal (e.g. an inbound receiver)."""
        ...

    def advance(self, hours: float) -> None:
        """Move the portal's clock: buyers approve, dispute, pay, push statuses."""
        ...

    def correct(self, ar_path: Path) -> list[str]:
        """What a collector fixes in AR after the first pass; returns the invoice numbers corrected."""
        ...

    def sent_numbers(self) -> list[tuple[str, str]]:
        """(buyer, invoice number) of every invoice the hub created at the portal, for the duplicate count."""
        ...

    def faults_injected(self) -> dict[str, int]: ...

    def stop(self) -> None: ...


DEMO_PORTALS: list[type[DemoPortal]] = [
    CoupaDemoPortal,
    OpenInvoiceDemoPortal,
    AribaDemoPortal,
    WebPortalDemoPortal,
]
