"""The rules engine: pure functions from (invoice or rendered document, rules, today) to violations.

No clock, no I/O: `today` is passed in, and the document is an already parsed tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from lxml import etree

from hub.model import Invoice, RejectionCategory, Violation
from rules import paths
from rules.schema import Rule


@dataclass(frozen=True, slots=True)
class Finding:
    """One constraint a value broke, before it is worded as a Violation."""

    constraint: str
    default_message: str


@lru_cache(maxsize=4096)
def _field_path(text: str) -> paths.FieldPath:
    return paths.parse(text, Invoice)


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


#: Prefixes document rules may use. cXML has no namespace; PIDX documents are in the PIDX 1.61 one.
XPATH_NAMESPACES = {"pidx": "http://www.pidx.org/schemas/v1.61"}


@lru_cache(maxsize=1024)
def _xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression, namespaces=XPATH_NAMESPACES)


def check_rule_paths(rules: Iterable[Rule]) -> list[tuple[str, str, str]]:
    """(rule id, the rule's key at fault, problem) for every field path or XPath that cannot work;
    used when a file loads."""
    problems: list[tuple[str, str, str]] = []
    for rule in rules:
        if rule.disabled:
            continue
        if rule.field is not None:
            try:
                parsed = _field_path(rule.field)
            except paths.PathError as exc:
                problems.append((rule.id, "field", str(exc)))
                continue
            if rule.within_days is not None and parsed.leaf_type not in (date, datetime):
                problems.append(
                    (rule.id, "within_days", f"within_days needs a date field, {rule.field!r} is not one")
                )
        if rule.document is not None:
            try:
                # One run on an empty document catches what compiles but can never evaluate
                # (unknown functions, namespace prefixes or variables) at load time, not in pre-flight.
                _xpath(rule.document)(etree.Element("cXML"))
            except (etree.XPathSyntaxError, etree.XPathEvalError) as exc:
                problems.append((rule.id, "document", f"XPath {rule.document!r} is not valid: {exc}"))
    return problems


def evaluate(invoice: Invoice, rules: Sequence[Rule], today: date) -> list[Violation]:
    """Violations of the field rules by the canonical invoice."""
    violations: list[Violation] = []
    for rule in rules:
        if rule.disabled or rule.field is None:
            continue
        for concrete, value in paths.resolve(_field_path(rule.field), invoice):
            for finding in _check(rule, value, today):
                violations.append(_violation(rule, concrete, value, finding))
    return violations


def evaluate_document(tree: etree._Element, rules: Sequence[Rule]) -> list[Violation]:
    """Violations of the document rules (XPath) by the rendered document."""
    violations: list[Violation] = []
    for rule in rules:
        if rule.disabled or rule.document is None:
            continue
        values = _document_values(_xpath(rule.document)(tree))
        if not values:
            if rule.required:
                finding = Finding("required", "the rendered document has nothing at {field}")
                violations.append(_violation(rule, rule.document, None, finding))
            continue
        for value in values:
            for finding in _check(rule, value, today=None):
                violations.append(_violation(rule, rule.document, value, finding))
    return violations


def _document_values(result: Any) -> list[str]:
    """XPath results as strings. An element counts by its text; an element with no text but with
    children or attributes is present (a structural element such as OrderReference)."""
    if isinstance(result, list):
        values = []
        for item in result:
            if isinstance(item, etree._Element):
                text = "".join(item.itertext()).strip()
                if not text and (len(item) or item.attrib):
                    text = f"<{item.tag}>"
            else:
                text = str(item).strip()
            values.append(text)
        return values
    if isinstance(result, bool):
        return ["true"] if result else []
    return [str(result)]


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _check(rule: Rule, value: Any, today: date | None) -> list[Finding]:
    if _is_blank(value):
        return [Finding("required", "{field} is required")] if rule.required else []
    findings: list[Finding] = []
    text = value.isoformat() if isinstance(value, date) else str(value)
    if rule.pattern is not None and not _regex(rule.pattern).search(text):
        findings.append(Finding("pattern", "{field} must match " + rule.pattern))
    if rule.one_of is not None and text not in rule.one_of:
        findings.append(Finding("one_of", "{field} must be one of: " + ", ".join(rule.one_of)))
    if rule.length is not None:
        low, high = rule.length.min, rule.length.max
        if (low is not None and len(text) < low) or (high is not None and len(text) > high):
            span = f"{low if low is not None else 0}..{high if high is not None else 'any'}"
            findings.append(Finding("length", f"{{field}} must be {span} characters long"))
    if rule.min is not None or rule.max is not None:
        findings.extend(_check_range(rule, value))
    if rule.within_days is not None and today is not None and isinstance(value, date):
        findings.extend(_check_days(rule, value, today))
    return findings


def _check_range(rule: Rule, value: Any) -> list[Finding]:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return [Finding("min", "{field} must be a number")]
    if rule.min is not None and number < rule.min:
        return [Finding("min", f"{{field}} must be at least {rule.min}")]
    if rule.max is not None and number > rule.max:
        return [Finding("max", f"{{field}} must be at most {rule.max}")]
    return []


def _check_days(rule: Rule, value: date, today: date) -> list[Finding]:
    assert rule.within_days is not None
    day = value.date() if isinstance(value, datetime) else value
    past, future = rule.within_days.past, rule.within_days.future
    if past is not None and day < today - timedelta(days=past):
        return [
            Finding("within_days", f"{{field}} may be at most {past} days in the past (today is {today})")
        ]
    if future is not None and day > today + timedelta(days=future):
        return [
            Finding("within_days", f"{{field}} may be at most {future} days in the future (today is {today})")
        ]
    return []


_CATEGORY_BY_CONSTRAINT = {"within_days": RejectionCategory.DATES}
_CATEGORY_BY_FIELD_WORD = (
    ("po_", RejectionCategory.PO),
    ("contract", RejectionCategory.PO),
    ("OrderReference", RejectionCategory.PO),
    ("tax", RejectionCategory.TAX),
    ("Tax", RejectionCategory.TAX),
    ("attachment", RejectionCategory.ATTACHMENTS),
    ("unit_price", RejectionCategory.PRICE_QUANTITY),
    ("quantity", RejectionCategory.PRICE_QUANTITY),
    ("unit_of_measure", RejectionCategory.PRICE_QUANTITY),
    ("UnitOfMeasure", RejectionCategory.PRICE_QUANTITY),
    ("date", RejectionCategory.DATES),
    ("Date", RejectionCategory.DATES),
)


def _category(rule: Rule, finding: Finding) -> RejectionCategory:
    if rule.category is not None:
        return rule.category
    if finding.constraint in _CATEGORY_BY_CONSTRAINT:
        return _CATEGORY_BY_CONSTRAINT[finding.constraint]
    target = rule.field or rule.document or ""
    for word, category in _CATEGORY_BY_FIELD_WORD:
        if word in target:
            return category
    return RejectionCategory.MISSING_FIELD if finding.constraint == "required" else RejectionCategory.OTHER


_PLACEHOLDER = re.compile(r"\{(field|value)\}")


def _fill(template: str, words: dict[str, str]) -> str:
    # Only {field} and {value} are placeholders; any other brace (e.g. in a regex) stays as written.
    return _PLACEHOLDER.sub(lambda m: words[m.group(1)], template)


def _violation(rule: Rule, field: str, value: Any, finding: Finding) -> Violation:
    shown = value.isoformat() if isinstance(value, date) else value
    shown = str(shown) if isinstance(shown, Decimal) else shown
    words = {"field": field, "value": "" if shown is None else str(shown)}
    template = rule.message or finding.default_message
    return Violation(
        rule_id=rule.id,
        field=field,
        value=shown,
        message=_fill(template, words),
        hint=_fill(rule.hint, words) if rule.hint else None,
        severity=rule.severity,
        category=_category(rule, finding),
    )
