"""Lint, the examples runner and rule suggestions (the pure parts of `portalhub rules ...`)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from rules.examples import build_invoice, run_examples
from rules.lint import lint_file, runaway, unreachable
from rules.rule import Rule
from rules.schema import ExampleInvoice
from rules.suggest import Rejection, shape, suggest
from tests.factories import make_invoice

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "baselines" / "examples"


def write(tmp_path: Path, spec: dict[str, Any], name: str = "acme-coupa") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"id": name, **spec}, sort_keys=False))
    return path


def profile(tmp_path: Path, rules: list[dict[str, Any]], **extra: Any) -> Path:
    return write(
        tmp_path,
        {"buyer": "ACME", "connector": "coupa", "match": {"customer_id": ["C-1"]}, "rules": rules, **extra},
    )


def warnings(path: Path, today: date | None = None) -> list[str]:
    return [w.what for w in lint_file(path, today=today)]


# --- lint -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ({"field": "purpose", "equals": "credit_note"}, "purpose is never credit_note"),
        ({"field": "purpose", "in": []}, "`in: []` on purpose never matches"),
        (
            {"all": [{"field": "currency", "equals": "USD"}, {"field": "currency", "equals": "EUR"}]},
            "currency to equal EUR and USD at once",
        ),
        (
            {"all": [{"field": "po_number", "present": True}, {"field": "po_number", "present": False}]},
            "present and absent at once",
        ),
    ],
)
def test_unreachable_when_is_reported(tmp_path: Path, when: dict[str, Any], reason: str) -> None:
    path = profile(tmp_path, [{"id": "r", "field": "po_number", "required": True, "when": when}])
    assert any(reason in w for w in warnings(path))


def test_a_reachable_when_is_not_reported() -> None:
    assert (
        unreachable(
            Rule.model_validate(
                {
                    "id": "r",
                    "field": "po_number",
                    "required": True,
                    "when": {"field": "purpose", "equals": "credit_memo"},
                }
            ).when
        )
        == []
    )  # type: ignore[arg-type]


def test_overrides_and_repeats_of_inherited_rules(tmp_path: Path) -> None:
    baseline_uom = {
        "id": "coupa-uom-code",
        "field": "lines[*].unit_of_measure",
        "required": True,
        "pattern": "^[A-Z0-9]{2,3}$",
        "category": "price_quantity",
        "message": "the unit of measure must be the UN/ECE code of the PO line (EA, HUR, KGM, ...), found '{value}'",
        "hint": "Use the unit of measure exactly as it is on the PO line.",
    }
    path = profile(
        tmp_path,
        [
            baseline_uom,
            {"id": "coupa-invoice-number", "field": "invoice_number", "pattern": "^INV-"},
            {
                "id": "acme-part",
                "field": "lines[*].supplier_part_id",
                "required": True,
                "when": {"field": "po_number", "present": True},
                "category": "price_quantity",
            },
        ],
        extends=["coupa-baseline"],
    )
    found = warnings(path)
    assert any(
        w.startswith("identical to the inherited rule at") and "coupa-baseline.yaml" in w for w in found
    )
    assert any(w.startswith("overrides the inherited rule at") for w in found)
    assert any(w.startswith("checks the same as inherited rule coupa-supplier-part") for w in found)


def test_catastrophic_patterns_are_reported_and_sane_ones_are_not(tmp_path: Path) -> None:
    assert runaway(r"^PO-\d{6}$") is None
    assert runaway("(a|aa)+$") is not None
    path = profile(tmp_path, [{"id": "r", "field": "po_number", "pattern": "(a|aa)+$"}])
    assert any("catastrophic backtracking" in w for w in warnings(path))


def test_future_dates_unused_lists_and_missing_examples(tmp_path: Path) -> None:
    path = profile(
        tmp_path,
        [{"id": "r", "field": "po_number", "required": True, "effective_from": "2027-01-01"}],
        reference={"unused": {"values": ["x"]}},
        effective_from="2027-01-01",
    )
    found = warnings(path, today=date(2026, 11, 20))
    assert any("effective_from 2027-01-01 is in the future" in w for w in found)
    assert any("the file is effective from 2027-01-01" in w for w in found)
    assert any("reference list 'unused' is not used" in w for w in found)
    assert any(w.startswith("no examples") for w in found)


# --- examples ---------------------------------------------------------------------------------------------------
def test_examples_that_hold_pass_and_wrong_ones_fail(tmp_path: Path) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "invoice.json").write_text((EXAMPLES / "po-invoice.json").read_text())
    path = profile(
        tmp_path,
        [{"id": "po-format", "field": "po_number", "pattern": "^PO-\\d{6}$"}],
        examples=[
            {"name": "good", "invoice": "examples/invoice.json", "passes": ["po-format"]},
            {
                "name": "caught",
                "invoice": {"from": "examples/invoice.json", "set": {"po_number": "PO-1"}},
                "fails": ["po-format"],
            },
            {"name": "wrong claim", "invoice": "examples/invoice.json", "fails": ["po-format"]},
            {"name": "unknown rule", "invoice": "examples/invoice.json", "passes": ["no-such-rule"]},
            {
                "name": "broken invoice",
                "invoice": {"from": "examples/invoice.json", "set": {"total": "1"}},
                "passes": ["po-format"],
            },
        ],
    )
    results = {r.name: r for r in run_examples(path)}
    assert results["good"].passed and results["caught"].passed
    assert results["wrong claim"].problems == ["should fail po-format but passes it"]
    assert "names rule 'no-such-rule'" in results["unknown rule"].problems[0]
    assert "cannot be built" in results["broken invoice"].problems[0]


def test_build_invoice_sets_nested_paths() -> None:
    spec = ExampleInvoice.model_validate(
        {
            "from": "examples/po-invoice.json",
            "set": {"lines[0].unit_of_measure": "BX", "supplier.tax_id": None},
        }
    )
    invoice = build_invoice(spec, EXAMPLES.parent / "coupa-baseline.yaml")
    assert invoice.lines[0].unit_of_measure == "BX" and invoice.supplier.tax_id is None
    with pytest.raises(ValueError, match="has no element 9"):
        build_invoice(
            ExampleInvoice.model_validate({"from": "examples/po-invoice.json", "set": {"lines[9].x": 1}}),
            EXAMPLES.parent / "x.yaml",
        )


# --- suggestions ------------------------------------------------------------------------------------------------
def test_alike_rejections_group_and_become_rules() -> None:
    accepted = [
        make_invoice("A-1", po="PO-100001"),
        make_invoice("A-2", po="PO-100001", lines=[("P", "1", "HUR", "1.00")]),
        make_invoice("A-3", po="PO-100002", lines=[("P", "1", "HUR", "1.00")]),
    ]
    rejections = [
        Rejection(
            "INV-1",
            "dates",
            "Server could not create invoice. Invoice date 2026-11-13 is back-dated more than 2 days.",
            None,
        ),
        Rejection(
            "INV-2",
            "dates",
            "Server could not create invoice. Invoice date 2026-11-10 is back-dated more than 2 days.",
            None,
        ),
        Rejection(
            "INV-3",
            "po",
            "Server could not create invoice. PO number PO-100199 was not found for this supplier.",
            None,
        ),
        Rejection(
            "INV-4",
            "missing_field",
            "Server could not create invoice. Missing tags: Extrinsic CostCenter is required by this customer.",
            None,
        ),
        Rejection(
            "INV-5",
            "duplicate",
            "Invalid attributes in document. Invoice number INV-5 has already been used for this supplier.",
            None,
        ),
        Rejection(
            "INV-6",
            "price_quantity",
            "Server could not create invoice. Line 1: UOM BX does not match PO line 2 (EA).",
            None,
        ),
    ]
    found = {s.title: s for s in suggest("acme-coupa", rejections, accepted)}
    backdating = found["the buyer refuses invoices back-dated more than 2 days"]
    assert backdating.count == 2 and "within_days: {past: 2, future: 0}" in backdating.snippet
    assert [number for number, _ in backdating.evidence] == ["INV-1", "INV-2"]
    po = found["po_number values the buyer does not know"]
    # PO-100002 and EA were accepted once each: an anecdote, not an allow-list
    assert po.reference_file == ("acme-coupa-po-numbers.csv", ["PO-100001"])
    assert "CostCenter" in found["the buyer requires the CostCenter extrinsic"].snippet
    assert "one_of: [HUR]" in found["the buyer refuses units of measure that differ from the PO"].snippet
    assert found["invoice numbers already used at the portal"].snippet.startswith("# No rule")
    for suggestion in found.values():  # every proposed rule is valid YAML for a rules file
        parsed = yaml.safe_load(suggestion.snippet)
        rules = parsed["rules"] if isinstance(parsed, dict) else parsed
        for spec in rules or []:
            Rule.model_validate(spec)


def test_the_same_rule_in_other_words_is_one_suggestion_with_its_evidence() -> None:
    rejections = [
        Rejection("INV-1", "dates", "Invoice date 2026-11-13 is back-dated more than 2 days.", None),
        # an Ariba buyer's own code for the same fact (PORTALS.md: "can only be back-dated by two calendar days")
        Rejection(
            "INV-2",
            "other",
            "TRC-017: The invoice can only be back-dated by 2 calendar days (invoice date 2026-11-10).",
            None,
        ),
        Rejection("INV-3", "other", "The invoice can only be back-dated by two calendar days", None),
        Rejection("INV-4", "other", "INV-98: Tax ID is required. Provide your tax ID on the invoice.", None),
        Rejection("INV-5", "po", "Invalid order/document reference.", None),
        Rejection(
            "INV-6", "po", "INV-13: Order PO-7 is obsolete or a duplicate; invoice the current order.", None
        ),
    ]
    accepted = [make_invoice("A-1", po="PO-1"), make_invoice("A-2", po="PO-2")]
    found = {s.title: s for s in suggest("trc-ariba", rejections, accepted)}
    backdating = found["the buyer refuses invoices back-dated more than 2 days"]
    assert [n for n, _ in backdating.evidence] == ["INV-1", "INV-2", "INV-3"]
    assert backdating.wordings == {
        "Coupa: back-dated more than N days": 1,
        "Ariba buyer rule: can only be back-dated by N calendar days": 2,
    }
    assert "within_days: {past: 2, future: 0}" in backdating.snippet
    assert "supplier.tax_id" in found["the buyer requires the supplier's tax ID"].snippet
    po = found["po_number values the buyer does not know"]
    assert po.count == 2 and po.reference_file is None  # PO-1 and PO-2 were each accepted once
    assert "an allow-list of values seen" in po.snippet and "one_of" not in po.snippet


def test_shape_masks_numbers_so_alike_texts_group() -> None:
    assert shape("PO number PO-100199 was not found") == shape("PO number PO-7 was not found")
    assert shape("PO number PO-1 was not found") != shape("Contract MSA-1 was not found")


def test_suggested_rules_catch_what_the_portal_refused(tmp_path: Path) -> None:
    """The proof of a suggestion: pasted into a rules file, it blocks the invoice the portal refused."""
    refused = make_invoice("INV-1", invoice_date=date(2026, 11, 13))
    [suggestion] = suggest(
        "acme-coupa",
        [Rejection("INV-1", "dates", "Invoice date 2026-11-13 is back-dated more than 2 days.", refused)],
        [],
    )
    path = profile(tmp_path, yaml.safe_load(suggestion.snippet))
    from rules.engine import compiled
    from rules.loader import load_profile

    violations = compiled(load_profile(path)).evaluate(refused, date(2026, 11, 20))
    assert [v.rule_id for v in violations] == ["acme-coupa-learned-backdating"]
    assert json.dumps([v.model_dump(mode="json") for v in violations])
