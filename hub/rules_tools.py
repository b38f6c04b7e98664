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
import yaml
from lxml import etree
from pydantic import BaseModel, ValidationError
from sqlmodel import col, select

from connectors.base import ConnectorContext, Envelope
from hub.connection_keys import GLOSSARY
from hub.errors import ConfigError
from hub.model import Invoice, InvoiceState
from hub.preflight import PlaceholderSecrets
from hub.registry import ConnectorRegistry
from hub.runtime import Hub, refs_root
from hub.store.tables import AttemptRow, EventRow, InvoiceRow
from rules.editor_schema import editor_schema
from rules.engine import compile_rules
from rules.examples import ExampleResult, build_invoice, run_examples
from rules.lint import Warning_, contradiction_problems, lint_file
from rules.loader import (
    BASELINES_DIR,
    Problem,
    RulesFileError,
    effective_rules,
    load_profile,
    load_ruleset,
    read_rules_file,
    validate_rules_file,
)
from rules.rule import Rule
from rules.schema import SECRET_KEY, SECRET_REFERENCE, Limits, Match, Profile, RulesFile
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
    said: set[str] = set()  # a baseline's contradiction is reported once, not again for each profile
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
                report.problems.extend(_forbidden_document_conflicts(path, profile, registry))
            report.warnings.extend(lint_file(path, refs_root(), today))
            for problem in contradiction_problems(path, refs_root()):
                if problem.what not in said:
                    said.add(problem.what)
                    report.problems.append(problem)
        except RulesFileError as exc:
            report.problems.extend(exc.problems)
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


# --- the editor schema -------------------------------------------------------------------------------------------
def rules_schema(registry: ConnectorRegistry, baseline: bool = False) -> dict[str, Any]:
    """`portalhub rules schema`: rules/editor_schema.py plus `connection:` typed per connector, from each
    installed connector's own settings model (`Connector.connection_model`), chosen by `connector:`."""
    schema = editor_schema(baseline)
    if baseline:
        return schema
    definitions = schema["$defs"]
    branches = []
    for name in registry.names:
        model = registry.get(name).connection_model
        prefix = f"{name}.connection"
        part = model.model_json_schema(by_alias=True, ref_template=f"#/$defs/{prefix}.{{model}}")
        for inner_name, inner in part.pop("$defs", {}).items():
            definitions[f"{prefix}.{inner_name}"] = inner
        definitions[prefix] = part
        branches.append(
            {
                "if": {"properties": {"connector": {"const": name}}, "required": ["connector"]},
                "then": {"properties": {"connection": {"$ref": f"#/$defs/{prefix}"}}},
            }
        )
    for key, definition in definitions.items():
        if ".connection" in key:
            _describe_connection(definition, key.split(".", 1)[0])
    properties = schema["properties"]
    properties["connector"]["enum"] = registry.names
    schema["allOf"] = branches
    return schema


def _describe_connection(definition: dict[str, Any], connector: str) -> None:
    """Secret-named keys take only references; what the connector's model does not describe, the
    glossary of connection keys does (a key in neither keeps a plain description and its default)."""
    for key, prop in definition.get("properties", {}).items():
        if SECRET_KEY.search(key):
            prop.setdefault("pattern", SECRET_REFERENCE.pattern)
        described, example = GLOSSARY.get(key, (None, None))
        prop.setdefault("description", described or f"`{key}` of the {connector} connection.")
        if "examples" not in prop and (example is not None or "default" in prop):
            prop["examples"] = [example if example is not None else prop["default"]]


# --- a new customer ----------------------------------------------------------------------------------------------
@dataclass
class NewRulesFile:
    path: Path
    text: str
    example: tuple[Path, str] | None = None  # (file, JSON) of the example invoice, when AR had one


