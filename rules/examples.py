"""`portalhub rules test`: the `examples:` a rules file carries, run against its effective rules.

An example is a whole invoice (a canonical JSON file, optionally with fields overridden by path). It
runs through the *whole* effective profile, baselines included: every rule it breaks must be listed
in `fails`, and every rule in `passes` must hold. A rule the example does not expect to break fails
the test, naming where that rule is written and the other rules on the same field, so a file whose
rules contradict an inherited one cannot be green. Document rules need the rendered document: the
caller passes a `render` function (the hub renders with the profile's connector and placeholder secrets).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

from hub.model import Invoice, Violation
from rules.engine import compile_rules
from rules.loader import RulesFileError, effective_rules, read_rules_file, validate_rules_file
from rules.rule import Rule
from rules.schema import Example, ExampleInvoice, RulesFile

#: (invoice, connector name, the file's `connection:` or None) -> rendered tree, or None if not renderable
Render = Callable[[Invoice, str, dict[str, Any] | None], etree._Element | None]
_STEP = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_-]*)(?:\[(?P<index>\d+)\])?$")


@dataclass
class ExampleResult:
    file: str
    name: str
    problems: list[str] = field(default_factory=list)
    line: int | None = None  # where the example is written

    @property
    def passed(self) -> bool:
        return not self.problems


def run_examples(
    path: Path, render: Render | None = None, refs_dir: Path | None = None
) -> list[ExampleResult]:
    """Run every example of one rules file; a file without examples gives an empty list."""
    path = Path(path).resolve()
    doc = read_rules_file(path)
    parsed = validate_rules_file(doc)
    effective = effective_rules(doc, parsed, (path,), refs_dir)
    compiled = compile_rules(
        list(effective.rules.values()), effective.reference, effective.origins, effective.schema_files
    )
    connection = parsed.connection if isinstance(parsed, RulesFile) else None
    results = []
    for position, example in enumerate(parsed.examples):
        result = ExampleResult(str(path), example.name, line=doc.line_of(["examples", position]))
        try:
            invoice = build_invoice(example.invoice, path)
        except (OSError, ValueError, ValidationError) as exc:
            result.problems.append(f"the example's invoice cannot be built: {exc}")
            results.append(result)
            continue
        today = example.today or invoice.invoice_date
        violations = compiled.evaluate(invoice, today)
        connector = example.connector or (parsed.connector if isinstance(parsed, RulesFile) else None)
        tree = render(invoice, connector, connection) if render is not None and connector else None
        if tree is not None:
            violations += compiled.evaluate(invoice, today, tree)
        _judge(example, violations, effective.rules, effective.origins, tree is not None, result)
        results.append(result)
    return results


def _judge(
    example: Example,
    violations: list[Violation],
    known: dict[str, Rule],
    origins: dict[str, str],
    rendered: bool,
    result: ExampleResult,
) -> None:
    broken = {v.rule_id for v in violations}
    for rule_id in example.passes + example.fails:
        if rule_id not in known:
            result.problems.append(f"names rule {rule_id!r}, which the file (with its extends) does not have")
    for rule_id in example.passes:
        if rule_id in broken:
            result.problems.append(f"should pass {rule_id} ({origins.get(rule_id, '?')}) but breaks it")
    reported: set[str] = set()
    for violation in violations:
        rule_id = violation.rule_id
        if rule_id in example.fails or rule_id in example.passes or rule_id in reported:
            continue
        reported.add(rule_id)
        rule = known.get(rule_id)
        others = [
            f"{other.id} ({origins.get(other.id, '?')})"
            for other in known.values()
            if rule is not None
            and rule.field is not None
            and other.id != rule_id
            and other.field == rule.field
        ]
        beside = (
            f"; other rules on {rule.field}: {', '.join(others)}" if rule and rule.field and others else ""
        )
        result.problems.append(
            f"breaks {rule_id} ({origins.get(rule_id, violation.source or '?')}), which the example does "
            f"not expect: {violation.field}: {violation.message} (found {violation.value!r}){beside}"
        )
    for rule_id in example.fails:
        if rule_id in known and rule_id not in broken:
            rule = known[rule_id]
            on_document = rule.document is not None or rule.document_schema is not None
            why = (
                " (a document rule: give the example a `connector:` to render it)"
                if on_document and not rendered
                else ""
            )
            result.problems.append(f"should fail {rule_id} but passes it{why}")


def build_invoice(spec: str | ExampleInvoice, near: Path) -> Invoice:
    """The example's invoice: a JSON file, optionally with `set:` overrides by path."""
    source = spec if isinstance(spec, str) else spec.from_
    data = json.loads((near.parent / source).read_text(encoding="utf-8"))
    if isinstance(spec, ExampleInvoice):
        for where, value in spec.set.items():
            _set(data, where, value)
    return Invoice.model_validate(data)


def _set(data: Any, where: str, value: Any) -> None:
    """Set `a.b[2].c` in nested dicts and lists (a missing record on the way is created)."""
    steps = where.split(".")
    node = data
    for position, raw in enumerate(steps):
        match = _STEP.match(raw)
        if not match:
            raise ValueError(f"{where!r}: {raw!r} is not a field name")
        name, index = match["name"], match["index"]
        last = position == len(steps) - 1
        if index is None:
            if last:
                node[name] = value
            else:
                if node.get(name) is None:
                    node[name] = {}
                node = node[name]
        else:
            items = node.get(name)
            if not isinstance(items, list) or int(index) >= len(items):
                raise ValueError(f"{where!r}: {name} has no element {index}")
            if last:
                items[int(index)] = value
            else:
                node = items[int(index)]


def files_with_examples(folder: Path) -> list[Path]:
    found = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            if validate_rules_file(read_rules_file(path)).examples:
                found.append(path)
        except RulesFileError:
            found.append(path)  # reported when its examples are run
    return found
