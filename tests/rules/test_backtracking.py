"""Runaway patterns found by proof: a repetition that splits one text two ways (with the text shown),
the stopwatch kept for what the proof does not read."""

from __future__ import annotations

import re
import time

import pytest

from rules.backtracking import ambiguous_repetitions
from rules.lint import runaway


@pytest.mark.parametrize(
    ("pattern", "witness"),
    [
        (r"^(a+)+$", "aa"),  # nested quantifiers: the one the stopwatch missed
        (r"(a|aa)+$", "aa"),  # overlapping alternatives
        (r"^(a*a*)+$", "aa"),
        (r"(\d+\.?)+x", "11"),  # nested through an optional separator
        (r"^(\w+\s?)+$", "aa"),
        (r"(.*,)+x", ",,"),
        (r"^(\d|\d\d)+$", "11"),
        (r"^(?:[A-Z]+)*$", "AA"),
    ],
)
def test_nested_and_overlapping_repetitions_are_proved(pattern: str, witness: str) -> None:
    [found] = ambiguous_repetitions(pattern)
    assert found.witness == witness and found.ways >= 2
    # the witness really is read two ways: each few more copies multiply a backtracking engine's time
    assert _growth(pattern, witness) > 4
    assert "catastrophic backtracking" in (runaway(pattern) or "")


def _seconds(compiled: re.Pattern[str], text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        compiled.search(text)
        best = min(best, time.perf_counter() - started)
    return best


def _growth(pattern: str, witness: str) -> float:
    """How much longer the standard engine takes when the failing text grows by two copies."""
    compiled = re.compile(pattern)
    copies = 2
    while _seconds(compiled, witness * copies + "!") < 0.0005 and copies < 40:
        copies += 1
    return _seconds(compiled, witness * (copies + 2) + "!") / _seconds(compiled, witness * copies + "!")


@pytest.mark.parametrize(
    "pattern",
    [
        r"^PO-\d{6}$",
        r"^[A-Z0-9]{2,3}$",
        r"(Z|[+-]\d\d:\d\d)$",
        r"^(ab|ac)+$",  # alternatives share a first character but never split one text two ways
        r"^(a+b)+$",
        r"^[\w.+-]+@[\w-]+\.[\w.]+$",
        r"^(?:[a-z]+\.)*[a-z]+$",
        r"^([A-Z]{2}-\d+,?)+$",
        r"^(a|aa){1,3}$",  # bounded: cannot blow up
        r"^(?:a+)++$",  # possessive: gives nothing back
    ],
)
def test_safe_patterns_are_not_reported(pattern: str) -> None:
    assert ambiguous_repetitions(pattern) == ()
    assert runaway(pattern) is None


def test_syntax_only_regex_reads_is_left_to_the_stopwatch() -> None:
    assert ambiguous_repetitions(r"^\p{L}+$") == ()
    assert runaway(r"^\p{L}+$") is None


def test_the_proof_is_quick() -> None:
    started = time.perf_counter()
    for pattern in (r"^([A-Z]{2}-\d+,?)+$", r"^(ab|ac|ad|ae)+$", r"(\w+\s?)+"):
        ambiguous_repetitions.__wrapped__(pattern)
    assert time.perf_counter() - started < 2
