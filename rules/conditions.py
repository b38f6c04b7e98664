"""`when:` conditions compiled once into predicates over (invoice, bindings).

A field test is true when *any* value the path reaches passes it; on a rule over `lines[*]`, a test on
`lines[*].x` is bound to the line being checked (see paths.resolve_bound).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import lru_cache
from typing import Any

import regex

from hub.model import Invoice
from rules import paths
from rules.paths import Bindings
from rules.rule import AllOf, AnyOf, Condition, FieldCondition, NotOf

Predicate = Callable[[Invoice, Bindings], bool]
#: A rule's pattern may not take longer than this on one value; a runaway pattern becomes a violation.
REGEX_TIMEOUT = 0.05


@lru_cache(maxsize=4096)
def field_path(text: str) -> paths.FieldPath:
    return paths.parse(text, Invoice)


@lru_cache(maxsize=4096)
def compiled_regex(pattern: str) -> Any:
    return regex.compile(pattern)


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def as_text(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def same(value: Any, expected: Any) -> bool:
    """Equality as a rules-file author means it: 12.50 == "12.5" for money, enums by their value."""
    if isinstance(value, Decimal) and not isinstance(expected, bool):
        try:
            return value == Decimal(str(expected))
        except InvalidOperation:
            return False
    return as_text(value) == as_text(expected)


def search(pattern: str, text: str) -> bool:
    return compiled_regex(pattern).search(text, timeout=REGEX_TIMEOUT) is not None


def compile_condition(condition: Condition) -> Predicate:
    if isinstance(condition, AllOf):
        parts = [compile_condition(c) for c in condition.all]
        return lambda invoice, bound: all(p(invoice, bound) for p in parts)
    if isinstance(condition, AnyOf):
        options = [compile_condition(c) for c in condition.any]
        return lambda invoice, bound: any(p(invoice, bound) for p in options)
    if isinstance(condition, NotOf):
        inner = compile_condition(condition.not_)
        return lambda invoice, bound: not inner(invoice, bound)
    assert isinstance(condition, FieldCondition)
    return _field_test(condition)


def _field_test(condition: FieldCondition) -> Predicate:
    path = field_path(condition.field)
    if condition.present is not None:
        wanted = condition.present

        def present(invoice: Invoice, bound: Bindings) -> bool:
            values = [v for _, v, _ in paths.resolve_bound(path, invoice, bound)]
            return any(not is_blank(v) for v in values) == wanted

        return present
    test: Callable[[Any], bool]
    if condition.equals is not None:
        expected = condition.equals
        test = lambda value: same(value, expected)  # noqa: E731 - a one-line test reads best as a lambda
    elif condition.in_ is not None:
        options = condition.in_
        test = lambda value: any(same(value, option) for option in options)  # noqa: E731
    else:
        assert condition.pattern is not None
        pattern = condition.pattern
        test = lambda value: search(pattern, as_text(value))  # noqa: E731

    def check(invoice: Invoice, bound: Bindings) -> bool:
        return any(not is_blank(v) and test(v) for _, v, _ in paths.resolve_bound(path, invoice, bound))

    return check


def condition_fields(condition: Condition) -> list[str]:
    """Every field path a condition reads (for load-time checks)."""
    if isinstance(condition, AllOf):
        return [f for c in condition.all for f in condition_fields(c)]
    if isinstance(condition, AnyOf):
        return [f for c in condition.any for f in condition_fields(c)]
    if isinstance(condition, NotOf):
        return condition_fields(condition.not_)
    return [condition.field]
