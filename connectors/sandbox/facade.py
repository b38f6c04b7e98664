"""One shape for every sandbox portal family: what the demo, the contract suite, the benchmarks and
`portalhub sandbox <family>` need of a portal, whichever portal it is.

Each family (`connectors/sandbox/<family>/`) exports a `SandboxPortal` subclass and registers it under the
`portalhub.sandboxes` entry-point group, as connectors register under `portalhub.connectors`:

    with SandboxPortal(config, clock=SandboxClock(start=t0)) as portal:   # started on a free port
        portal.url                      # where the hub sends
        portal.inject("drop_after")     # the next submission meets this fault
        portal.advance(24)              # buyers approve, dispute, pay (and push, where the portal pushes)
        portal.received()               # what the portal made of what it received: (buyer, number) each
        portal.profile().yaml()         # a rules file that talks to it (and `.secrets` it names)

`SandboxPortal.from_file(path, secrets)` reads the family's YAML configuration. The family's own portal object stays reachable as `portal.sandbox` for what only that family has (the
web portals' session controls, the Coupa DTD findings).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Self

import yaml
from pydantic import BaseModel

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.config import load_sandbox_config
from connectors.sandbox.server import FaultKind, FaultPlan, Received, SandboxServer


class HeldInvoice(NamedTuple):
    """An invoice a portal created from a document it received (not one it held before)."""

    buyer: str  # the family's name for the buyer: Coupa instance, Ariba buyer key, web portal slug...
    number: str


@dataclass(frozen=True)
class ReadyProfile:
    """A rules file (without rules of its own) that talks to a sandbox portal, and the secrets it names:
    `secret:<name>` in `spec`, `secrets[name]` the value for the hub's secrets file."""

    spec: dict[str, Any]
    secrets: dict[str, str]

    @property
    def id(self) -> str:
        return str(self.spec["id"])

    def yaml(self) -> str:
        return yaml.safe_dump(self.spec, sort_keys=False)

    def write(self, rules_dir: Path) -> Path:
        """Write the rules file as `<rules_dir>/<id>.yaml`; returns its path."""
        rules_dir.mkdir(parents=True, exist_ok=True)
        path = rules_dir / f"{self.id}.yaml"
        path.write_text(self.yaml(), encoding="utf-8")
        return path


def rules_file(
    profile_id: str,
    buyer: str,
    connector: str,
    connection: dict[str, Any],
    customers: list[str],
    extends: list[str] | None = None,
) -> dict[str, Any]:
    """The frame of a rules file around a connection block: a baseline (the family's unless told), no
    rules of its own."""
    return {
        "id": profile_id,
        "buyer": buyer,
        "connector": connector,
        "extends": [f"{connector}-baseline"] if extends is None else extends,
        "match": {"customer_id": customers},
        "connection": connection,
        "rules": [],
    }


class SandboxPortal(ABC):
    """A sandbox portal of one family on 127.0.0.1: start/stop (or `with`), its URL, what it received,
    the faults it injects and the clock its buyers act on."""

    #: The family's name: the entry-point name, the connector it plays against, `portalhub sandbox <family>`.
    family: ClassVar[str]
    #: The family's configuration model (`from_file` reads YAML into it).
    config_model: ClassVar[type[BaseModel]]
    #: The family's own portal object, for what only that family has.
    sandbox: Any

    def __init__(
        self,
        config: BaseModel,
        *,
        clock: SandboxClock | None = None,
        faults: FaultPlan | None = None,
        latency: float = 0.0,
    ):
        self.config = config
        self.clock = clock or SandboxClock()
        self.faults = faults or FaultPlan()
        self.latency = latency  # added to every answer: the benchmarks' fixed portal round trip

    @classmethod
    def from_file(cls, path: Path, secrets: Mapping[str, str], **options: Any) -> Self:
        """A portal configured by a sandbox YAML file whose `secret:name` values come from `secrets`."""
        return cls(load_sandbox_config(path, secrets, cls.config_model), **options)

    # --- running -----------------------------------------------------------------------------------------
    @abstractmethod
    def start(self, port: int = 0) -> Self:
        """Serve on 127.0.0.1 (a free port unless one is given)."""

    @property
    @abstractmethod
    def servers(self) -> list[SandboxServer]:
        """The sockets the portal serves on (one per face), once started."""

    def stop(self) -> None:
        """Take the portal off the network (connection refused from then on)."""
        for server in self.servers:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL of the portal (its main face)."""
        return self.servers[0].url

    @property
    def urls(self) -> dict[str, str]:
        """Every face's base URL by name (a portal with one face: just `url`)."""
        return {"url": self.url}

    # --- what it received --------------------------------------------------------------------------------
    @abstractmethod
    def received(self) -> list[HeldInvoice]:
        """Every invoice the portal created from what it received, in arrival order."""

    def receipts(self) -> list[Received]:
        """The receipt log: every document that reached the portal and what became of it (portals that
        read documents; a web portal's forms are not documents)."""
        return [receipt for server in self.servers for receipt in server.receipts()]

    def profile(
        self, buyer: str | None = None, *, customers: tuple[str, ...] = ("C-1",), **connection: Any
    ) -> ReadyProfile:
        """A ready profile for `buyer` (default: the first configured) that talks to this portal once
        started; `connection` entries replace the block's own. Optional: a family without one says so."""
        raise NotImplementedError(f"the {self.family} sandbox offers no ready profile")

    # --- faults and the clock ----------------------------------------------------------------------------
    def submit_path(self) -> str:
        """Where submissions arrive: the path prefix `inject` puts a fault on unless told another."""
        return ""

    def inject(self, kind: FaultKind, count: int = 1, path_prefix: str | None = None) -> None:
        """The next `count` submissions (POSTs under `path_prefix`) meet this fault."""
        prefix = self.submit_path() if path_prefix is None else path_prefix
        self.faults.queue(kind, count=count, path_prefix=prefix)

    def faults_injected(self) -> dict[str, int]:
        return dict(self.faults.injected)

    def advance(self, hours: float) -> None:
        """Move the portal's clock: buyers approve, dispute and pay what is due by then."""
        self.clock.advance(hours=hours)


class OneServerPortal(SandboxPortal):
    """A family whose portal object serves one socket: built as `portal_class(config, clock, **options)`,
    started with `serve(port, faults=..., latency=...)`, its socket at `.server`."""

    #: The family's own portal class (CoupaSandbox, AribaSandbox, WebPortalSandbox, ...).
    portal_class: ClassVar[Any]

    def __init__(
        self,
        config: BaseModel,
        *,
        clock: SandboxClock | None = None,
        faults: FaultPlan | None = None,
        latency: float = 0.0,
        **options: Any,
    ):
        """`options` go to the portal class (e.g. `cxml_refs`: the folder of official cXML DTDs a cXML
        portal validates against; else the config's or $PORTALHUB_CXML_REFS; none: no DTD check)."""
        super().__init__(config, clock=clock, faults=faults, latency=latency)
        self.sandbox = self.portal_class(config, self.clock, **options)

    def start(self, port: int = 0) -> Self:
        self.sandbox.serve(port, faults=self.faults, latency=self.latency)
        return self

    @property
    def servers(self) -> list[SandboxServer]:
        return [self.sandbox.server] if self.sandbox.server is not None else []
