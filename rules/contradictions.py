"""`portalhub rules check`: pairs of rules no invoice can satisfy together (errors, not warnings).

Only what can be *proved* from the rules alone is reported, so an error here is never a guess:

- both rules block (severity error, not disabled) and look at the same field path (`lines[*].x` and
  `lines[*].x`; `lines[0].x` and `lines[*].x` are not compared);
- their scopes provably overlap: one has no `when`, or both have the same `when`. A `when` made only
  of `{field: G, present: false}` tests counts as no `when` when another unconditional rule forbids G
  (every invoice that gets through has no G, so the condition always holds);
- and then one of:
  * one requires the field and the other forbids it;
  * a rule with a finite list of values (`one_of`, `one_of_ref`, `equals`) has no value the other
    rule (or the rule itself) accepts: `equals: USD` beside `equals: CAD`, `one_of: [ea, hr]` beside
    the pattern `^[A-Z0-9]{2,3}$`;
  * the larger `min` is above the smaller `max` (one rule or two), likewise `length`.

Rules under different conditions (`when: currency is USD` and `when: currency is CAD`) may never meet
and are not compared; two patterns are not intersected (undecidable in general for these regexes).
Rules on the rendered document are compared with field rules by the hub (`hub.rules_tools`), which can
render an invoice: that is where "forbids both the PO and the contract number" is found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from rules.constraints import compile_checks
from rules.rule import AllOf, Condition, FieldCondition, Rule


@dataclass(frozen=True)
class Contradiction:
    """Two rules (one when a rule contradicts itself) that no value of `field` can satisfy together."""

    rules: tuple[str, ...]  # rule ids
    origins: tuple[str, ...]  # "file:line" of each
    field: str
    what: str
    #: further rules the proof relies on (e.g. the rule forbidding the field a `when` tests)
    because: tuple[str, ...] = ()

    def describe(self) -> str:
        named = " and ".join(
            f"{rule_id} ({origin})" for rule_id, origin in zip(self.rules, self.origins, strict=True)
        )
        why = f"; given {', '.join(self.because)}" if self.because else ""
        return f"contradiction on {self.field}: {named}: {self.what}{why}"


def _blocking(rule: Rule) -> bool:
    return not rule.disabled and rule.severity == "error" and rule.field is not None


def _absent_tests(condition: Condition) -> list[str] | None:
    """The fields a `when` requires to be absent, when that is all it tests; else None."""
    if isinstance(condition, FieldCondition):
        return [condition.field] if condition.present is False else None
    if isinstance(condition, AllOf):
        fields: list[str] = []
        for part in condition.all:
            inner = _absent_tests(part)
            if inner is None:
                return None
            fields.extend(inner)
        return fields
    return None


def _scope(
    rule: Rule, forbidding: Mapping[str, Rule], origins: Mapping[str, str]
) -> tuple[object, tuple[str, ...]]:
    """The rule's scope for comparison (None: every invoice) and the rules that proof leans on."""
    if rule.when is None:
        return None, ()
    absent = _absent_tests(rule.when)
    if absent and all(name in forbidding for name in absent):
        return None, tuple(
            f"{forbidding[n].id} ({origins.get(forbidding[n].id, '?')}) forbids {n}" for n in absent
        )
    return rule.when.model_dump_json(by_alias=True), ()


def _finite(rule: Rule, reference: Mapping[str, frozenset[str]]) -> list[str] | None:
    """The values a rule allows when it lists them (intersection of one_of, one_of_ref and equals)."""
    sets: list[set[str]] = []
    if rule.one_of is not None:
        sets.append(set(rule.one_of))
    if rule.one_of_ref is not None and rule.one_of_ref in reference:
        sets.append(set(reference[rule.one_of_ref]))
    if rule.equals is not None:
        sets.append({rule.equals})
    if not sets:
        return None
    first = rule.one_of or ([rule.equals] if rule.equals is not None else sorted(sets[0]))
    return [v for v in dict.fromkeys([*first, *sorted(set.union(*sets))]) if all(v in s for s in sets)]


def _listed(rule: Rule) -> str:
    if rule.equals is not None and rule.one_of is None:
        return f"equals {rule.equals!r}"
    if rule.one_of is not None:
        return f"one_of [{', '.join(rule.one_of)}]"
    return f"one_of_ref {rule.one_of_ref}"


