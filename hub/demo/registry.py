"""Sandbox portals are found through the `portalhub.sandboxes` entry-point group (connectors/sandbox/
facade.py): the built-ins register there exactly like a third-party family's sandbox does. Two sandboxes
with one name stop at start-up."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from connectors.sandbox.facade import SandboxPortal
from hub.errors import ConfigError

GROUP = "portalhub.sandboxes"


class SandboxRegistry:
    def __init__(self, points: list[EntryPoint] | None = None):
        points = list(entry_points(group=GROUP)) if points is None else points
        self._points: dict[str, EntryPoint] = {}
        for point in points:
            if point.name in self._points and self._points[point.name].value != point.value:
                raise ConfigError(
                    f"sandbox name {point.name!r} is registered twice: by {self._points[point.name].value} "
                    f"and by {point.value}; uninstall one of the packages"
                )
            self._points[point.name] = point

    @property
    def names(self) -> list[str]:
        return sorted(self._points)

    def get(self, family: str) -> type[SandboxPortal]:
        """The family's `SandboxPortal` class (imported on first use)."""
        point = self._points.get(family)
        if point is None:
            raise ConfigError(
                f"no sandbox named {family!r} is installed (installed: {', '.join(self.names)})"
            )
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, SandboxPortal)):
            raise ConfigError(f"entry point {point.value} for {family!r} is not a SandboxPortal")
        if cls.family != family:
            raise ConfigError(f"entry point {family!r} loads {cls.__name__}, whose family is {cls.family!r}")
        return cls
