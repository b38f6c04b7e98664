"""`portalhub rules check`: what loads but is probably wrong.

Load errors (schema, paths, XPaths, secrets, extends) come from the loader and fail the check. The
warnings here do not, unless `--strict`: conditions that can never be true, rules that repeat or
override inherited ones, patterns that run away on adversarial input, dates in the future.
"""

from __future__ import annotations

import typing
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

import regex

from rules.backtracking import ambiguous_repetitions
from rules.conditions import field_path
from rules.contradictions import contradictions
from rules.loader import Problem, effective_rules, read_rules_file, validate_rules_file
from rules.rule import AllOf, AnyOf, Condition, FieldCondition, NotOf, Rule
from rules.schema import RulesFile

#: A pattern that does not answer on these inputs within this time is catastrophic.
PATTERN_BUDGET_SECONDS = 0.25


@dataclass(frozen=True)
class Warning_:
    file: str
    line: int | None
    rule_id: str | None
    what: str

    def __str__(self) -> str:
        at = f"{self.file}:{self.line}" if self.line else self.file
        who = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{at}:{who} warning: {self.what}"


def lint_file(path: Path, refs_dir: Path | None = None, today: date | None = None) -> list[Warning_]:
    """Warnings for one rules file (it must load; load errors are raised as RulesFileError)."""
    path = Path(path).resolve()
    doc = read_rules_file(path)
    parsed = validate_rules_file(doc)
    effective = effective_rules(doc, parsed, (path,), refs_dir)
    found: list[Warning_] = []
    inherited = _inherited_rules(doc, parsed, refs_dir)
    for position, rule in enumerate(parsed.rules):
        line = doc.line_of(["rules", position])
        if rule.when is not None:
            found.extend(
                Warning_(str(path), doc.line_of(["rules", position, "when"]), rule.id, what)
                for what in unreachable(rule.when)
            )
        for pattern in _patterns(rule):
            problem = runaway(pattern)
            if problem:
                found.append(Warning_(str(path), line, rule.id, problem))
        if today is not None and rule.effective_from is not None and rule.effective_from > today:
            found.append(
                Warning_(
                    str(path),
                    line,
                    rule.id,
                    f"effective_from {rule.effective_from} is in the future: the rule does not apply yet",
                )
            )
        if rule.id in inherited:
            parent, origin = inherited[rule.id]
            if not rule.disabled and parent == rule:
                found.append(
                    Warning_(
                        str(path), line, rule.id, f"identical to the inherited rule at {origin}: remove it"
                    )
                )
            elif not rule.disabled:
                found.append(Warning_(str(path), line, rule.id, f"overrides the inherited rule at {origin}"))
        elif not rule.disabled:
            twin = _same_check(rule, inherited)
            if twin:
                found.append(
                    Warning_(
                        str(path),
                        line,
                        rule.id,
                        f"checks the same as inherited rule {twin} (at {inherited[twin][1]})",
                    )
                )
    if today is not None and parsed.effective_from is not None and parsed.effective_from > today:
        found.append(
            Warning_(
                str(path),
                doc.line_of(["effective_from"]),
                None,
                f"the file is effective from {parsed.effective_from}, in the future",
            )
        )
    used = {r.one_of_ref for r in effective.rules.values() if r.one_of_ref}
    for name in parsed.reference:
        if name not in used:
            found.append(
                Warning_(
                    str(path),
                    doc.line_of(["reference", name]),
                    None,
                    f"reference list {name!r} is not used by any rule",
                )
            )
    if isinstance(parsed, RulesFile) and not parsed.examples:
        found.append(
            Warning_(
                str(path),
                None,
                None,
                "no examples: add `examples:` so `portalhub rules test` proves the rules",
            )
        )
    return found


def contradiction_problems(path: Path, refs_dir: Path | None = None) -> list[Problem]:
    """Errors for rules of the file's effective profile (baselines included) that no invoice can satisfy
    together (see rules/contradictions.py), each placed at the rule this file writes, naming both."""
    path = Path(path).resolve()
    doc = read_rules_file(path)
    parsed = validate_rules_file(doc)
    effective = effective_rules(doc, parsed, (path,), refs_dir)
    problems = []
    for found in contradictions(list(effective.rules.values()), effective.origins, effective.reference):
        mine = [o for o in found.origins if o.rsplit(":", 1)[0] == str(path)]
        at = (mine or list(found.origins))[-1]
        file, _, line = at.rpartition(":")
        problems.append(
            Problem(
                Path(file),
                int(line) if line.isdigit() else None,
                f"[{', '.join(found.rules)}]",
                found.describe(),
            )
        )
    return problems


