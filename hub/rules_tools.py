"""What `portalhub rules ...` does beyond loading: lint, run examples, suggest rules from rejections.

The pure parts live in `rules/` (lint, examples, suggest); this module supplies what they cannot
have: connectors to render documents (with placeholder secrets), and the store's rejections.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import httpx
from lxml import etree
from sqlmodel import col, select

from connectors.base import ConnectorContext, Envelope
from hub.model import Invoice, InvoiceState
from hub.preflight import PlaceholderSecrets
from hub.registry import ConnectorRegistry
from hub.runtime import Hub, refs_root
from hub.store.tables import AttemptRow, EventRow, InvoiceRow
from rules.examples import ExampleResult, run_examples
from rules.lint import Warning_, lint_file
from rules.loader import (
    BASELINES_DIR,
    Problem,
    RulesFileError,
    load_profile,
    load_ruleset,
    read_rules_file,
)
from rules.schema import Limits, Match, Profile, RulesFile
from rules.suggest import Rejection, Suggestion, caught_share, suggest

S = InvoiceState


@dataclass
class CheckReport:
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)


def check(paths: list[Path], registry: ConnectorRegistry, today: date) -> CheckReport:
    """Load every file (profiles with their connection checked), then lint the ones that load."""
    report = CheckReport()
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    owners: dict[str, str] = {}
    for path in files:
        report.files.append(str(path))
        try:
            profile_or_set: Any = load_ruleset(path)
            if isinstance(profile_or_set, RulesFile):
                profile = load_profile(path, registry.check_connection, refs_root())
                for customer in profile.match.customer_id:
                    if customer in owners:
                        report.problems.append(
                            Problem(
                                path,
                                None,
                                "match.customer_id",
                                f"customer {customer!r} is also matched by {owners[customer]}",
                            )
                        )
                    owners[customer] = str(path)
                line = read_rules_file(path).line_of(["connection"])
                report.warnings.extend(
                    Warning_(str(path), line, None, what)
                    for what in registry.get(profile.connector).profile_warnings(profile.connection)
                )
            report.warnings.extend(lint_file(path, refs_root(), today))
        except RulesFileError as exc:
            report.problems.extend(exc.problems)
    return report


def renderer(registry: ConnectorRegistry) -> Any:
    """Render an example invoice with the named connector, placeholder secrets, never sending it."""

    def render(
        invoice: Invoice, connector_name: str, connection: dict[str, Any] | None
    ) -> etree._Element | None:
        cls = registry.get(connector_name)
        try:
            settings = connection or cls.example_connection()
        except NotImplementedError:
            return None
        profile = Profile(
            id="example",
            buyer="example",
            connector=connector_name,
            match=Match(customer_id=["example"]),
            connection=settings,
            limits=Limits(),
            rules=[],
            sources=[],
            fingerprint="example",
        )

        with httpx.Client() as http:
            connector = cls(ConnectorContext(http=http, secrets=PlaceholderSecrets(), now=lambda: None))  # type: ignore[arg-type,return-value]
            envelope = Envelope(
                payload_id="example@portalhub",
                timestamp=_noon(invoice),
                invoice_number=invoice.invoice_number,
                original_payload_id="example-original@portalhub" if invoice.original_invoice_number else None,
            )
            tree: etree._Element | None = connector.render(invoice, profile, envelope).tree
            return tree

    return render


def _noon(invoice: Invoice) -> Any:

    return datetime.combine(invoice.invoice_date, time(12), tzinfo=UTC)


def run_tests(paths: list[Path], registry: ConnectorRegistry) -> list[ExampleResult]:
    """Run the examples of every file (folders: every *.yaml in them)."""
    results: list[ExampleResult] = []
    render = renderer(registry)
    for path in paths:
        for file in sorted(path.glob("*.yaml")) if path.is_dir() else [path]:
            try:
                results.extend(run_examples(file, render, refs_root()))
            except RulesFileError as exc:
                results.append(
                    ExampleResult(str(file), "(the file does not load)", [str(p) for p in exc.problems])
                )
    return results


def shipped_rule_folders() -> list[Path]:
    return [BASELINES_DIR]


# --- suggestions -------------------------------------------------------------------------------------------------
@dataclass
class SuggestReport:
    profile_id: str
    blocked_before_sending: int
    rejected_by_portal: int
    suggestions: list[Suggestion]

    @property
    def caught_share(self) -> float | None:
        return caught_share(self.blocked_before_sending, self.rejected_by_portal)


def suggest_for(hub: Hub, profile_id: str) -> SuggestReport:
    """Portal rejections and disputes of one profile that pre-flight did not catch, turned into rules."""
    hub.profile(profile_id)  # a clear error for an unknown profile
    rejections: list[Rejection] = []
    accepted: list[Invoice] = []
    blocked = 0
    with hub.store.session() as session:
        rows = session.exec(select(InvoiceRow).where(col(InvoiceRow.profile_id) == profile_id)).all()
        for row in rows:
            invoice = Invoice.model_validate_json(row.document)
            portal_said = session.exec(
                select(EventRow)
                .where(
                    col(EventRow.invoice_id) == row.id,
                    col(EventRow.to_state).in_((S.REJECTED.value, S.DISPUTED.value)),
                )
                .order_by(col(EventRow.id))
            ).all()
            for event in portal_said:
                rejections.append(
                    Rejection(row.invoice_number, event.category, _portal_words(event), invoice, None)
                )
            if row.state == S.BLOCKED.value:
                blocked += 1
            if session.exec(
                select(AttemptRow.id).where(
                    col(AttemptRow.invoice_id) == row.id, col(AttemptRow.outcome).in_(("accepted", "found"))
                )
            ).first():
                accepted.append(invoice)
    return SuggestReport(profile_id, blocked, len(rejections), suggest(profile_id, rejections, accepted))


def _portal_words(event: EventRow) -> str:
    """The portal's own words from a rejection event (the event reason adds the hub's framing)."""
    if event.details:
        update = json.loads(event.details).get("update") or {}
        if update.get("reason"):
            return str(update["reason"])
    reason = event.reason or ""
    for prefix in ("rejected by ", "portal status "):
        if reason.startswith(prefix) and ": " in reason:
            return reason.split(": ", 1)[1]
    return reason
