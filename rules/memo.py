"""What a profile's compiled field rules remember from one invoice to the next: the values each rule
found nothing wrong with.

Most invoices repeat what earlier ones had: units, part numbers, cost centres, currencies, the
invoice date of the day. A rule whose findings depend on the value alone finds nothing wrong with a
value it passed before, so an invoice whose values all passed costs one set test (in C) instead of
one check per value, and the rule's `when:` need not even be asked (a condition only narrows which
values are checked). Field rules on the same path are asked together (`Group`): one set test for
all of them. A value seen for the first time is checked; what is remembered is bounded (when full, a
rule starts afresh).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from rules.constraints import ValueCheck
from rules.paths import FieldPath
from rules.rule import Rule

#: Distinct values a rule (or a group) remembers as passing.
REMEMBERED = 4096
#: (their one type, the values) of a path on one invoice: see `engine._Run.bare`.
Bare = tuple[type, list[Any]]


def memo_types(rule: Rule) -> frozenset[type]:
    """The types of value for which equal values get equal findings from this rule, so a value that
    passed once passes again (on the same day, for a `within_days` window from today): text, whole
    numbers and calendar dates always, amounts when the rule never reads them as text (1.0 and 1.00
    are equal amounts but different texts). Empty when the findings depend on another field
    (`matches`, `within_days.of`). (`unique` is checked apart: see `distinct`.)"""
    if rule.matches is not None or (rule.within_days and rule.within_days.of):
        return frozenset()
    reads_text = any(c is not None for c in (rule.pattern, rule.one_of, rule.one_of_ref, rule.length))
    return frozenset({str, int, date}) if reads_text else frozenset({str, int, date, Decimal})


def distinct(bare: Bare | None) -> bool:
    """Whether the values are surely all different (so `unique` finds nothing; a `when` only keeps
    some of them). For text and whole numbers equal values are equal texts, which `unique` compares."""
    if bare is None or bare[0] not in (str, int):
        return False
    return len(set(bare[1])) == len(bare[1])


class _Remembered:
    """Values that passed, for one day when the rules count from today. The day and its set are
    swapped as one, so a thread still on yesterday never fills today's set (or the reverse)."""

    __slots__ = ("_by_day", "_kept")

    def __init__(self, by_day: bool):
        self._by_day = by_day
        self._kept: tuple[date | None, set[Any]] = (None, set())

    def on(self, today: date) -> set[Any]:
        kept = self._kept
        if self._by_day and kept[0] != today:
            kept = self._kept = (today, set())
        return kept[1]


class Memo:
    """The values one field rule passed (of `types` only)."""

    __slots__ = ("_check", "_remembered", "by_day", "types")

    def __init__(self, rule: Rule, check: ValueCheck, types: frozenset[type]):
        self.types = types
        self.by_day = rule.within_days is not None
        self._check = check
        self._remembered = _Remembered(self.by_day)

    def passes(self, value: Any, today: date) -> bool:
        """The rule finds nothing wrong with `value` (checked once, then remembered)."""
        passed = self._remembered.on(today)
        if value in passed:
            return True
        if self._check(value, today, None):
            return False
        _remember(passed, value)
        return True

    def all_pass(self, values: list[Any], today: date) -> bool:
        if self._remembered.on(today).issuperset(values):
            return True
        return all(self.passes(value, today) for value in values)


class Group:
    """Field rules on one path that remember what they passed, asked together: the values every one
    of them passed are remembered again here, so an invoice of known values costs one set test."""

    __slots__ = ("_members", "_remembered", "path", "types")

    def __init__(self, path: FieldPath, members: list[Memo]):
        self.path = path
        self.types = frozenset.intersection(*(memo.types for memo in members))
        self._members = members
        self._remembered = _Remembered(any(memo.by_day for memo in members))

    def holds(self, bare: Bare | None, today: date) -> bool:
        """Every rule of the group passes every value (so none of them can find anything)."""
        if bare is None or bare[0] not in self.types:
            return False
        values, passed = bare[1], self._remembered.on(today)
        if passed.issuperset(values):
            return True
        for value in values:
            if value not in passed:
                for memo in self._members:
                    if not memo.passes(value, today):
                        return False
                _remember(passed, value)
        return True


class AnchoredMemo:
    """The (date, other date) pairs a `within_days.of` rule on two invoice-level dates passed: its
    findings depend on the two dates alone."""

    __slots__ = ("_passed",)

    def __init__(self) -> None:
        self._passed: set[tuple[date, date]] = set()

    @staticmethod
    def pair(value: Bare | None, anchor: Bare | None) -> tuple[date, date] | None:
        """The two dates, when each path gives one calendar date (anything else is checked as usual)."""
        if value is None or anchor is None or value[0] is not date or anchor[0] is not date:
            return None
        if len(value[1]) != 1 or len(anchor[1]) != 1:
            return None
        return value[1][0], anchor[1][0]

    def passed(self, pair: tuple[date, date]) -> bool:
        return pair in self._passed

    def remember(self, pair: tuple[date, date]) -> None:
        _remember(self._passed, pair)


def _remember(passed: set[Any], value: Any) -> None:
    # A field whose values never repeat (descriptions, invoice numbers) fills the set with values no
    # invoice will bring again: start afresh then, so the values that do repeat are learnt again.
    if len(passed) >= REMEMBERED:
        passed.clear()
    passed.add(value)
