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
from typing import Any, Protocol

import regex

from hub.model import Invoice
from rules import paths
from rules.paths import Bindings
from rules.rule import AllOf, AnyOf, Condition, FieldCondition, NotOf

Predicate = Callable[["Source", Bindings], bool]
#: A rule's pattern may not take longer than this on one value; a runaway pattern becomes a violation.
REGEX_TIMEOUT = 0.05


@lru_cache(maxsize=4096)
def field_path(text: str) -> paths.FieldPath:
    return paths.parse(text, Invoice)


@lru_cache(maxsize=4096)
def compiled_regex(pattern: str) -> Any:
    return regex.compile(pattern)


_SINGLE_CHARACTER = {"LITERAL", "NOT_LITERAL", "ANY", "IN", "CATEGORY"}


def _linear(items: Any) -> bool:
    """True when every repetition applies to one character and there is no back-reference."""
    for op, arg in items:
        name = str(op)
        if name == "GROUPREF" or name.startswith("GROUPREF"):
            return False
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            body = arg[2]
            if len(body) != 1 or str(body[0][0]) not in _SINGLE_CHARACTER:
                return False
        elif name == "SUBPATTERN":
            if not _linear(arg[-1]):
                return False
        elif name == "BRANCH":
            if not all(_linear(branch) for branch in arg[1]):
                return False
        elif name in ("ASSERT", "ASSERT_NOT") and not _linear(arg[1]):
            return False
    return True


@lru_cache(maxsize=4096)
def needs_timeout(pattern: str) -> bool:
    """Whether a pattern could backtrack badly. Those that cannot (every repetition is of a single
    character) run without the timeout, which costs ten times the match itself; the rest keep it."""
    try:
        import re._parser as sre  # the standard library's own regex parser: no third-party guessing

        return not _linear(sre.parse(pattern).data)
    except Exception:  # syntax only `regex` knows, or a parser change: stay on the safe side
        return True


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def as_text(value: Any) -> str:
    if type(value) is str:
        return value
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


def searcher(pattern: str) -> Callable[[str], bool]:
    """A test `text -> matched` bound once: the timeout only where the pattern needs it."""
    compiled = compiled_regex(pattern)
    if needs_timeout(pattern):
        return lambda text: compiled.search(text, timeout=REGEX_TIMEOUT) is not None
    find = compiled.search
    return lambda text: find(text) is not None


def search(pattern: str, text: str) -> bool:
    return searcher(pattern)(text)


class Source(Protocol):
    """Where a condition reads values: the invoice, with the values of each path (cached per invoice)."""

    invoice: Invoice

    def at(self, path: paths.FieldPath, bound: Bindings) -> list[Any]: ...


class InvoiceSource:
    """A Source without caching, for one-off evaluations."""

    def __init__(self, invoice: Invoice):
        self.invoice = invoice

    def at(self, path: paths.FieldPath, bound: Bindings) -> list[Any]:
        return [value for value, _ in path.values(self.invoice, bound)]


def compile_condition(condition: Condition) -> Predicate:
    if isinstance(condition, AllOf):
        parts = [compile_condition(c) for c in condition.all]
        return lambda source, bound: all(p(source, bound) for p in parts)
    if isinstance(condition, AnyOf):
        options = [compile_condition(c) for c in condition.any]
        return lambda source, bound: any(p(source, bound) for p in options)
    if isinstance(condition, NotOf):
        inner = compile_condition(condition.not_)
        return lambda source, bound: not inner(source, bound)
    assert isinstance(condition, FieldCondition)
    return _field_test(condition)


def _field_test(condition: FieldCondition) -> Predicate:
    path = field_path(condition.field)
    if condition.present is not None:
        wanted = condition.present

        def present(source: Source, bound: Bindings) -> bool:
            return any(not is_blank(v) for v in source.at(path, bound)) == wanted

        return present
    test: Callable[[Any], bool]
    if condition.equals is not None:
        expected = condition.equals
        word = as_text(expected)
        test = lambda value: (value == word) if type(value) is str else same(value, expected)  # noqa: E731
    elif condition.in_ is not None:
        options = condition.in_
        words = frozenset(as_text(option) for option in options)
        # Text compares by set membership; money (12.5 == 12.50) and the rest through `same`.
        test = lambda value: (value in words) if type(value) is str else any(same(value, o) for o in options)  # noqa: E731
    else:
        assert condition.pattern is not None
        matches = searcher(condition.pattern)
        test = lambda value: matches(as_text(value))  # noqa: E731

    def check(source: Source, bound: Bindings) -> bool:
        return any(not is_blank(v) and test(v) for v in source.at(path, bound))

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
