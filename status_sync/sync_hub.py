"""What the status sync steps need of the hub: the `hub` argument every pipeline step takes, narrowed to
the parts polling and feedback use.

The assembled hub (`hub.runtime.Hub`) is one. A protocol rather than that class, because the assembled
hub loads the rules language and the status sync never depends on it: the sync works with the portal
profile at the bottom (hub/profile.py), the store, the clock, the connector contract and the AR sink.
"""

from __future__ import annotations

from typing import Protocol

from connectors.base import Connector
from hub.ar import ArSink
from hub.clock import Clock
from hub.profile import PortalProfile
from hub.store.database import Store

__all__ = ["LeaseTiming", "SyncHub", "SyncSettings"]


class LeaseTiming(Protocol):
    @property
    def lease_seconds(self) -> float:
        """How long a lease lasts: a dead holder blocks the others no longer than this."""
        ...


class SyncSettings(Protocol):
    @property
    def daemon(self) -> LeaseTiming: ...


class SyncHub(Protocol):
    """The store, the clock, this worker's identity, the AR sink, the lease timing and the live
    connector of a profile."""

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def worker_id(self) -> str: ...

    @property
    def ar_sink(self) -> ArSink: ...

    @property
    def config(self) -> SyncSettings: ...

    def connector(self, profile: PortalProfile) -> Connector:
        """The live connector for a profile."""
        ...
