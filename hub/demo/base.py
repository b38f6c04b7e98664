"""What the demo adds to a family's sandbox portal (connectors/sandbox/facade.py): the demo buyers'
configuration (`fixtures/demo/<family>_buyers.yaml`), the secrets its profiles name, where its address
goes in the fixture rules files, the faults the demo shows the hub surviving, and what a collector fixes
in AR after the first pass."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.facade import SandboxPortal
from connectors.sandbox.server import FaultPlan
from hub.demo.registry import SandboxRegistry

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def load_demo_sandbox(family: str, secrets: Mapping[str, str], **options: Any) -> SandboxPortal:
    """`family`'s sandbox portal with the demo's buyers (`fixtures/demo/<family>_buyers.yaml`), not
    started; `options` go to the family's `SandboxPortal`."""
    path = FIXTURES / "demo" / f"{family}_buyers.yaml"
    return SandboxRegistry().get(family).from_file(path, secrets, **options)


class DemoPortal:
    """One family's sandbox in the demo; a family subclasses it in `hub/demo/<family>.py`."""

    #: The sandbox family (its `portalhub.sandboxes` entry point) and the AR fixture `ar_data_<name>.sql`.
    name: ClassVar[str]
    #: Secret names the portal's profiles reference (`secret:<name>`); the demo generates their values.
    secret_names: ClassVar[tuple[str, ...]]
    #: Written in the fixture rules files where the sandbox's base URL belongs.
    placeholder: ClassVar[str]
    #: What a collector fixes in AR after the first pass: invoice number -> SQL statements on the AR database.
    corrections: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self) -> None:
        #: Inject the network faults the demo shows the hub surviving (off for `portalhub sandbox`).
        self.faults = True
        self.portal: SandboxPortal | None = None
        self.workspace: Path | None = None

    @property
    def sandbox(self) -> Any:
        """The family's own portal object (None before `start`)."""
        return self.portal.sandbox if self.portal is not None else None

    def options(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> dict[str, Any]:
        """The family's own options for its `SandboxPortal`."""
        return {}

    def fault_plan(self) -> FaultPlan | None:
        """The faults the demo injects on this portal (when `faults` is on)."""
        return None

    def start(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> str:
        """Start the sandbox with the demo buyers; returns its base URL."""
        self.workspace = workspace
        self.portal = load_demo_sandbox(
            self.name,
            secrets,
            clock=SandboxClock(),
            faults=self.fault_plan() if self.faults else None,
            **self.options(secrets, workspace, dtd),
        )
        return self.portal.start().url

    def configure(self, config: dict[str, Any]) -> None:
        """Add what the hub configuration needs for this portal (e.g. an inbound receiver)."""

    def advance(self, hours: float) -> None:
        """Move the portal's clock: buyers approve, dispute, pay, push statuses."""
        assert self.portal is not None
        self.portal.advance(hours)

    def correct(self, ar_path: Path) -> list[str]:
        """Apply `corrections` to the AR database; returns the invoice numbers corrected."""
        ar = sqlite3.connect(ar_path)
        with ar:
            for statements in self.corrections.values():
                for statement in statements:
                    ar.execute(statement)
        ar.close()
        return list(self.corrections)

    def sent_numbers(self) -> list[tuple[str, str]]:
        """(buyer, invoice number) of every invoice the hub created at the portal, for the duplicate count."""
        assert self.portal is not None
        return [(held.buyer, held.number) for held in self.portal.received()]

    def faults_injected(self) -> dict[str, int]:
        return self.portal.faults_injected() if self.portal is not None else {}

    def stop(self) -> None:
        if self.portal is not None:
            self.portal.stop()
