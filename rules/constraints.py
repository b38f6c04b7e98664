"""The constraints of a field or document rule, applied to one value at a time.

Each broken constraint is a `Finding`: which constraint, a default message, and what was expected
in words (shown by `validate`, `show` and `rejections`). Absent values only fail `required`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from rules.conditions import as_text, is_blank, same, search
from rules.rule import Rule


@dataclass(frozen=True, slots=True)
class Finding:
    constraint: str
    default_message: str
    expected: str


#: Resolves another field of the same invoice (and line), for `matches` and `within_days.of`.
Lookup = Callable[[str], Any]


def check_value(
    rule: Rule,
    value: Any,
    *,
    today: date | None,
    reference: Mapping[str, frozenset[str]],
    lookup: Lookup | None = None,
) -> list[Finding]:
    if is_blank(value):
        if rule.required:
            return [Finding("required", "{field} is required", "a value")]
        return []
    if rule.forbidden:
        return [Finding("forbidden", "{field} must not be given", "no value")]
    text = as_text(value)
    findings: list[Finding] = []
    if rule.pattern is not None and not search(rule.pattern, text):
        findings.append(Finding("pattern", "{field} must match " + rule.pattern, f"matching {rule.pattern}"))
    if rule.one_of is not None and text not in rule.one_of:
        listed = ", ".join(rule.one_of)
        findings.append(Finding("one_of", "{field} must be one of: " + listed, f"one of {listed}"))
    if rule.one_of_ref is not None and text not in reference.get(rule.one_of_ref, frozenset()):
        findings.append(
            Finding(
                "one_of_ref",
                f"{{field}} is not in the list {rule.one_of_ref}",
                f"a value of {rule.one_of_ref}",
            )
        )
    if rule.equals is not None and not same(value, rule.equals):
        findings.append(Finding("equals", f"{{field}} must be {rule.equals}", rule.equals))
    if rule.length is not None:
        findings.extend(_length(rule, text))
    if rule.min is not None or rule.max is not None:
        findings.extend(_range(rule, value))
    if rule.within_days is not None:
        findings.extend(_days(rule, value, today, lookup))
    if rule.matches is not None and lookup is not None:
        other = lookup(rule.matches)
        if not is_blank(other) and not same(value, other):
            findings.append(
                Finding(
                    "matches",
                    f"{{field}} must equal {rule.matches} ({as_text(other)})",
                    f"= {rule.matches} ({as_text(other)})",
                )
            )
    return findings


def _length(rule: Rule, text: str) -> list[Finding]:
    assert rule.length is not None
    low, high = rule.length.min, rule.length.max
    if (low is not None and len(text) < low) or (high is not None and len(text) > high):
        span = f"{low if low is not None else 0}..{high if high is not None else 'any'}"
        return [Finding("length", f"{{field}} must be {span} characters long", f"{span} characters")]
    return []


def _range(rule: Rule, value: Any) -> list[Finding]:
    try:
        number = value if isinstance(value, Decimal) else Decimal(as_text(value))
    except InvalidOperation:
        return [Finding("min", "{field} must be a number", "a number")]
    if rule.min is not None and number < rule.min:
        return [Finding("min", f"{{field}} must be at least {rule.min}", f"at least {rule.min}")]
    if rule.max is not None and number > rule.max:
        return [Finding("max", f"{{field}} must be at most {rule.max}", f"at most {rule.max}")]
    return []


def _days(rule: Rule, value: Any, today: date | None, lookup: Lookup | None) -> list[Finding]:
    window = rule.within_days
    assert window is not None
    if not isinstance(value, date):
        return []
    day = value.date() if isinstance(value, datetime) else value
    if window.of is not None:
        anchor_value = lookup(window.of) if lookup else None
        if not isinstance(anchor_value, date):
            return []  # nothing to measure from; `required` on that field says so if it matters
        anchor = anchor_value.date() if isinstance(anchor_value, datetime) else anchor_value
        anchor_name = f"{window.of} ({anchor})"
    elif today is not None:
        anchor, anchor_name = today, f"today ({today})"
    else:
        return []
    if window.past is not None and day < anchor - timedelta(days=window.past):
        earliest = anchor - timedelta(days=window.past)
        return [
            Finding(
                "within_days",
                f"{{field}} may be at most {window.past} days before {anchor_name}",
                f"on or after {earliest}",
            )
        ]
    if window.future is not None and day > anchor + timedelta(days=window.future):
        latest = anchor + timedelta(days=window.future)
        return [
            Finding(
                "within_days",
                f"{{field}} may be at most {window.future} days after {anchor_name}",
                f"on or before {latest}",
            )
        ]
    return []


def duplicates(values: list[tuple[str, Any]]) -> list[tuple[str, Any, Finding]]:
    """For `unique`: every value seen before, at its concrete path."""
    seen: dict[str, str] = {}
    found = []
    for where, value in values:
        if is_blank(value):
            continue
        key = as_text(value)
        if key in seen:
            found.append(
                (
                    where,
                    value,
                    Finding("unique", f"{{field}} repeats {seen[key]}", "a value no other element has"),
                )
            )
        else:
            seen[key] = where
    return found
