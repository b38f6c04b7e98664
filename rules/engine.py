"""The rules engine: pure functions from (invoice, rendered document, rules, today) to violations.

Rules are compiled once per profile (paths parsed, patterns and XPaths compiled, conditions turned
into predicates) and cached by the profile's fingerprint, so an invoice costs only the checks.
A rule that raises while evaluating blocks the invoice with an internal-rule error naming the rule:
it never lets the invoice through unchecked, and never stops the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from hub.model import Invoice, Violation
from mappings.xml_schema import schema_errors
from rules import paths
from rules.checks import run_attachments, run_check
from rules.conditions import Predicate, compile_condition, condition_fields, field_path
from rules.constraints import Finding, compile_checks, duplicates
from rules.documents import values, xpath, xpath_problem
from rules.memo import AnchoredMemo, Group, Memo, distinct, memo_types
from rules.rule import Rule
from rules.schema import Profile
from rules.violations import internal_error, violation

Evaluator = Callable[["_Run"], list[Violation]]
#: One rule of a plan: the rule, the day it applies from, and its evaluator.
_Step = tuple[Rule, date | None, Evaluator]
#: Field rules on one path asked together, and the places of those rules in the invoice plan.
_Grouped = tuple[Group, list[int]]
_Made = tuple[
    int, tuple[list[_Step], list[_Step]], list[_Grouped], tuple[list[tuple[Predicate, list[int]]], ...]
]


_UNKNOWN = object()
#: Types whose equal values are the same value for every rule (no 1.0 / 1.00, no time zones).
_BARE_TYPES = frozenset({str, int, date})


class _Run:
    """One evaluation: the invoice, today, the document, and the values of each path resolved so far
    (rules share paths: `lines[*].unit_of_measure` is resolved once per invoice, not once per rule)."""

    __slots__ = ("_bare", "_held", "_index", "_values", "invoice", "today", "tree")

    def __init__(self, invoice: Invoice, today: date, tree: etree._Element | None):
        self.invoice = invoice
        self.today = today
        self.tree = tree
        self._values: dict[str, list[tuple[Any, tuple[int, ...]]]] = {}
        self._index: dict[str, dict[tuple[int, ...], list[Any]]] = {}
        self._bare: dict[str, tuple[type, list[Any]] | None] = {}
        self._held: dict[int, bool] = {}

    def holds(self, when: Predicate) -> bool:
        """A condition on the invoice (not on a line): rules that share it (`compile_rules` gives
        them one predicate) ask it once per invoice."""
        held = self._held.get(id(when))  # the compiled rules keep the predicate alive: ids are stable
        if held is None:
            held = self._held[id(when)] = when(self, {})
        return held

    def bare(self, path: paths.FieldPath) -> tuple[type, list[Any]] | None:
        """(their one type, the values) of the path when they all have the same type, text, whole
        number, calendar date or finite amount; None otherwise (no value, mixed types, a NaN)."""
        text = path.text
        bare = self._bare.get(text, _UNKNOWN)
        if bare is not _UNKNOWN:
            return bare  # type: ignore[return-value]
        cached = self._values.get(text)
        found = [value for value, _ in cached] if cached is not None else path.bare_values(self.invoice)
        bare = None
        kinds = set(map(type, found))
        if len(kinds) == 1:
            kind = kinds.pop()
            if kind in _BARE_TYPES or (kind is Decimal and all(value.is_finite() for value in found)):
                bare = (kind, found)
        self._bare[text] = bare
        return bare

    def values(self, path: paths.FieldPath) -> list[tuple[Any, tuple[int, ...]]]:
        found = self._values.get(path.text)
        if found is None:
            found = self._values[path.text] = path.values(self.invoice)
        return found

    def at(self, path: paths.FieldPath, bound: paths.Bindings) -> list[Any]:
        """The path's values where its `[*]` stand as `bound` says (a `when:` on the rule's own line)."""
        keys = path.wildcard_keys
        if keys and all(key in bound for key in keys):
            index = self._index.get(path.text)
            if index is None:
                index = self._index[path.text] = {}
                for value, indices in self.values(path):
                    index.setdefault(indices, []).append(value)
            return index.get(tuple(bound[key] for key in keys), [None])
        if not keys:
            return [value for value, _ in self.values(path)]
        return [value for value, _ in path.values(self.invoice, bound)]


def check_rule_paths(rules: Iterable[Rule]) -> list[tuple[str, str, str]]:
    """(rule id, the rule's key at fault, problem) for every field path or XPath that cannot work;
    used when a file loads."""
    problems: list[tuple[str, str, str]] = []
    for rule in rules:
        if rule.disabled:
            continue
        named: list[tuple[str, str]] = []
        if rule.field is not None:
            named.append(("field", rule.field))
        if rule.matches is not None:
            named.append(("matches", rule.matches))
        if rule.within_days is not None and rule.within_days.of is not None:
            named.append(("within_days", rule.within_days.of))
        if rule.when is not None:
            named.extend(("when", f) for f in condition_fields(rule.when))
        for key, text in named:
            try:
                parsed = field_path(text)
            except paths.PathError as exc:
                problems.append((rule.id, key, str(exc)))
                continue
            if (
                key in ("field", "within_days")
                and rule.within_days is not None
                and parsed.leaf_type not in (date, datetime)
            ):
                problems.append(
                    (rule.id, "within_days", f"within_days needs a date field, {text!r} is not one")
                )
        if rule.document is not None and (problem := xpath_problem(rule.document)):
            problems.append((rule.id, "document", problem))
    return problems


# --- compiling -----------------------------------------------------------------------------------------------
@dataclass
class CompiledRules:
    """A profile's rules, ready to run on many invoices: the plan of what runs on the invoice and what
    on the rendered document is made once, here, not on every invoice."""

    evaluators: list[tuple[Rule, bool, Evaluator]] = field(
        default_factory=list
    )  # (rule, needs document, run)
    origins: dict[str, str] = field(default_factory=dict)  # rule id -> file:line
    #: Field rules that remember what they passed (rules/memo.py), by their place in `evaluators`.
    memos: dict[int, Memo] = field(default_factory=dict)
    #: A `when:` on the invoice as a whole (no `[*]` in it), by the rule's place in `evaluators`: while
    #: it does not hold, the rule finds nothing, whatever kind of rule it is.
    conditions: dict[int, Predicate] = field(default_factory=dict)
    #: Made once from `evaluators` (again if more are added): how many it was made from, the invoice
    #: plan and the document plan, the field rules on one path asked together (`Group`, with the
    #: places of its rules in the invoice plan), and each plan's invoice-level conditions with the
    #: places of their rules. One tuple, so a thread never mixes two makings.
    _made: _Made = field(default=(-1, ([], []), [], ([], [])), repr=False)

    def plan(self, document: bool) -> list[_Step]:
        """(rule, effective from, run) of the invoice rules, or of the document rules, in file order."""
        return self._making()[1][document]

    def _making(self) -> _Made:
        made = self._made
        if made[0] == len(self.evaluators):
            return made
        evaluators = list(self.evaluators)
        places = [
            [i for i, (_, needs, _) in enumerate(evaluators) if needs is wanted] for wanted in (False, True)
        ]
        plans = tuple(
            [(evaluators[i][0], evaluators[i][0].effective_from, evaluators[i][2]) for i in p] for p in places
        )
        conditioned: list[list[tuple[Predicate, list[int]]]] = []
        for indices in places:
            by_condition: dict[int, tuple[Predicate, list[int]]] = {}
            for step, index in enumerate(indices):
                if index in self.conditions:
                    when = self.conditions[index]
                    by_condition.setdefault(id(when), (when, []))[1].append(step)
            conditioned.append(list(by_condition.values()))
        by_path: dict[str, list[tuple[int, Memo]]] = {}
        for step, index in enumerate(places[False]):
            if index in self.memos:
                by_path.setdefault(evaluators[index][0].field or "", []).append((step, self.memos[index]))
        groups = [
            (Group(field_path(text), [memo for _, memo in members]), [step for step, _ in members])
            for text, members in by_path.items()
            if len(members) > 1
        ]
        made = self._made = (len(evaluators), plans, groups, tuple(conditioned))  # type: ignore[assignment]
        return made

    @staticmethod
    def _quiet(run: _Run, groups: list[_Grouped], conditioned: list[tuple[Predicate, list[int]]]) -> set[int]:
        """The places in the plan of rules that cannot find anything on this invoice: their group
        passes every value (see Group), or their invoice-level condition does not hold."""
        steps: set[int] = set()
        for group, members in groups:
            try:
                holds = group.holds(run.bare(group.path), run.today)
            except Exception:  # the rules, one by one, report what is wrong
                holds = False
            if holds:
                steps.update(members)
        for when, members in conditioned:
            try:
                holds = run.holds(when)
            except Exception:
                holds = True
            if not holds:
                steps.update(members)
        return steps

    def evaluate(self, invoice: Invoice, today: date, tree: etree._Element | None = None) -> list[Violation]:
        """Field, check and attachment rules always; document rules when the rendered `tree` is given."""
        run = _Run(invoice, today, tree)
        found: list[Violation] = []
        day = invoice.invoice_date
        _, plans, groups, conditioned = self._making()
        document = tree is not None
        plan = plans[document]
        groups = [] if document else groups
        quiet = self._quiet(run, groups, conditioned[document]) if groups or conditioned[document] else ()
        for step, (rule, effective_from, evaluator) in enumerate(plan):
            if step in quiet or (effective_from is not None and day < effective_from):
                continue
            try:
                violations = evaluator(run)
            except Exception as exc:  # a broken rule blocks the invoice; it never lets it through unchecked
                found.append(internal_error(rule, exc, self.origins.get(rule.id)))
                continue
            if violations:
                found.extend(violations)
        return found


_NO_VIOLATIONS: list[Violation] = []  # shared: callers only read what an evaluator returns
_CACHE: dict[tuple[str, str], CompiledRules] = {}


def compiled(profile: Profile) -> CompiledRules:
    """The profile's rules compiled once (cached by id and fingerprint)."""
    key = (profile.id, profile.fingerprint)
    if key not in _CACHE:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = compile_rules(profile.rules, profile.reference, profile.origins, profile.schema_files)
    return _CACHE[key]


def compile_rules(
    rules: Sequence[Rule],
    reference: Mapping[str, frozenset[str]] | None = None,
    origins: Mapping[str, str] | None = None,
    schema_files: Mapping[str, str] | None = None,
) -> CompiledRules:
    result = CompiledRules(origins=dict(origins or {}))
    reference = reference or {}
    conditions: dict[str, Predicate] = {}  # one predicate per distinct condition (see `_Run.holds`)
    for rule in rules:
        if rule.disabled:
            continue
        source = result.origins.get(rule.id)
        when = None
        if rule.when is not None:
            shape = rule.when.model_dump_json()
            when = conditions.get(shape) or conditions.setdefault(shape, compile_condition(rule.when))
            if not any("[*]" in name for name in condition_fields(rule.when)):
                result.conditions[len(result.evaluators)] = when
        if rule.field is not None:
            run, memo = _field_rule(rule, when, reference, source)
            if memo is not None and not rule.unique:
                result.memos[len(result.evaluators)] = memo
            result.evaluators.append((rule, False, run))
        elif rule.check is not None or rule.attachments is not None:
            result.evaluators.append((rule, False, _check_rule(rule, when, source)))
        elif rule.document is not None:
            result.evaluators.append((rule, True, _document_rule(rule, when, reference, source)))
        elif rule.document_schema is not None:
            path = (schema_files or {}).get(rule.id)
            result.evaluators.append((rule, True, _schema_rule(rule, when, path, source)))
    return result


def _field_rule(
    rule: Rule, when: Predicate | None, reference: Mapping[str, frozenset[str]], source: str | None
) -> tuple[Evaluator, Memo | None]:
    assert rule.field is not None
    path = field_path(rule.field)
    keys = path.wildcard_keys
    check = compile_checks(rule, reference)
    names = (rule.matches, rule.within_days.of if rule.within_days else None)
    others = {name: field_path(name) for name in names if name}
    types = memo_types(rule)
    memo = Memo(rule, check, types) if types else None
    # A window from another date of the invoice (`due_date` within 90 days of `invoice_date`): its
    # findings depend on the two dates alone, so the pairs it passed are remembered.
    anchor = others.get(rule.within_days.of or "") if rule.within_days is not None else None
    if anchor is None or keys or anchor.wildcard_keys or rule.matches or rule.unique or when is not None:
        anchor = None
    anchored = AnchoredMemo()

    def run(r: _Run) -> list[Violation]:
        pair = anchored.pair(r.bare(path), r.bare(anchor)) if anchor is not None else None
        if pair is not None and anchored.passed(pair):
            return _NO_VIOLATIONS
        if memo is not None:
            bare = r.bare(path)
            # Every value passes: the rule holds whatever its `when` says (rules/memo.py).
            if (
                bare is not None
                and bare[0] in memo.types
                and memo.all_pass(bare[1], r.today)
                and (not rule.unique or distinct(bare))
            ):
                return _NO_VIOLATIONS
        reached = r.values(path)
        if when is not None:
            if keys:  # a condition on the rule's own line sees that line
                reached = [(v, i) for v, i in reached if when(r, dict(zip(keys, i, strict=False)))]
            elif not r.holds(when):
                return _NO_VIOLATIONS
        found: list[Violation] = []
        today = r.today
        for value, indices in reached:
            lookup = (
                _lookup(others, r, dict(zip(keys, indices, strict=False)) if keys else {}) if others else None
            )
            findings = check(value, today, lookup)
            if findings:  # the rare case: most values pass, and pass without a list being built
                found.extend(violation(rule, path.concrete(indices), value, f, source) for f in findings)
        if rule.unique and not distinct(r.bare(path)):
            pairs = [(path.concrete(indices), value) for value, indices in reached]
            for where, value, finding in duplicates(pairs):
                found.append(violation(rule, where, value, finding, source))
        if pair is not None and not found:
            anchored.remember(pair)
        return found

    return run, memo


def _lookup(others: Mapping[str, paths.FieldPath], r: _Run, bound: paths.Bindings) -> Callable[[str], Any]:
    def lookup(name: str) -> Any:
        hits = r.at(others[name], bound)  # resolved once per invoice where it can be
        return hits[0] if hits else None

    return lookup


def _check_rule(rule: Rule, when: Predicate | None, source: str | None) -> Evaluator:
    def run(r: _Run) -> list[Violation]:
        if when is not None and not r.holds(when):
            return []
        problems = run_check(rule, r.invoice) if rule.check else run_attachments(rule.attachments, r.invoice)  # type: ignore[arg-type]
        return [violation(rule, where, value, finding, source) for where, value, finding in problems]

    return run


def _document_rule(
    rule: Rule, when: Predicate | None, reference: Mapping[str, frozenset[str]], source: str | None
) -> Evaluator:
    assert rule.document is not None
    compiled_xpath = xpath(rule.document)
    check = compile_checks(rule, reference)  # once per profile, not once per value found

    def run(r: _Run) -> list[Violation]:
        if when is not None and not r.holds(when):
            return []
        found = values(compiled_xpath(r.tree))
        if not found:
            if rule.required:
                return [
                    violation(
                        rule,
                        rule.document or "",
                        None,
                        Finding("required", "the rendered document has nothing at {field}", "present"),
                        source,
                    )
                ]
            return []
        if rule.forbidden:
            return [
                violation(
                    rule,
                    rule.document or "",
                    found[0],
                    Finding("forbidden", "the rendered document must have nothing at {field}", "absent"),
                    source,
                )
            ]
        violations = []
        for value in found:
            for finding in check(value, None, None):
                violations.append(violation(rule, rule.document or "", value, finding, source))
        return violations

    return run


def _schema_rule(rule: Rule, when: Predicate | None, path: str | None, source: str | None) -> Evaluator:
    assert rule.document_schema is not None
    kind = "dtd" if rule.document_schema.dtd is not None else "xsd"
    named = rule.document_schema.dtd or rule.document_schema.xsd

    def run(r: _Run) -> list[Violation]:
        if when is not None and not r.holds(when):
            return []
        if path is None:
            raise ValueError(f"the {kind.upper()} {named!r} was not found when the rules file loaded")
        assert r.tree is not None
        return [
            violation(
                rule,
                "document",
                None,
                Finding(
                    "document_schema",
                    f"the document does not follow {named}: {error}",
                    f"valid against {named}",
                ),
                source,
            )
            for error in schema_errors(path, kind, r.tree)
        ]

    return run


# --- the public, list-based API (tests and tools that hold rules, not a profile) -----------------------------
def evaluate(
    invoice: Invoice,
    rules: Sequence[Rule],
    today: date,
    reference: Mapping[str, frozenset[str]] | None = None,
) -> list[Violation]:
    """Violations of the field, check and attachment rules by the canonical invoice."""
    return compile_rules(rules, reference).evaluate(invoice, today)


def evaluate_document(
    tree: etree._Element, rules: Sequence[Rule], invoice: Invoice | None = None, today: date | None = None
) -> list[Violation]:
    """Violations of the document rules by the rendered document (conditions need the invoice)."""
    document_rules = [r for r in rules if r.document is not None or r.document_schema is not None]
    if invoice is None:
        if any(r.when is not None or r.effective_from is not None for r in document_rules):
            raise ValueError("document rules with `when` or `effective_from` need the invoice")
        return _evaluate_without_invoice(tree, document_rules)
    return compile_rules(document_rules).evaluate(invoice, today or invoice.invoice_date, tree)


def _evaluate_without_invoice(tree: etree._Element, rules: Sequence[Rule]) -> list[Violation]:
    found: list[Violation] = []
    for rule, needs_document, evaluator in compile_rules(rules).evaluators:
        if needs_document:
            try:
                found.extend(evaluator(_Run(invoice=None, today=date.min, tree=tree)))  # type: ignore[arg-type]
            except Exception as exc:
                found.append(internal_error(rule, exc, None))
    return found
