"""Connectors are found through the `portalhub.connectors` entry-point group: the built-ins register
there exactly like third-party packages do. Two connectors with one name stop the hub at start-up
(hub/entry_points.py, the mechanism shared with the AR adapters)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint
from typing import Any

from connectors.base import Connector
from hub.entry_points import EntryPointRegistry

GROUP = "portalhub.connectors"


class ConnectorRegistry(EntryPointRegistry[Connector]):
    """The installed connectors by name (`get` imports a connector on first use)."""

    def __init__(self, points: Iterable[EntryPoint] | None = None):
        super().__init__(points, group=GROUP, base=Connector, noun="connector", key="name")

    def check_connection(self, connector: str, connection: dict[str, Any]) -> None:
        """For rules.loader: validate a profile's connection block with its connector's model."""
        self.get(connector).check_connection(connection)
