"""AR adapters: where invoices come from and where their status goes back.

A source yields `ArRecord`s: each is either a canonical invoice or the reason it could not become one
(the hub quarantines it and carries on). A sink receives status events as plain dicts and must be
idempotent on `event_id`: the hub may deliver an event again after a crash, never a different one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from hub.model import Invoice


@dataclass(frozen=True)
class ArRecord:
    key: str  # the AR system's own id for the record
    raw: dict[str, Any] = field(repr=False)
    invoice: Invoice | None = None
    error: str | None = None  # why the record is not an invoice, worded for the person who fixes it
    invoice_number: str | None = None


class ArSource(Protocol):
    name: str

    def pull(self, keys: Collection[str] | None = None) -> Iterator[ArRecord]:
        """Records that are ready to go to a portal (the hub skips those it already has unchanged);
        with `keys`, only those records (a collector re-reading one invoice)."""
        ...


class ArSink(Protocol):
    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Store status events; an `event_id` seen before must change nothing."""
        ...


def describe_validation_error(exc: ValidationError) -> str:
    """A pydantic error as one line per problem, with the field path: what a collector can fix."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "invoice"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)
