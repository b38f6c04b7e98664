"""Rules no invoice can satisfy together: `rules check` errors naming both rules and where they are written,
and `rules test` running an example through the whole profile, baselines included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rules.contradictions import contradictions
from rules.examples import run_examples
from rules.lint import contradiction_problems
from rules.rule import Rule

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "baselines" / "examples"
BASELINE = Path(__file__).resolve().parents[2] / "rules" / "baselines" / "coupa-baseline.yaml"


def profile(tmp_path: Path, rules: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "acme-coupa.yaml"
    spec = {
        "id": "acme-coupa",
        "buyer": "ACME",
        "connector": "coupa",
        "extends": ["coupa-baseline"],
        "match": {"customer_id": ["C-1"]},
        "rules": rules,
        **extra,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def line_of(path: Path, rule_id: str) -> int:
    return next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text == f"- id: {rule_id}")


UOM_LOWER = {"id": "uom-lower", "field": "lines[*].unit_of_measure", "one_of": ["ea", "hr"]}


def test_a_one_of_no_value_of_which_passes_the_baseline_pattern(tmp_path: Path) -> None:
    path = profile(tmp_path, [UOM_LOWER])
    [problem] = contradiction_problems(path)
    baseline_line = next(
        n for n, text in enumerate(BASELINE.read_text().splitlines(), 1) if text == "  - id: coupa-uom-code"
    )
    assert problem.file == path and problem.line == line_of(path, "uom-lower")
    assert f"coupa-uom-code ({BASELINE}:{baseline_line})" in problem.what
    assert f"uom-lower ({path}:{line_of(path, 'uom-lower')})" in problem.what
    assert "none of uom-lower's values (one_of [ea, hr]) passes coupa-uom-code's pattern" in problem.what


def test_rules_test_runs_the_whole_profile_and_catches_the_same_mistake(tmp_path: Path) -> None:
    # The example lists only the file's own rule, as an author would: the baseline's rule still runs.
    lower = {"from": str(EXAMPLES / "po-invoice.json"), "set": {"lines[0].unit_of_measure": "ea"}}
    path = profile(
        tmp_path,
        [UOM_LOWER],
        examples=[{"name": "lower-case units", "invoice": lower, "passes": ["uom-lower"]}],
    )
    [result] = run_examples(path)
    assert not result.passed and result.line is not None
    [problem] = [p for p in result.problems if p.startswith("breaks coupa-uom-code")]
    assert f"({BASELINE}:" in problem and "which the example does not expect" in problem
    assert f"other rules on lines[*].unit_of_measure: uom-lower ({path}:" in problem
    # the example still fails uom-lower on the line it did not change (EA is not in [ea, hr])
    assert any(p.startswith("should pass uom-lower") for p in result.problems)


def test_an_example_expecting_nothing_must_break_nothing(tmp_path: Path) -> None:
    path = profile(
        tmp_path,
        [{"id": "po", "field": "po_number", "pattern": "^PO-"}],
        examples=[
            {"name": "clean", "invoice": str(EXAMPLES / "po-invoice.json")},
            {
                "name": "space",
                "invoice": {"from": str(EXAMPLES / "po-invoice.json"), "set": {"invoice_number": "A 1"}},
                "fails": ["coupa-invoice-number"],
            },
            {
                "name": "unexpected",
                "invoice": {"from": str(EXAMPLES / "po-invoice.json"), "set": {"invoice_number": "A 1"}},
            },
        ],
    )
    results = {r.name: r for r in run_examples(path)}
    assert results["clean"].passed and results["space"].passed
    [problem] = results["unexpected"].problems
    assert problem.startswith("breaks coupa-invoice-number") and "'A 1'" in problem


@pytest.mark.parametrize(
    ("rules", "named", "why"),
    [
        (
            [
                {"id": "usd", "field": "currency", "equals": "USD"},
                {"id": "cad", "field": "currency", "equals": "CAD"},
            ],
            ("usd", "cad"),
            "none of usd's values (equals 'USD') passes cad's equals 'CAD'",
        ),
        (
            [{"id": "low", "field": "total", "min": 100}, {"id": "high", "field": "total", "max": 50}],
            ("low", "high"),
            "min 100 (low) is above max 50 (high)",
        ),
        (
            [{"id": "both", "field": "total", "min": 10, "max": 5}],
            ("both",),
            "min 10 (both) is above max 5 (both)",
        ),
        (
            [
                {"id": "po", "field": "po_number", "required": True},
                {
                    "id": "no-po-on-credit",
                    "field": "po_number",
                    "forbidden": True,
                    "when": {"field": "purpose", "equals": "credit_memo"},
                },
            ],
            ("po", "no-po-on-credit"),
            "po requires it and no-po-on-credit forbids it where its `when` holds",
        ),
        (
            [
                {"id": "short", "field": "po_number", "length": {"min": 8}},
                {"id": "long", "field": "po_number", "length": {"max": 6}},
            ],
            ("short", "long"),
            "length at least 8 and at most 6",
        ),
        (
            [
                {"id": "no-contract", "field": "contract_number", "forbidden": True},
                {"id": "no-po", "field": "po_number", "forbidden": True},
                {
                    "id": "po-unless-contract",
                    "field": "po_number",
                    "required": True,
                    "when": {"field": "contract_number", "present": False},
                },
            ],
            ("no-po", "po-unless-contract"),
            "given no-contract",
        ),
    ],
)
def test_contradictions_name_both_rules_and_their_lines(
    tmp_path: Path, rules: list[dict[str, Any]], named: tuple[str, ...], why: str
) -> None:
    path = profile(tmp_path, rules)
    [problem] = contradiction_problems(path)
    for rule_id in named:
        assert f"{rule_id} ({path}:{line_of(path, rule_id)})" in problem.what
    assert why in problem.what and problem.file == path


@pytest.mark.parametrize(
    "rules",
    [
        # different conditions: may never meet
        [
            {
                "id": "usd",
                "field": "currency",
                "equals": "USD",
                "when": {"field": "customer_id", "equals": "A"},
            },
            {
                "id": "cad",
                "field": "currency",
                "equals": "CAD",
                "when": {"field": "customer_id", "equals": "B"},
            },
        ],
        # a warning blocks nothing
        [
            {"id": "usd", "field": "currency", "equals": "USD"},
            {"id": "cad", "field": "currency", "equals": "CAD", "severity": "warning"},
        ],
        # one value in common
        [
            {"id": "a", "field": "currency", "one_of": ["USD", "CAD"]},
            {"id": "b", "field": "currency", "pattern": "^C"},
        ],
        [{"id": "a", "field": "total", "min": 5}, {"id": "b", "field": "total", "max": 5}],
        [UOM_LOWER | {"one_of": ["EA", "hr"]}],
    ],
)
def test_satisfiable_rules_are_not_reported(tmp_path: Path, rules: list[dict[str, Any]]) -> None:
    assert contradiction_problems(profile(tmp_path, rules)) == []


def test_a_finite_list_empty_by_itself() -> None:
    rule = Rule.model_validate({"id": "x", "field": "currency", "one_of": ["USD"], "equals": "CAD"})
    [found] = contradictions([rule], {"x": "f.yaml:3"}, {})
    assert found.rules == ("x",) and "allows no value at all" in found.what
