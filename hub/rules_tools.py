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
from rules.engine import compile_rules
from rules.examples import ExampleResult, build_invoice, run_examples
from rules.lint import Warning_, contradiction_problems, lint_file
from rules.loader import (
    BASELINES_DIR,
    Problem,
    RulesFileError,
    contests,
    load_profile,
    load_ruleset,
    read_rules_file,
)
from rules.rule import Rule
from rules.schema import Limits, Match, Profile, RulesFile
from rules.suggest import Rejection, Suggestion, caught_share, suggest

S = InvoiceState


@dataclass
class CheckReport:
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)

    def failed(self, strict: bool = False) -> bool:
        """A problem, or with `strict` a warning too."""
        return bool(self.problems) or (strict and bool(self.warnings))

    def as_json(self, strict: bool = False) -> dict[str, Any]:
        return {
            "ok": not self.failed(strict),
            "files": self.files,
            "problems": [str(p) for p in self.problems],
            "warnings": [str(w) for w in self.warnings],
        }


def check(paths: list[Path], registry: ConnectorRegistry, today: date) -> CheckReport:
    """Load every file (profiles with their connection checked), then lint the ones that load."""
    report = CheckReport()
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    profiles: list[Profile] = []
    said: set[str] = set()  # a baseline's contradiction is reported once, not again for each profile
    for path in files:
        report.files.append(str(path))
        try:
            profile_or_set: Any = load_ruleset(path)
            if isinstance(profile_or_set, RulesFile):
                profile = load_profile(path, registry.check_connection, refs_root())
                profiles.append(profile)
                line = read_rules_file(path).line_of(["connection"])
                report.warnings.extend(
                    Warning_(str(path), line, None, what)
                    for what in registry.get(profile.connector).profile_warnings(profile.connection)
                )
                report.problems.extend(_forbidden_document_conflicts(path, profile, registry))
            report.warnings.extend(lint_file(path, refs_root(), today))
            for problem in contradiction_problems(path, refs_root()):
                if problem.what not in said:
                    said.add(problem.what)
                    report.problems.append(problem)
        except RulesFileError as exc:
            report.problems.extend(exc.problems)
    # The loader's one-customer-per-profile check, in its words: what the daemon would hold, said here first.
    report.problems.extend(contest.problem() for contest in contests(profiles).values())
    return report


def _forbidden_document_conflicts(path: Path, profile: Profile, registry: ConnectorRegistry) -> list[Problem]:
    """Document rules that the file's forbidden fields make impossible: e.g. Coupa's baseline requires an
    order reference *or* a master agreement in the document, and the profile forbids both the PO and the
    contract number. Proved by rendering: a probe invoice passes the document rule with the forbidden
    fields filled, fails it with them all empty, and passes again with any one of them back."""
    forbidding = [
        r
        for r in profile.rules
        if r.forbidden and r.when is None and r.severity == "error" and r.field and r.field.isidentifier()
    ]
    documents = [
        r for r in profile.rules if r.document and r.required and r.when is None and r.severity == "error"
    ]
    # Proved by rendering: a maximal probe invoice passes the document rule, fails it with the forbidden
    # fields emptied, and passes again with any one of them back.
    if not forbidding or not documents:
        return []
    render = renderer(registry)
    try:
        probe = _probe_invoice(path)
        # Every optional text field of the header filled: the document gets every reference it can, so
        # when emptying the forbidden ones still breaks the rule, nothing else could have satisfied it.
        filled = probe.model_copy(
            update={
                name: getattr(probe, name) or "PROBE-1"
                for name, info in Invoice.model_fields.items()
                if info.annotation == (str | None) and name not in ("original_invoice_number", "comments")
            }
        )
        Invoice.model_validate(filled.model_dump())
    except (OSError, ValueError):
        return []  # no invoice to probe with: nothing proved, nothing said

    def failing(invoice: Invoice) -> set[str]:
        tree = render(invoice, profile.connector, profile.connection)
        if tree is None:
            return set()
        rules = compile_rules(documents, profile.reference, profile.origins, profile.schema_files)
        return {v.rule_id for v in rules.evaluate(invoice, invoice.invoice_date, tree)}

    try:
        before = failing(filled)
        empty = filled.model_copy(update={r.field: None for r in forbidding if r.field})
        after = failing(empty) - before
        causes: dict[str, list[Rule]] = {rule_id: [] for rule_id in after}
        for rule in forbidding:
            assert rule.field is not None
            one_back = empty.model_copy(update={rule.field: getattr(filled, rule.field)})
            for rule_id in after - failing(one_back):
                causes[rule_id].append(rule)
    except Exception:  # a connector that cannot render the probe proves nothing
        return []
    problems = []
    for rule_id, culprits in causes.items():
        if not culprits:
            continue
        origin = profile.origins.get(rule_id, "?")
        named = " and ".join(f"{r.id} ({profile.origins.get(r.id, '?')}) forbids {r.field}" for r in culprits)
        file, _, line = profile.origins.get(culprits[-1].id, str(path)).rpartition(":")
        problems.append(
            Problem(
                Path(file) if file else path,
                int(line) if line.isdigit() else None,
                f"[{', '.join([*(r.id for r in culprits), rule_id])}]",
                f"contradiction: {named}, but {rule_id} ({origin}) requires the document to carry one of "
                f"them ({documents[[d.id for d in documents].index(rule_id)].document}): no invoice can pass",
            )
        )
    return problems


def _probe_invoice(path: Path) -> Invoice:
    """The file's first example invoice, else the shipped baseline example: for proofs by rendering."""
    parsed = load_ruleset(path)
    if parsed.examples:
        return build_invoice(parsed.examples[0].invoice, path)
    return build_invoice("examples/po-invoice.json", BASELINES_DIR / "x.yaml")


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


def examples_as_json(results: list[ExampleResult]) -> list[dict[str, Any]]:
    """`rules test --json`: each example, where it is written and what went wrong."""
    return [
        {"file": r.file, "line": r.line, "example": r.name, "passed": r.passed, "problems": r.problems}
        for r in results
    ]


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

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile_id,
            "blocked_before_sending": self.blocked_before_sending,
            "rejected_by_portal": self.rejected_by_portal,
            "caught_share": self.caught_share,
            "suggestions": [
                {
                    "title": s.title,
                    "category": s.category,
                    "evidence": s.evidence,
                    "wordings": s.wordings,
                    "snippet": s.snippet,
                    "reference_file": s.reference_file,
                }
                for s in self.suggestions
            ],
        }


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