def _inherited_rules(doc: Any, parsed: Any, refs_dir: Path | None) -> dict[str, tuple[Rule, str]]:
    """Rules the file's `extends` bring in, with where they are written."""
    parent_only = parsed.model_copy(update={"rules": [], "reference": {}})
    effective = effective_rules(doc, parent_only, (doc.path,), refs_dir)
    return {rule_id: (rule, effective.origins.get(rule_id, "?")) for rule_id, rule in effective.rules.items()}


def _signature(rule: Rule) -> dict[str, Any]:
    data = rule.model_dump(
        exclude={"id", "message", "hint", "description", "severity", "category"}, exclude_none=True
    )
    data.pop("disabled", None)
    return data


def _same_check(rule: Rule, inherited: dict[str, tuple[Rule, str]]) -> str | None:
    mine = _signature(rule)
    return next((rule_id for rule_id, (other, _) in inherited.items() if _signature(other) == mine), None)


def _patterns(rule: Rule) -> list[str]:
    found = [rule.pattern] if rule.pattern else []
    if rule.attachments and rule.attachments.filename_pattern:
        found.append(rule.attachments.filename_pattern)
    if rule.when is not None:
        found.extend(_condition_patterns(rule.when))
    return found


def _condition_patterns(condition: Condition) -> list[str]:
    if isinstance(condition, AllOf | AnyOf):
        parts = condition.all if isinstance(condition, AllOf) else condition.any
        return [p for c in parts for p in _condition_patterns(c)]
    if isinstance(condition, NotOf):
        return _condition_patterns(condition.not_)
    return [condition.pattern] if condition.pattern else []


def runaway(pattern: str) -> str | None:
    """Why a pattern is catastrophic, or None: first by proof (a repetition that splits one text in two
    ways, rules/backtracking.py), then, as the last line of defence for what the proof does not cover,
    by stopwatch (it does not answer in time on adversarial input)."""
    proved = ambiguous_repetitions(pattern)
    if proved:
        return proved[0].describe(pattern)
    compiled = regex.compile(pattern)
    literals = {c for c in pattern if c.isalnum() or c in " -_./@"} or {"a"}
    for char in sorted(literals | {"a", "1", " "}):
        for length in (32, 5000):
            subject = char * length + "\x00"
            try:
                compiled.search(subject, timeout=PATTERN_BUDGET_SECONDS)
            except TimeoutError:
                return (
                    f"pattern {pattern!r} takes over {PATTERN_BUDGET_SECONDS}s on {length} x {char!r}: "
                    "catastrophic backtracking; simplify nested repetitions such as (a|aa)+ or (x+)*"
                )
    return None


def unreachable(condition: Condition) -> list[str]:
    """Reasons a `when:` can never be true (an empty list when it can, as far as we can tell)."""
    reasons = []
    for test in _field_tests(condition):
        reasons.extend(_impossible(test))
    if isinstance(condition, AllOf):
        reasons.extend(_contradictions(condition))
    return reasons


def _field_tests(condition: Condition) -> list[FieldCondition]:
    if isinstance(condition, AllOf | AnyOf):
        parts = condition.all if isinstance(condition, AllOf) else condition.any
        return [t for c in parts for t in _field_tests(c)]
    if isinstance(condition, NotOf):
        return []  # the negation of an impossible test is always true: nothing unreachable to report
    return [condition]


def _allowed_values(leaf: Any) -> set[str] | None:
    if isinstance(leaf, type) and issubclass(leaf, Enum):
        return {str(member.value) for member in leaf}
    if leaf is bool:
        return {"true", "false", "True", "False"}
    if typing.get_origin(leaf) is typing.Literal:
        return {str(v) for v in typing.get_args(leaf)}
    return None


def _impossible(test: FieldCondition) -> list[str]:
    allowed = _allowed_values(field_path(test.field).leaf_type)
    if test.in_ is not None and not test.in_:
        return [f"`in: []` on {test.field} never matches"]
    if allowed is None:
        return []
    wanted = [test.equals] if test.equals is not None else (test.in_ or [])
    bad = [str(v) for v in wanted if str(v) not in allowed]
    if bad and len(bad) == len(wanted):
        return [f"{test.field} is never {', '.join(bad)} (it is one of: {', '.join(sorted(allowed))})"]
    return []


def _contradictions(condition: AllOf) -> list[str]:
    equal: dict[str, set[str]] = defaultdict(set)
    present: dict[str, set[bool]] = defaultdict(set)
    for part in condition.all:
        if isinstance(part, FieldCondition):
            if part.equals is not None:
                equal[part.field].add(str(part.equals))
            if part.in_ is not None and len(part.in_) == 1:
                equal[part.field].add(str(part.in_[0]))
            if part.present is not None:
                present[part.field].add(part.present)
    reasons = [
        f"all: needs {field} to equal {' and '.join(sorted(values))} at once"
        for field, values in equal.items()
        if len(values) > 1
    ]
    reasons += [
        f"all: needs {field} present and absent at once" for field, flags in present.items() if len(flags) > 1
    ]
    return reasons
