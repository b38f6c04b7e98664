"""A broken rule in the words a collector acts on: the Violation each finding of the engine becomes
(its message with `{field}`, `{value}`, `{expected}` filled in, its rejection category)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import regex

from hub.model import RejectionCategory, Violation
from rules.conditions import as_text
from rules.constraints import Finding
from rules.rule import Rule

_CATEGORY_BY_CONSTRAINT = {
    "within_days": RejectionCategory.DATES,
    "tax_rates": RejectionCategory.TAX,
    "line_amounts": RejectionCategory.PRICE_QUANTITY,
    "po_remaining": RejectionCategory.PO,
    "count": RejectionCategory.ATTACHMENTS,
    "content_type": RejectionCategory.ATTACHMENTS,
    "max_bytes": RejectionCategory.ATTACHMENTS,
    "filename_pattern": RejectionCategory.ATTACHMENTS,
    "document_schema": RejectionCategory.DOCUMENT,
}
_CATEGORY_BY_FIELD_WORD = (
    ("po_", RejectionCategory.PO),
    ("purchase_order", RejectionCategory.PO),
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


_PLACEHOLDER = regex.compile(r"\{(field|value|expected)\}")


def _fill(template: str, words: dict[str, str]) -> str:
    # Only {field}, {value} and {expected} are placeholders; other braces (e.g. in a regex) stay as written.
    return _PLACEHOLDER.sub(lambda m: words[m.group(1)], template)


def violation(rule: Rule, where: str, value: Any, finding: Finding, source: str | None) -> Violation:
    shown = value if value is None or isinstance(value, str | int | float | bool) else as_text(value)
    if isinstance(value, Decimal):
        shown = str(value)
    words = {"field": where, "value": "" if shown is None else str(shown), "expected": finding.expected}
    template = rule.message or finding.default_message
    return Violation(
        rule_id=rule.id,
        field=where,
        value=shown,
        message=_fill(template, words),
        hint=_fill(rule.hint, words) if rule.hint else None,
        severity=rule.severity,
        category=_category(rule, finding),
        expected=finding.expected,
        source=source,
    )


def internal_error(rule: Rule, exc: Exception, source: str | None) -> Violation:
    return Violation(
        rule_id=rule.id,
        field=rule.field or rule.document or rule.check or rule.target or "rule",
        value=None,
        message=f"internal rule error: rule {rule.id!r} could not be evaluated ({type(exc).__name__}: {exc})",
        hint="AR operations: fix this rule in its rules file; the invoice is held until the rule works.",
        severity="error",
        category=RejectionCategory.CONFIG,
        expected="a rule that evaluates",
        source=source,
    )
