"""Finding patterns that backtrack exponentially, by proof rather than by stopwatch.

A backtracking engine (Python's `re` and `regex` both are) takes exponential time on a failing input
when a repetition `(B)+` can split some text into iterations of B in two different ways: `(a+)+`
reads "aa" as a·a or as aa, `(a|aa)+` likewise, `(\\w+\\s?)+` reads "ab" as a·b or ab. Each extra
character doubles the splits the engine tries before it gives up.

For every unbounded repetition whose body is more than one character, this module rebuilds the body
as a pattern of its own (from the standard library's parse tree), takes a few characters the body can
use, and counts the ways each short text over them splits into iterations (a body that is a set of
alternatives counts each alternative that matches). Two ways for one text is the proof, and the text
is the witness shown to the author. Short texts suffice for the nested and overlapping repetitions
rules files have; what this misses, the per-pattern timeout still stops (lint's stopwatch and the
engine's REGEX_TIMEOUT). Syntax only the `regex` module knows (`\\p{L}`) is left to those.

Existing analysers were evaluated first: regexploit 1.0.0 (last release 2021) finds `(a+)+` but not
`(a|aa)+`; redos 0.1.0 finds neither `(a|aa)+` nor `(\\d+\\.?)+`; redos-linter needs a JavaScript
runtime (deno). None earned a dependency.
"""

from __future__ import annotations

import itertools
import re
import re._parser as _sre  # the standard library's own regex parser (the project needs Python >= 3.11)
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_MAXREPEAT = _sre.MAXREPEAT
#: A repetition bounded this low cannot blow up exponentially.
_SMALL_BOUND = 16
_ALPHABET = 4  # characters tried per repetition
_LENGTH = 6  # longest text tried
_TEXTS = 1500  # texts of one length tried at most (four characters: up to length 5)

_CATEGORY = {
    "CATEGORY_DIGIT": (r"\d", "1"),
    "CATEGORY_NOT_DIGIT": (r"\D", "x"),
    "CATEGORY_SPACE": (r"\s", " "),
    "CATEGORY_NOT_SPACE": (r"\S", "x"),
    "CATEGORY_WORD": (r"\w", "a"),
    "CATEGORY_NOT_WORD": (r"\W", "-"),
}
_SHORTHANDS = {shorthand for shorthand, _ in _CATEGORY.values()}
_AT = {
    "AT_BEGINNING": "^",
    "AT_BEGINNING_STRING": r"\A",
    "AT_END": "$",
    "AT_END_STRING": r"\Z",
    "AT_BOUNDARY": r"\b",
    "AT_NON_BOUNDARY": r"\B",
}


class _Unsupported(Exception):
    pass


@dataclass(frozen=True)
class Ambiguity:
    repetition: str  # the repetition, rebuilt as a pattern
    witness: str  # a text it splits in two or more ways
    ways: int

    def describe(self, pattern: str) -> str:
        attack = self.witness * 8 + "!"
        return (
            f"pattern {pattern!r}: catastrophic backtracking: the repetition {self.repetition} splits {self.witness!r} in {self.ways} "
            f"ways, so a failing match backtracks exponentially (e.g. on {attack!r}); make the nested "
            "repetitions or the alternatives exclusive, e.g. (a+)+ -> a+, (a|aa)+ -> a+"
        )


def _char(code: int) -> str:
    return re.escape(chr(code))


def _unparse(items: Any) -> str:
    return "".join(_node(op, arg) for op, arg in items)


def _node(op: Any, arg: Any) -> str:
    name = str(op)
    if name == "LITERAL":
        return _char(arg)
    if name == "NOT_LITERAL":
        return f"[^{_char(arg)}]"
    if name == "ANY":
        return "."
    if name == "IN":
        parts: list[str] = []
        for kind, value in arg:
            kind_name = str(kind)
            if kind_name == "NEGATE":
                parts.insert(0, "^")
            elif kind_name == "LITERAL":
                parts.append(_char(value))
            elif kind_name == "RANGE":
                parts.append(f"{_char(value[0])}-{_char(value[1])}")
            elif kind_name == "CATEGORY" and str(value) in _CATEGORY:
                parts.append(_CATEGORY[str(value)][0])
            else:
                raise _Unsupported(kind_name)
        if len(parts) == 1 and (len(parts[0]) == 1 or parts[0] in _SHORTHANDS):
            return parts[0]
        return f"[{''.join(parts)}]"
    if name == "BRANCH":
        return "(?:" + "|".join(_unparse(branch) for branch in arg[1]) + ")"
    if name == "SUBPATTERN":
        return f"({_unparse(arg[-1])})"
    if name == "ATOMIC_GROUP":
        return f"(?>{_unparse(arg)})"
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, body = arg
        bound = {(0, _MAXREPEAT): "*", (1, _MAXREPEAT): "+", (0, 1): "?"}.get((low, high))
        if bound is None:
            bound = f"{{{low}}}" if low == high else f"{{{low},{'' if high == _MAXREPEAT else high}}}"
        suffix = {"MIN_REPEAT": "?", "POSSESSIVE_REPEAT": "+"}.get(name, "")
        inner = _unparse(body)
        one = len(body) == 1 and str(body[0][0]) in ("LITERAL", "NOT_LITERAL", "ANY", "IN", "SUBPATTERN")
        return f"{inner if one else f'(?:{inner})'}{bound}{suffix}"
    if name == "AT" and str(arg) in _AT:
        return _AT[str(arg)]
    if name in ("ASSERT", "ASSERT_NOT"):
        direction, body = arg
        return f"(?{'<' if direction < 0 else ''}{'=' if name == 'ASSERT' else '!'}{_unparse(body)})"
    raise _Unsupported(name)  # back-references, conditionals: the timeout handles those


