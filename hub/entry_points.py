"""Plugins found through an entry-point group: the one mechanism behind the connector registry
(hub/registry.py, `portalhub.connectors`), the AR adapter registry (hub/ar/registry.py,
`portalhub.ar_adapters`) and the sandbox registry (hub/demo/registry.py, `portalhub.sandboxes`).

The built-ins register in portalhub's own pyproject.toml exactly like third-party packages do. Two
packages registering one name stop the hub at start-up; a class is imported on first use, so an unused
heavy plugin costs nothing, and it must be a subclass of the registry's base whose own name (its
`name` or `kind` attribute) is the entry point's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar, cast

from hub.errors import ConfigError

P = TypeVar("P")


class EntryPointRegistry(Generic[P]):
    """The installed plugins of one kind, by name. `points` is the injection seam for tests (and
    embedders): without it, the entry points of the installed distributions."""

    def __init__(
        self,
        points: Iterable[EntryPoint] | None,
        *,
        group: str,
        base: type,
        noun: str,
        key: str,
        called: str | None = None,
    ):
        # `base` is P's class (abstract ones too, which `type[P]` would refuse).
        self._base = base
        self._noun = noun  # what a plugin is called in messages: "connector", "AR adapter"
        self._key = key  # the class attribute that holds the plugin's name: "name", "kind", "family"
        # how a missing one is named in messages: "named 'x'", "of kind 'x'"
        self._called = called or ("named" if key == "name" else f"of {key}")
        found = list(entry_points(group=group)) if points is None else list(points)
        self._points: dict[str, EntryPoint] = {}
        for point in found:
            if point.name in self._points and self._points[point.name].value != point.value:
                raise ConfigError(
                    f"{noun} name {point.name!r} is registered twice: by {self._points[point.name].value} "
                    f"and by {point.value}; uninstall one of the packages"
                )
            self._points[point.name] = point
        self._loaded: dict[str, type[P]] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._points)

    def get(self, name: str) -> type[P]:
        """The plugin class (imported on first use)."""
        if name not in self._loaded:
            point = self._points.get(name)
            if point is None:
                known = ", ".join(self.names) or "none"
                raise ConfigError(
                    f"no {self._noun} {self._called} {name!r} is installed (installed: {known})"
                )
            cls = point.load()
            if not (isinstance(cls, type) and issubclass(cls, self._base)):
                base = self._base.__name__
                article = "an" if base[0] in "AEIOU" else "a"
                raise ConfigError(
                    f"entry point {point.value} for {self._noun} {name!r} is not {article} {base} subclass"
                )
            if getattr(cls, self._key) != name:
                raise ConfigError(
                    f"entry point {name!r} loads {cls.__name__}, whose {self._key} is {getattr(cls, self._key)!r}"
                )
            plugin = cast("type[P]", cls)  # checked just above: a subclass of the base
            self._check_class(plugin)
            self._loaded[name] = plugin
        return self._loaded[name]

    def _check_class(self, cls: type[P]) -> None:
        """What else a plugin class must have (raise ConfigError); nothing by default."""
