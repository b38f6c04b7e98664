"""Connectors are found through the `portalhub.connectors` entry-point group: the built-ins register
there exactly like third-party packages do. Two connectors with one name stop the hub at start-up."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from connectors.base import Connector
from hub.errors import ConfigError

GROUP = "portalhub.connectors"


class ConnectorRegistry:
    def __init__(self, points: list[EntryPoint] | None = None):
        points = list(entry_points(group=GROUP)) if points is None else points
        self._points: dict[str, EntryPoint] = {}
        for point in points:
            if point.name in self._points and self._points[point.name].value != point.value:
                raise ConfigError(
                    f"connector name {point.name!r} is registered twice: by {self._points[point.name].value} "
                    f"and by {point.value}; uninstall one of the packages"
                )
            self._points[point.name] = point
        self._loaded: dict[str, type[Connector]] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._points)

    def get(self, name: str) -> type[Connector]:
        """The connector class (imported on first use, so unused heavy connectors cost nothing)."""
        if name not in self._loaded:
            point = self._points.get(name)
            if point is None:
                known = ", ".join(self.names) or "none"
                raise ConfigError(f"no connector named {name!r} is installed (installed: {known})")
            cls = point.load()
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise ConfigError(f"entry point {point.value} for {name!r} is not a Connector subclass")
            if cls.name != name:
                raise ConfigError(f"entry point {name!r} loads {cls.__name__}, whose name is {cls.name!r}")
            self._loaded[name] = cls
        return self._loaded[name]

    def check_connection(self, connector: str, connection: dict[str, Any]) -> None:
        """For rules.loader: validate a profile's connection block with its connector's model."""
        self.get(connector).check_connection(connection)
