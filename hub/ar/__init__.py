"""AR adapters: where invoices come from and where their status goes back.

A source yields `ArRecord`s: each is either a canonical invoice or the reason it could not become one
(the hub quarantines it and carries on). A sink receives status events as plain dicts and must be
idempotent on `event_id`: the hub may deliver an event again after a crash, never a different one.

This module is the adapter API (docs/ar-adapters.md): `ArRecord`, `ArSource`, `ArSink`, and for
adapters the hub builds from its configuration, `ArAdapter` (registered in the
`portalhub.ar_adapters` entry-point group) and the `ArContext` it is built with.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from hub.errors import PortalhubError
from hub.model import Invoice, Supplier
from hub.secrets import SecretResolver

if TYPE_CHECKING:
    import httpx

#: What AR adapters outside this repository may import (docs/public-api.md).
__all__ = [
    "ArAdapter",
    "ArContext",
    "ArRecord",
    "ArSink",
    "ArSource",
    "ArUnavailableError",
    "describe_validation_error",
]


@dataclass(frozen=True)
class ArRecord:
    """One record of the AR system: an invoice, or (with `error`) why it is not one."""

    key: str  # the AR system's own id for the record
    raw: dict[str, Any] = field(repr=False)
    invoice: Invoice | None = None
    error: str | None = None  # why the record is not an invoice, worded for the person who fixes it
    invoice_number: str | None = None


@runtime_checkable
class ArSource(Protocol):
    """Where invoices come from. `name` is stored with every invoice it produced: keep it stable."""

    name: str

    def pull(self, keys: Collection[str] | None = None) -> Iterator[ArRecord]:
        """Records that are ready to go to a portal (the hub skips those it already has unchanged);
        with `keys`, only those records (a collector re-reading one invoice)."""
        ...


@runtime_checkable
class ArSink(Protocol):
    """Where status events go back to the AR system."""

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Store status events; an `event_id` seen before must change nothing."""
        ...


class ArUnavailableError(PortalhubError):
    """The AR system (database, folder, webhook receiver) did not take the events. The feedback outbox
    keeps them and tries again later with backoff; nothing is lost."""


@dataclass(frozen=True)
class ArContext:
    """What the hub hands an adapter it builds from the configuration."""

    supplier: Supplier  # the hub's own supplier details (`supplier:` in portalhub.yaml)
    secrets: SecretResolver  # secrets only by reference; resolved values are masked in logs
    base_dir: Path  # relative paths in the adapter's settings are relative to this folder
    http: httpx.Client | None = None  # the hub's shared HTTP client, for adapters that talk HTTP


class ArAdapter:
    """Base of every adapter the hub builds from an `ar:` or `feedback:` block of portalhub.yaml.

    A subclass sets `kind` (its entry-point name in `portalhub.ar_adapters`) and `settings_model` (a
    pydantic model of its settings: every key of the block but `kind`), and implements `pull` (a
    source), `write` (a sink) or both. The hub validates the block with `settings_model`, then calls
    `from_settings`; a settings error stops the hub at start-up with the field's path.
    """

    kind: ClassVar[str] = ""
    settings_model: ClassVar[type[BaseModel]]
    #: True when the hub may hold several records of `pull()` before storing them (one transaction
    #: for many): the adapter does nothing irreversible between records, or calls `settle()` before it
    #: does. The default keeps the safe way for adapters that do not say: each record is stored
    #: before the next is asked for.
    batched_intake: ClassVar[bool] = False
    #: Set by the hub while it pulls in batches: stores every record yielded so far.
    on_settle: Callable[[], None] | None = None

    def settle(self) -> None:
        """Call from `pull()` before anything that assumes the records yielded so far are stored (the
        files adapter moving an export to done/): when it returns, they are committed."""
        if self.on_settle is not None:
            self.on_settle()

    def changes(self) -> Iterator[ArRecord]:
        """What each ingest reads: the ready records that may have changed since the last call. The
        default is every ready record (`pull()`); an adapter that can tell what changed reads less (the
        SQL adapter with `tables.changed_column`). It must call `settle()` before it counts a record as
        read for good: a record yielded and then lost in a failed batch must come back."""
        if not isinstance(self, ArSource):
            raise TypeError(f"{type(self).__name__} is not an AR source (it has no pull())")
        return self.pull()

    def __init__(self, settings: Any, context: ArContext):
        self.settings = settings
        self.context = context
        #: The source name stored with every invoice (`ar-<kind>`): changing it makes old invoices foreign.
        self.name = f"ar-{self.kind}"

    @classmethod
    def from_settings(cls, settings: Any, context: ArContext) -> ArAdapter:
        """Build the adapter from its validated settings (override when construction needs more)."""
        return cls(settings, context)


def describe_validation_error(exc: ValidationError) -> str:
    """A pydantic error as one line per problem, with the field path: what a collector can fix."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "invoice"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)
