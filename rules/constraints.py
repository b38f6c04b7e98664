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

from rules.conditions import as_text, is_blank, same, searcher
from rules.rule import Rule


@dataclass(frozen=True, slots=True)
class Finding:
    constraint: str
    default_message: str
    expected: str


#: Resolves another field of the same invoice (and line), for `matches` and `within_days.of`.
Lookup = Callable[[str], Any]


ValueCheck = Callable[[Any, "date | None", "Lookup | None"], list[Finding]]
_NO_FINDINGS: list[Finding] = []
#: Distinct texts a compiled rule remembers its findings for.
_REMEMBERED = 4096


def compile_checks(rule: Rule, reference: Mapping[str, frozenset[str]]) -> ValueCheck:
    """The rule's constraints as one function of (value, today, lookup): only the constraints the rule
    has are tested, in a fixed order, so a rule costs what it checks."""
    tests: list[Callable[[Any, str, date | None, Lookup | None], Finding | None]] = []
    if rule.pattern is not None:
        pattern = rule.pattern
        matches = searcher(pattern)
        found = Finding("pattern", "{field} must match " + pattern, f"matching {pattern}")
        tests.append(lambda value, text, today, lookup: None if matches(text) else found)
    if rule.one_of is not None:
        allowed = frozenset(rule.one_of)
        listed = ", ".join(rule.one_of)
        found_one_of = Finding("one_of", "{field} must be one of: " + listed, f"one of {listed}")
        tests.append(lambda value, text, today, lookup: None if text in allowed else found_one_of)
    if rule.one_of_ref is not None:
        known = reference.get(rule.one_of_ref, frozenset())
        found_ref = Finding(
            "one_of_ref", f"{{field}} is not in the list {rule.one_of_ref}", f"a value of {rule.one_of_ref}"
        )
        tests.append(lambda value, text, today, lookup: None if text in known else found_ref)
    if rule.equals is not None:
        expected = rule.equals
        found_equals = Finding("equals", f"{{field}} must be {expected}", expected)
        tests.append(lambda value, text, today, lookup: None if same(value, expected) else found_equals)
    if rule.length is not None:
        tests.append(lambda value, text, today, lookup: _length(rule, text))
    if rule.min is not None or rule.max is not None:
        tests.append(lambda value, text, today, lookup: _range(rule, value))
    if rule.within_days is not None:
        tests.append(lambda value, text, today, lookup: _days(rule, value, today, lookup))
    if rule.matches is not None:
        tests.append(lambda value, text, today, lookup: _matches(rule, value, lookup))
    single = tests[0] if len(tests) == 1 else None
    required = Finding("required", "{field} is required", "a value") if rule.required else None
    forbidden = Finding("forbidden", "{field} must not be given", "no value") if rule.forbidden else None

    # Constraints that depend on the value alone (not on today or another field) give the same findings
    # for the same text: a profile's compiled rules remember them (part numbers, units and currencies
    # repeat from line to line and invoice to invoice), bounded so an odd stream cannot grow it.
    pure = rule.within_days is None and rule.matches is None
    # Only these read the value as text: a min/max rule on an amount need not write it out first.
    wants_text = any(c is not None for c in (rule.pattern, rule.one_of, rule.one_of_ref, rule.length))
    seen: dict[str, list[Finding]] = {}

    def check(value: Any, today: date | None, lookup: Lookup | None) -> list[Finding]:
        kind = type(value)
        if kind is str:
            if not value:
                return [required] if required is not None else _NO_FINDINGS
            if pure and (known := seen.get(value)) is not None:
                return known
        elif value is None or ((kind is list or kind is dict) and not value):
            return [required] if required is not None else _NO_FINDINGS
        if forbidden is not None:
            return [forbidden]
        if not tests:
            return _NO_FINDINGS
        text = value if kind is str else as_text(value) if wants_text else ""
        if single is not None:  # most rules have one constraint: no list to build when it holds
            finding = single(value, text, today, lookup)
            findings = _NO_FINDINGS if finding is None else [finding]
        else:
            findings = [f for test in tests if (f := test(value, text, today, lookup)) is not None]
            findings = findings or _NO_FINDINGS
        if pure and kind is str and len(seen) < _REMEMBERED:
            seen[value] = findings
        return findings

    return check


def check_value(
    rule: Rule,
    value: Any,
    *,
    today: date | None,
    reference: Mapping[str, frozenset[str]],
    lookup: Lookup | None = None,
) -> list[Finding]:
    """One value against a rule's constraints (compiles the rule each time: for one-off checks)."""
    return compile_checks(rule, reference)(value, today, lookup)


def _matches(rule: Rule, value: Any, lookup: Lookup | None) -> Finding | None:
    if lookup is None or rule.matches is None:
        return None
    other = lookup(rule.matches)
    if is_blank(other) or same(value, other):
        return None
    shown = as_text(other)
    return Finding("matches", f"{{field}} must equal {rule.matches} ({shown})", f"= {rule.matches} ({shown})")


def _length(rule: Rule, text: str) -> Finding | None:
    assert rule.length is not None
    low, high = rule.length.min, rule.length.max
    if (low is not None and len(text) < low) or (high is not None and len(text) > high):
        span = f"{low if low is not None else 0}..{high if high is not None else 'any'}"
        return Finding("length", f"{{field}} must be {span} characters long", f"{span} characters")
    return None


def _range(rule: Rule, value: Any) -> Finding | None:
    try:
        number = value if isinstance(value, Decimal) else Decimal(as_text(value))
    except InvalidOperation:
        return Finding("min", "{field} must be a number", "a number")
    if rule.min is not None and number < rule.min:
        return Finding("min", f"{{field}} must be at least {rule.min}", f"at least {rule.min}")
    if rule.max is not None and number > rule.max:
        return Finding("max", f"{{field}} must be at most {rule.max}", f"at most {rule.max}")
    return None


def _days(rule: Rule, value: Any, today: date | None, lookup: Lookup | None) -> Finding | None:
    window = rule.within_days
    assert window is not None
    if not isinstance(value, date):
        return None
    day = value.date() if isinstance(value, datetime) else value
    if window.of is not None:
        anchor_value = lookup(window.of) if lookup else None
        if not isinstance(anchor_value, date):
            return None  # nothing to measure from; `required` on that field says so if it matters
        anchor = anchor_value.date() if isinstance(anchor_value, datetime) else anchor_value
        anchor_name = f"{window.of} ({anchor})"
    elif today is not None:
        anchor, anchor_name = today, f"today ({today})"
    else:
        return None
    if window.past is not None and day < anchor - timedelta(days=window.past):
        earliest = anchor - timedelta(days=window.past)
        return Finding(
            "within_days",
            f"{{field}} may be at most {window.past} days before {anchor_name}",
            f"on or after {earliest}",
        )
    if window.future is not None and day > anchor + timedelta(days=window.future):
        latest = anchor + timedelta(days=window.future)
        return Finding(
            "within_days",
            f"{{field}} may be at most {window.future} days after {anchor_name}",
            f"on or before {latest}",
        )
    return None


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