def _rejects(rule: Rule) -> str:
    parts = []
    if rule.pattern is not None:
        parts.append(f"pattern {rule.pattern!r}")
    if rule.equals is not None:
        parts.append(f"equals {rule.equals!r}")
    if rule.one_of is not None:
        parts.append(f"one_of [{', '.join(rule.one_of)}]")
    if rule.one_of_ref is not None:
        parts.append(f"one_of_ref {rule.one_of_ref}")
    if rule.length is not None:
        parts.append(f"length {rule.length.min}..{rule.length.max}")
    if rule.min is not None or rule.max is not None:
        parts.append(f"range {rule.min}..{rule.max}")
    return " / ".join(parts) or "its constraints"


def _values_conflict(a: Rule, b: Rule, reference: Mapping[str, frozenset[str]]) -> str | None:
    """Why no value passes both rules' value constraints (a may be b: a rule against itself)."""
    checks = [compile_checks(a, reference)] + ([compile_checks(b, reference)] if b is not a else [])
    for owner in (a, b):
        listed = _finite(owner, reference)
        if listed is None:
            continue
        if not listed:
            return f"{owner.id} allows no value at all (its one_of/one_of_ref/equals have none in common)"
        if not any(all(not check(value, None, None) for check in checks) for value in listed):
            other = b if owner is a else a
            if other is owner:
                return f"none of its values ({_listed(owner)}) passes its own {_rejects(owner)}"
            return f"none of {owner.id}'s values ({_listed(owner)}) passes {other.id}'s {_rejects(other)}"
    lows = [(r.min, r.id) for r in {id(a): a, id(b): b}.values() if r.min is not None]
    highs = [(r.max, r.id) for r in {id(a): a, id(b): b}.values() if r.max is not None]
    if lows and highs:
        low, low_id = max(lows, key=lambda item: item[0])
        high, high_id = min(highs, key=lambda item: item[0])
        if Decimal(low) > Decimal(high):
            return f"min {low} ({low_id}) is above max {high} ({high_id})"
    lengths = [r.length for r in {id(a): a, id(b): b}.values() if r.length is not None]
    long_min = max((span.min for span in lengths if span.min is not None), default=None)
    short_max = min((span.max for span in lengths if span.max is not None), default=None)
    if long_min is not None and short_max is not None and long_min > short_max:
        return f"length at least {long_min} and at most {short_max}"
    return None


def contradictions(
    rules: list[Rule], origins: Mapping[str, str], reference: Mapping[str, frozenset[str]]
) -> list[Contradiction]:
    """Every provable contradiction among a profile's effective rules (see the module docstring)."""
    live = [r for r in rules if _blocking(r)]
    forbidding = {r.field: r for r in live if r.forbidden and r.when is None and r.field is not None}
    by_field: dict[str, list[Rule]] = defaultdict(list)
    for rule in live:
        assert rule.field is not None
        by_field[rule.field].append(rule)
    found: list[Contradiction] = []

    def origin(rule: Rule) -> str:
        return origins.get(rule.id, "?")

    for field, group in by_field.items():
        scopes = {r.id: _scope(r, forbidding, origins) for r in group}
        for rule in group:
            why = _values_conflict(rule, rule, reference)
            if why is not None:
                found.append(Contradiction((rule.id,), (origin(rule),), field, why))
        for a, b in combinations(group, 2):
            (scope_a, lean_a), (scope_b, lean_b) = scopes[a.id], scopes[b.id]
            if scope_a is not None and scope_b is not None and scope_a != scope_b:
                continue  # different conditions: they may never apply to the same invoice
            because = tuple(dict.fromkeys(lean_a + lean_b))
            if (a.required and b.forbidden) or (a.forbidden and b.required):
                requiring, forbidding_rule = (a, b) if a.required else (b, a)
                where = "" if forbidding_rule.when is None else " where its `when` holds"
                found.append(
                    Contradiction(
                        (a.id, b.id),
                        (origin(a), origin(b)),
                        field,
                        f"{requiring.id} requires it and {forbidding_rule.id} forbids it{where}",
                        because,
                    )
                )
                continue
            if _values_conflict(a, a, reference) or _values_conflict(b, b, reference):
                continue  # already reported against the rule itself
            why = _values_conflict(a, b, reference)
            if why is not None:
                found.append(Contradiction((a.id, b.id), (origin(a), origin(b)), field, why, because))
    return found
