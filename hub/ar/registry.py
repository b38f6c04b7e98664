"""AR adapters are found through the `portalhub.ar_adapters` entry-point group, the same mechanism as
connectors (hub/entry_points.py): the built-ins (sql, files, webhook) register there exactly like third-party
packages do, and two adapters with one name stop the hub at start-up.

`build_ar` turns the `ar:` block (and the optional `feedback:` block) of portalhub.yaml into the hub's
source of invoices and sink of status events.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from hub.ar import ArAdapter, ArContext, ArSink, ArSource
from hub.config import AdapterConfig
from hub.entry_points import EntryPointRegistry
from hub.errors import ConfigError
from hub.model import Supplier
from hub.secrets import SecretResolver

if TYPE_CHECKING:
    import httpx

GROUP = "portalhub.ar_adapters"


class ArAdapterRegistry(EntryPointRegistry[ArAdapter]):
    """The installed AR adapters by kind (`get` imports an adapter on first use). `points` is the
    injection seam for tests (and embedders): without it, the entry points of the installed
    distributions."""

    def __init__(self, points: Iterable[EntryPoint] | None = None):
        super().__init__(points, group=GROUP, base=ArAdapter, noun="AR adapter", key="kind")

    def _check_class(self, cls: type[ArAdapter]) -> None:
        model = getattr(cls, "settings_model", None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigError(f"AR adapter {cls.__name__} has no settings_model (a pydantic model)")

    def build(self, block: AdapterConfig, context: ArContext, where: str = "ar") -> ArAdapter:
        """The adapter a config block describes, its settings checked by the adapter's own model."""
        cls = self.get(block.kind)
        try:
            settings = cls.settings_model.model_validate(block.settings)
        except ValidationError as exc:
            problems = [
                f"  {where}.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            ]
            raise ConfigError(
                f"the {block.kind!r} AR adapter's settings in `{where}:` are not valid:\n"
                + "\n".join(problems)
            ) from None
        return cls.from_settings(settings, context)


def build_ar(
    ar: AdapterConfig,
    feedback: AdapterConfig | None,
    *,
    registry: ArAdapterRegistry,
    supplier: Supplier,
    secrets: SecretResolver,
    http: httpx.Client | None = None,
) -> tuple[ArSource, ArSink]:
    """The hub's source (from `ar:`) and sink (from `feedback:`, else the same adapter as the source)."""

    def context(block: AdapterConfig) -> ArContext:
        return ArContext(supplier=supplier, secrets=secrets, base_dir=block.base_dir or Path.cwd(), http=http)

    # Roles are checked on the class first: a misplaced adapter is named before its settings are used.
    source_class = registry.get(ar.kind)
    if not callable(getattr(source_class, "pull", None)):
        raise ConfigError(
            f"the {ar.kind!r} AR adapter cannot be `ar:`: it sends status events but reads no invoices; "
            f"put it under `feedback:` and name the AR system invoices come from under `ar:`"
        )
    if feedback is None and not callable(getattr(source_class, "write", None)):
        raise ConfigError(
            f"the {ar.kind!r} AR adapter reads invoices but cannot take status events back; "
            f"add a `feedback:` block (e.g. kind: webhook or kind: files)"
        )
    if feedback is not None and not callable(getattr(registry.get(feedback.kind), "write", None)):
        raise ConfigError(
            f"the {feedback.kind!r} AR adapter cannot be `feedback:`: it takes no status events"
        )
    source = registry.build(ar, context(ar), "ar")
    sink = source if feedback is None else registry.build(feedback, context(feedback), "feedback")
    if not isinstance(source, ArSource) or not isinstance(sink, ArSink):
        raise ConfigError(
            "the AR adapters built from `ar:`/`feedback:` do not provide pull/write as documented"
        )
    return source, sink