def new_rules_file(
    registry: ConnectorRegistry,
    connector: str,
    customer: str,
    folder: Path,
    ar_invoice: Invoice | None = None,
) -> NewRulesFile:
    """A commented rules file for a new customer: extends the family's baseline, the connection keys the
    connector requires with placeholders (secrets as `secret:` references), and one example invoice
    (from AR when given). Written so that `portalhub rules check` passes on it as it is."""
    cls = registry.get(connector)  # a clear error for an unknown connector
    profile_id = _slug(f"{customer}-{connector}")
    baseline = family_baseline(registry, connector)
    connection, optional = _placeholder_connection(cls.connection_model, profile_id, registry, connector)
    buyer = ar_invoice.buyer.name if ar_invoice is not None else "TODO the buyer's name"
    out: list[str] = [
        f"# {buyer} ({customer}) on {connector}. Maintained by AR operations; reviewed like code.",
        "# Written by `portalhub rules new`: replace every placeholder, then run",
        f"#   portalhub rules check {profile_id}.yaml && portalhub rules test {profile_id}.yaml",
        "# Every key is explained by `portalhub rules schema` (point your editor at it) and docs/rules.md.",
        f"id: {profile_id}  # must equal the file name",
        f"buyer: {_flow(buyer)}",
        f"connector: {connector}",
        'version: "1"',
    ]
    if baseline:
        out += [
            f"# What {connector} itself demands of every invoice; override a rule by its id, or switch it off",
            "# with {id: ..., disabled: true}.",
            f"extends: [{baseline}]",
        ]
    out += [
        "match:",
        "  # AR customer ids whose invoices go to this portal (each id to exactly one profile)",
        f"  customer_id: [{_flow(customer)}]",
        "# How to reach the portal. Secrets only by reference: secret:NAME (the secrets file), env:NAME or",
        "# file:/path - never the secret itself.",
        "connection:",
    ]
    for key, value in connection.items():
        out.append(f"  # {_describe_key(cls.connection_model, key)} TODO: replace the placeholder")
        out.append(f"  {key}: {_flow(value)}")
    for key, (text, shown) in optional.items():
        out.append(f"  # {text} (optional)")
        out.append(f"  # {key}: {_flow(shown)}")
    out += [
        "limits: {per_minute: 30}  # submissions a minute at most",
        "# The buyer's own rules, beyond the baseline. For example:",
        "#  - id: " + profile_id + "-po-required",
        "#    field: po_number",
        "#    required: true",
        "#    message: this buyer pays only against a purchase order",
        "#    hint: Enter the customer's PO number on the invoice in AR.",
        "rules: []",
    ]
    example: tuple[Path, str] | None = None
    if ar_invoice is not None:
        example_file = Path("examples") / f"{profile_id}-invoice.json"
        example = (folder / example_file, ar_invoice.model_dump_json(indent=2) + "\n")
        out += [
            "# Whole invoices `portalhub rules test` runs through every rule above and inherited; list in",
            "# `fails:` the rules an example must break (none: it must pass them all).",
            "examples:",
            f"  - name: {_flow(f'{ar_invoice.invoice_number} from AR passes')}",
            f"    invoice: {example_file.as_posix()}",
        ]
    else:
        out += [
            "# Add whole invoices (canonical JSON beside this file) that `portalhub rules test` runs through",
            "# every rule; `fails:` lists the rules one must break:",
            "# examples:",
            "#   - name: a PO invoice passes",
            f"#     invoice: examples/{profile_id}-invoice.json",
        ]
    return NewRulesFile(folder / f"{profile_id}.yaml", "\n".join(out) + "\n", example)


def family_baseline(registry: ConnectorRegistry, connector: str) -> str | None:
    """The shipped baseline of a connector's portal family (by its name, else its document format)."""
    cls = registry.get(connector)
    names = (f"{connector}-baseline", f"{cls.document_format}-baseline")
    return next((name for name in names if (BASELINES_DIR / f"{name}.yaml").exists()), None)


def ar_example(hub: Hub, customer: str, baseline: str | None) -> Invoice | None:
    """An invoice of the customer that the AR system offers now, for a new file's example: the first
    one the baseline's field rules accept (an example that passes), else the first one."""
    rules = []
    if baseline is not None:
        doc = read_rules_file(BASELINES_DIR / f"{baseline}.yaml")
        effective = effective_rules(doc, validate_rules_file(doc), (doc.path,), refs_root())
        rules = list(effective.rules.values())
    compiled_rules = compile_rules(rules, {}, {}, {})
    first = None
    for record in hub.ar_source.pull():
        invoice = record.invoice
        if invoice is None or invoice.customer_id != customer:
            continue
        if not compiled_rules.evaluate(invoice, invoice.invoice_date):
            return invoice
        first = first or invoice
    return first


def _slug(text: str) -> str:
    return "-".join(
        part for part in "".join(c if c.isalnum() else "-" for c in text.lower()).split("-") if part
    )


def _flow(value: Any) -> str:
    """A value on one line of YAML (flow style for mappings and lists)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("...").strip()


def _describe_key(model: type[BaseModel], key: str) -> str:
    info = next((f for name, f in model.model_fields.items() if (f.alias or name) == key), None)
    return (info.description if info is not None else None) or GLOSSARY.get(key, (key, None))[0]


def _placeholder_connection(
    model: type[BaseModel], profile_id: str, registry: ConnectorRegistry, connector: str
) -> tuple[dict[str, Any], dict[str, tuple[str, Any]]]:
    """The keys the model requires with placeholder values (and, when those alone do not validate,
    the optional sections without a default), plus the rest of the optional keys to show commented."""
    secret_name = profile_id.replace("-", "_")

    def placeholder(key: str) -> Any:
        example = GLOSSARY.get(key, (None, "TODO"))[1]
        return _secrets_referenced(key, example, secret_name)

    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    chosen = {key: placeholder(key) for key, info in fields.items() if info.is_required()}
    try:
        registry.check_connection(connector, chosen)
    except (ValidationError, ConfigError):
        extra = {k: placeholder(k) for k, info in fields.items() if k not in chosen and info.default is None}
        extra = {k: v for k, v in extra.items() if v != "TODO"}
        with_extra = {**chosen, **extra}
        try:
            registry.check_connection(connector, with_extra)
            chosen = with_extra
        except (ValidationError, ConfigError):
            pass  # `rules check` says what is still missing
    optional = {
        key: (_describe_key(model, key), placeholder(key) if key in GLOSSARY else info.default)
        for key, info in fields.items()
        if key not in chosen
    }
    return chosen, optional


def _secrets_referenced(key: str, value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return {k: _secrets_referenced(k, v, name) for k, v in value.items()}
    if SECRET_KEY.search(key):
        return f"secret:{name}_{key}"
    return value