def _characters(items: Any, found: list[str]) -> None:
    """Characters the items can use, in order of appearance (representatives for classes)."""
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            found.append(chr(arg))
        elif name == "NOT_LITERAL":
            found.append("b" if chr(arg) == "a" else "a")
        elif name == "ANY":
            found.append("a")
        elif name == "IN":
            for kind, value in arg:
                if str(kind) == "LITERAL":
                    found.append(chr(value))
                elif str(kind) == "RANGE":
                    found.append(chr(value[0]))
                elif str(kind) == "CATEGORY" and str(value) in _CATEGORY:
                    found.append(_CATEGORY[str(value)][1])
        elif name == "BRANCH":
            for branch in arg[1]:
                _characters(branch, found)
        elif name == "SUBPATTERN":
            _characters(arg[-1], found)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _characters(arg[2], found)
        elif name == "ATOMIC_GROUP":
            _characters(arg, found)


def _alternatives(body: Any) -> list[Any]:
    """The body's top-level alternatives (one when it is not a choice)."""
    items = list(body)
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    if len(items) == 1 and str(items[0][0]) == "BRANCH":
        return list(items[0][1][1])
    return [items]


def _single_character(body: Any) -> bool:
    items = list(body)
    return len(items) == 1 and str(items[0][0]) in ("LITERAL", "NOT_LITERAL", "ANY", "IN")


def _ambiguity(body: Any, shown: str) -> Ambiguity | None:
    alternatives = [re.compile(_unparse(alternative)) for alternative in _alternatives(body)]
    found: list[str] = []
    _characters(body, found)
    alphabet = list(dict.fromkeys(found))[:_ALPHABET] or ["a"]
    pieces: dict[str, int] = {}

    def ways_for(piece: str) -> int:
        if piece not in pieces:
            pieces[piece] = sum(1 for alternative in alternatives if alternative.fullmatch(piece))
        return pieces[piece]

    longest = max(n for n in range(1, _LENGTH + 1) if len(alphabet) ** n <= _TEXTS)
    for length in range(1, longest + 1):
        for letters in itertools.product(alphabet, repeat=length):
            text = "".join(letters)
            ways = [1] + [0] * length
            for end in range(1, length + 1):
                ways[end] = sum(
                    ways[start] * ways_for(text[start:end]) for start in range(end) if ways[start]
                )
            if ways[length] >= 2:
                return Ambiguity(shown, text, ways[length])
    return None


def _walk(items: Any, found: list[Ambiguity]) -> None:
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            high, body = arg[1], arg[2]
            if (high == _MAXREPEAT or high > _SMALL_BOUND) and not _single_character(body):
                ambiguity = _ambiguity(body, _node(op, arg))
                if ambiguity is not None:
                    found.append(ambiguity)
                    continue  # the outer repetition is the one to fix; its insides add nothing
            _walk(body, found)
        elif name == "POSSESSIVE_REPEAT":
            _walk(arg[2], found)  # gives nothing back: only its insides can backtrack
        elif name == "BRANCH":
            for branch in arg[1]:
                _walk(branch, found)
        elif name == "SUBPATTERN":
            _walk(arg[-1], found)
        elif name in ("ASSERT", "ASSERT_NOT"):
            _walk(arg[1], found)
        elif name == "ATOMIC_GROUP":
            _walk(arg, found)


@lru_cache(maxsize=1024)
def ambiguous_repetitions(pattern: str) -> tuple[Ambiguity, ...]:
    """The repetitions of a pattern that can split one text in several ways (empty: none found, or
    syntax the standard parser does not read: the timeout stays the defence there)."""
    try:
        parsed = _sre.parse(pattern)
        found: list[Ambiguity] = []
        _walk(parsed.data, found)
    except (_Unsupported, re.error, RecursionError, OverflowError):
        return ()
    return tuple(found)
