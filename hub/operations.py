"""What the operators' and auditors' commands ask of the hub, as typed results with their JSON form
(`as_json()`): the audit trail of an invoice, verifying and anchoring the hash chains, exporting the log
of a period, the period report, and the users and API tokens of the web pages.

The store is opened here, never by the command line (hub/commands/): a command asks, then prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from hub import audit, audit_anchors
from hub.corrections import cli_actor, find_invoice
from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.reports import Report, WrittenReport
    from hub.runtime import Hub


# --- audit -------------------------------------------------------------------------------------------------------
@dataclass
class AuditTrail:
    """One invoice's events in order, each with its actor and hash (`portalhub audit INV`)."""

    invoice_number: str
    state: str
    events: list[dict[str, Any]]

    def as_json(self) -> list[dict[str, Any]]:
        return self.events


def audit_trail(hub: Hub, number: str) -> AuditTrail:
    """The trail of the invoice by any number the buyer sees (hub/corrections: `find_invoice`)."""
    with hub.store.session() as session:
        row = find_invoice(session, number)
        assert row.id is not None
        events = [audit.exported(e, row.invoice_number) for e in audit.timeline(session, row.id)]
    return AuditTrail(row.invoice_number, row.state, events)


@dataclass
class AuditCheck:
    """Every invoice's hash chain recomputed and, with an anchors file, compared with its checkpoints."""

    events: int
    invoices: int
    problems: list[audit.Problem] = field(default_factory=list)
    anchors: int | None = None  # None: no anchors file was checked
    anchored_heads: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "invoices": self.invoices,
            "anchors": self.anchors,
            "anchored_heads": self.anchored_heads,
            "problems": [p.__dict__ for p in self.problems],
        }


def verify_audit(hub: Hub, anchors: Path | None = None, max_age_seconds: float | None = None) -> AuditCheck:
    """`portalhub audit verify [--anchors FILE]` (docs/audit.md)."""
    with hub.store.session() as session:
        chains = audit.verify(session)
        found = AuditCheck(chains.events, chains.invoices, list(chains.problems))
        if anchors is not None:
            age = timedelta(seconds=max_age_seconds) if max_age_seconds is not None else None
            anchored = audit_anchors.verify_hub(hub, session, anchors, age)
            found.problems += anchored.problems
            found.anchors, found.anchored_heads = anchored.anchors, anchored.heads
    return found


@dataclass
class Checkpoint:
    """One anchor written outside the database: its number, time, what it covers and where it went."""

    n: int
    at: Any  # as the anchors file has it
    invoices: int
    events: int
    full: bool
    heads: int
    file: Path

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "file": str(self.file)}


def audit_checkpoint(hub: Hub) -> Checkpoint:
    """`portalhub audit checkpoint`: every chain head anchored in the configured anchors file."""
    record = audit_anchors.checkpoint_hub(hub)
    assert hub.config.audit is not None  # checkpoint_hub refuses a hub without an audit section
    return Checkpoint(
        record["n"],
        record["at"],
        record["invoices"],
        record["events"],
        record["full"],
        len(record["heads"]),
        hub.config.audit.anchors_file,
    )


def export_audit(hub: Hub, start: datetime, end: datetime, stream: TextIO) -> int:
    """The events of a period as JSON lines into `stream`; how many were written."""
    count = 0
    with hub.store.session() as session:
        for event, number in audit.events_between(session, start, end):
            stream.write(json.dumps(audit.exported(event, number), default=str) + "\n")
            count += 1
    return count


# --- the period report -------------------------------------------------------------------------------------------
@dataclass
class PeriodReport:
    """A period's report (hub/reports) and the files it was written to."""

    start: datetime
    end: datetime
    data: Report
    written: WrittenReport

    def as_json(self) -> dict[str, Any]:
        from hub.money import amount_text

        data = self.data
        return {
            "since": self.start.isoformat(),
            "until": self.end.isoformat(),
            "by_portal": [{**a.__dict__, "rate": a.rate} for a in data.by_portal],
            "by_customer": [{**a.__dict__, "rate": a.rate} for a in data.by_customer],
            "categories": [{**c.__dict__, "label": c.label} for c in data.categories],
            "caught_by_preflight": data.caught_by_preflight,
            "caught_by_portal": data.caught_by_portal,
            "preflight_share": data.preflight_share,
            "cycle_times": [c.__dict__ for c in data.cycle_times],
            "outstanding": [
                {**o.__dict__, "amount": amount_text(o.amount, o.currency)} for o in data.outstanding
            ],
            "html": str(self.written.html),
            "csv": [str(p) for p in self.written.csvs],
        }


def period_report(hub: Hub, start: datetime, end: datetime, folder: Path) -> PeriodReport:
    """`portalhub report`: the period computed and written into `folder` (report.html and CSV files)."""
    from hub.reports import build_report, write_report

    if start >= end:
        raise ConfigError(f"--since ({start:%Y-%m-%d}) must be before --until ({end:%Y-%m-%d})")
    data = build_report(hub, start, end)
    return PeriodReport(start, end, data, write_report(data, folder))


# --- users and API tokens of the web pages -----------------------------------------------------------------------
@dataclass
class Accounts:
    """Users (role, customers, disabled, tokens) and API tokens; never a password or a token."""

    users: list[dict[str, Any]]
    tokens: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"users": self.users, "tokens": self.tokens}


def accounts(hub: Hub) -> Accounts:
    from hub.web.accounts import list_tokens, list_users

    return Accounts(list_users(hub.store), list_tokens(hub.store))


def add_user(hub: Hub, name: str, password: str, role: str, customers: tuple[str, ...]) -> None:
    """A user who logs in to the web pages, added by the person at this terminal."""
    from hub.web.accounts import add_user as add

    add(hub.store, name, password, role, customers=customers, by=cli_actor(), now=hub.clock.now())


def disable_user(hub: Hub, name: str) -> None:
    from hub.web.accounts import disable_user as disable

    disable(hub.store, name, hub.clock.now())


def create_token(hub: Hub, name: str, *, user: str | None, role: str | None) -> str:
    """A new API token (returned once; only its hash is kept)."""
    from hub.web.accounts import create_token as create

    return create(hub.store, name, user=user, role=role, by=cli_actor(), now=hub.clock.now())


def revoke_token(hub: Hub, name: str) -> None:
    from hub.web.accounts import revoke_token as revoke

    revoke(hub.store, name, hub.clock.now())
