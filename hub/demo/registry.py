"""Sandbox portals are found through the `portalhub.sandboxes` entry-point group (connectors/sandbox/
facade.py): the built-ins register there exactly like a third-party family's sandbox does. Two sandboxes
with one name stop at start-up (hub/entry_points.py, the mechanism shared with connectors and AR adapters)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint

from connectors.sandbox.facade import SandboxPortal
from hub.entry_points import EntryPointRegistry

GROUP = "portalhub.sandboxes"


class SandboxRegistry(EntryPointRegistry[SandboxPortal]):
    """The installed sandbox portals by family (`get` imports one on first use)."""

    def __init__(self, points: Iterable[EntryPoint] | None = None):
        super().__init__(
            points, group=GROUP, base=SandboxPortal, noun="sandbox", key="family", called="named"
        )
