"""The full rules language: conditions, every constraint, checks, attachments, schemas, reference
lists, per-rule dates, and rules that break while evaluating."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from hub.model import (
    Attachment,
    Invoice,
    InvoicePurpose,
    PurchaseOrderInfo,
    RejectionCategory,
    TaxLine,
    Violation,
)
from rules.engine import compile_rules, evaluate
from rules.loader import RulesFileError, load_profile
from rules.rule import Rule
from tests.factories import T0, make_invoice

TODAY = T0.date()


def rule(**spec: Any) -> Rule:
    return Rule.model_validate({"id": "r", **spec})


def broken(
    invoice: Invoice, *rules: Rule, reference: dict[str, frozenset[str]] | None = None
) -> list[Violation]:
    return evaluate(invoice, list(rules), TODAY, reference)


def fields(violations: list[Violation]) -> list[str]:
    return [v.field for v in violations]


# --- conditions ------------------------------------------------------------------------------------------------
def test_when_equals_narrows_a_rule_to_credit_memos() -> None:
    needs_original = rule(
        field="original_invoice_number", required=True, when={"field": "purpose", "equals": "credit_memo"}
    )
    invoice = make_invoice("INV-1")
    credit = make_invoice(
        "CM-1", purpose=InvoicePurpose.CREDIT_MEMO, lines=[("BRG-6205", "-1", "EA", "12.50")]
    )
    assert broken(invoice, needs_original) == []
    assert fields(broken(credit, needs_original)) == ["original_invoice_number"]


@pytest.mark.parametrize(
    ("condition", "applies"),
    [
        ({"field": "po_number", "present": True}, True),
        ({"field": "po_number", "present": False}, False),
        ({"field": "po_number", "pattern": "^PO-"}, True),
        ({"field": "po_number", "in": ["X", "PO-100001"]}, True),
        ({"all": [{"field": "currency", "equals": "USD"}, {"field": "po_number", "present": True}]}, True),
        ({"all": [{"field": "currency", "equals": "USD"}, {"field": "po_number", "present": False}]}, False),
        ({"any": [{"field": "currency", "equals": "EUR"}, {"field": "customer_id", "equals": "C-1"}]}, True),
        ({"not": {"field": "currency", "equals": "USD"}}, False),
        ({"field": "total", "equals": "125"}, True),  # money compares as a number: 125 == 125.00
        ({"field": "lines[*].unit_of_measure", "equals": "HUR"}, False),
    ],
)
def test_conditions(condition: dict[str, Any], applies: bool) -> None:
    demands_contract = rule(field="contract_number", required=True, when=condition)
    assert bool(broken(make_invoice(), demands_contract)) is applies


def test_a_line_condition_looks_at_the_same_line() -> None:
    services_need_a_period = rule(
        field="lines[*].service_period",
        required=True,
        when={"field": "lines[*].unit_of_measure", "equals": "HUR"},
    )
    invoice = make_invoice(lines=[("BRG-6205", "1", "EA", "12.50"), ("SVC-FIELD", "2", "HUR", "95.00")])
    assert fields(broken(invoice, services_need_a_period)) == ["lines[1].service_period"]


@pytest.mark.parametrize(
    "bad",
    [
        {"field": "po_number"},  # no test
        {"field": "po_number", "equals": "x", "present": True},  # two tests
        {"nothing": 1},
        {"all": []},
    ],
)
def test_malformed_conditions_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        rule(field="po_number", required=True, when=bad)


# --- constraints ------------------------------------------------------------------------------------------------
def test_forbidden() -> None:
    no_contract = rule(field="contract_number", forbidden=True)
    assert broken(make_invoice(), no_contract) == []
    [violation] = broken(make_invoice(contract_number="MSA-1"), no_contract)
    assert violation.value == "MSA-1" and violation.expected == "no value"


def test_equals_compares_like_an_author_means() -> None:
    assert broken(make_invoice(), rule(field="currency", equals="USD")) == []
    assert broken(make_invoice(), rule(field="lines[*].unit_price", equals="12.5")) == []  # 12.50 == 12.5
    [violation] = broken(make_invoice(), rule(field="currency", equals="EUR"))
    assert violation.expected == "EUR" and violation.value == "USD"


def test_unique_across_lines() -> None:
    invoice = make_invoice(
        lines=[("P-1", "1", "EA", "1.00"), ("P-2", "1", "EA", "1.00"), ("P-1", "2", "EA", "1.00")]
    )
    [violation] = broken(invoice, rule(field="lines[*].supplier_part_id", unique=True))
    assert (
        violation.field == "lines[2].supplier_part_id"
        and "repeats lines[0].supplier_part_id" in violation.message
    )


def test_matches_another_field() -> None:
    same_currency = rule(field="currency", matches="purchase_order.currency")
    assert broken(make_invoice(), same_currency) == []  # no PO data: nothing to compare
    assert broken(make_invoice(purchase_order=PurchaseOrderInfo(currency="USD")), same_currency) == []
    [violation] = broken(make_invoice(purchase_order=PurchaseOrderInfo(currency="EUR")), same_currency)
    assert violation.expected == "= purchase_order.currency (EUR)"


def test_within_days_of_another_date() -> None:
    due_soon = rule(field="due_date", within_days={"future": 30, "of": "invoice_date"})
    assert broken(make_invoice(due_date=TODAY + timedelta(days=30)), due_soon) == []
    [violation] = broken(make_invoice(due_date=TODAY + timedelta(days=45)), due_soon)
    assert (
        violation.expected == f"on or before {TODAY + timedelta(days=30)}"
        and violation.category is RejectionCategory.DATES
    )


def test_reference_lists() -> None:
    known = rule(field="po_number", one_of_ref="open_pos")
    assert broken(make_invoice(), known, reference={"open_pos": frozenset({"PO-100001"})}) == []
    [violation] = broken(make_invoice(po="PO-9"), known, reference={"open_pos": frozenset({"PO-100001"})})
    assert violation.expected == "a value of open_pos"


def test_effective_from_applies_to_invoices_dated_from_that_day() -> None:
    from_tomorrow = rule(field="contract_number", required=True, effective_from=TODAY + timedelta(days=1))
    assert broken(make_invoice(), from_tomorrow) == []
    assert broken(make_invoice(invoice_date=TODAY + timedelta(days=1)), from_tomorrow)


def test_expected_placeholder_in_messages() -> None:
    [violation] = broken(
        make_invoice(po="X"),
        rule(field="po_number", pattern=r"^PO-\d{6}$", message="{field} is {value}, want {expected}"),
    )
    assert violation.message == r"po_number is X, want matching ^PO-\d{6}$"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"field": "po_number"}, "needs at least one of"),
        ({"field": "po_number", "check": "tax_rates", "required": True}, "exactly one target"),
        ({"check": "tax_rates", "required": True}, "takes no required"),
        ({"document": "//X", "unique": True}, "apply to invoice fields"),
        ({"field": "po_number", "required": True, "tolerance": "1"}, "tolerance applies to `check`"),
        ({"field": "po_number", "required": True, "forbidden": True}, "both require and forbid"),
        ({"field": "invoice_date", "within_days": {}}, "past, future or both"),
        ({"attachments": {}}, "attachments needs"),
        ({"document_schema": {"dtd": "a", "xsd": "b"}}, "exactly one of dtd or xsd"),
        ({"field": "po_number", "pattern": "(unclosed"}, "not a valid regular expression"),
    ],
)
def test_ill_formed_rules_say_why(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**spec)


# --- checks -----------------------------------------------------------------------------------------------------
def test_tax_rates_within_tolerance() -> None:
    invoice = make_invoice(tax_rate="8.25")
    assert broken(invoice, rule(check="tax_rates")) == []
    line = invoice.lines[0].model_dump()
    line["taxes"] = [
        TaxLine(
            rate_percent=Decimal("8.25"), taxable_amount=Decimal("125.00"), amount=Decimal("10.40")
        ).model_dump()
    ]
    skewed = Invoice.model_validate(
        {**invoice.model_dump(), "lines": [line], "tax_total": Decimal("10.40"), "total": Decimal("135.40")}
    )
    [violation] = broken(skewed, rule(check="tax_rates"))
    assert violation.field == "lines[0].taxes[0].amount" and violation.category is RejectionCategory.TAX
    assert "8.25% of 125.00 = 10.31" in violation.message
    assert broken(skewed, rule(check="tax_rates", tolerance="0.10")) == []


def test_line_amounts_can_be_stricter_than_the_model() -> None:
    invoice = make_invoice(lines=[("P-1", "3", "EA", "3.333")])  # 9.999 rounds to 10.00, off by 0.001
    assert broken(invoice, rule(check="line_amounts")) == []
    assert fields(broken(invoice, rule(check="line_amounts", tolerance="0"))) == ["lines[0].amount"]


def test_summary_totals_exact() -> None:
    invoice = make_invoice(lines=[("P-1", "3", "EA", "3.333")])
    assert broken(invoice, rule(check="summary_totals", tolerance="0")) == []


def test_total_within_what_is_left_on_the_po() -> None:
    within = rule(check="po_remaining")
    assert broken(make_invoice(), within) == []  # no PO data, nothing to check
    assert (
        broken(make_invoice(purchase_order=PurchaseOrderInfo(remaining_amount=Decimal("500"))), within) == []
    )
    [violation] = broken(
        make_invoice(purchase_order=PurchaseOrderInfo(remaining_amount=Decimal("100"))), within
    )
    assert (
        violation.category is RejectionCategory.PO
        and "more than the 100 left on PO PO-100001" in violation.message
    )


def test_attachment_rules() -> None:
    pdf = Attachment(filename="INV-1.pdf", content_type="application/pdf", content=b"%PDF-1.4 " + b"x" * 100)
    png = Attachment(filename="scan.png", content_type="image/png", content=b"\x89PNG" + b"x" * 5000)
    one_pdf = rule(
        attachments={
            "count": {"min": 1, "max": 1},
            "content_types": ["application/pdf"],
            "max_bytes": 1000,
            "filename_pattern": r"^INV-.*\.pdf$",
        }
    )
    assert broken(make_invoice(attachments=[pdf]), one_pdf) == []
    assert [v.message for v in broken(make_invoice(), one_pdf)] == [
        "the invoice has 0 attachment(s), 1..1 expected"
    ]
    found = broken(make_invoice(attachments=[pdf, png]), one_pdf)
    assert fields(found) == [
        "attachments",
        "attachments[1].content_type",
        "attachments[1].size",
        "attachments[1].filename",
    ]
    assert {v.category for v in found} == {RejectionCategory.ATTACHMENTS}


# --- rules that break -------------------------------------------------------------------------------------------
def test_a_runaway_pattern_blocks_the_invoice_naming_the_rule() -> None:
    evil = rule(field="po_number", pattern="(a|aa)+$")
    invoice = make_invoice(po="a" * 60 + "!")
    [violation] = broken(invoice, evil)
    assert violation.blocking and violation.rule_id == "r" and "internal rule error" in violation.message
    assert violation.category is RejectionCategory.CONFIG


def test_one_broken_rule_does_not_hide_the_others() -> None:
    compiled = compile_rules(
        [
            rule(field="po_number", pattern="(a|aa)+$"),
            Rule.model_validate({"id": "ok", "field": "contract_number", "required": True}),
        ]
    )
    violations = compiled.evaluate(make_invoice(po="a" * 60 + "!"), TODAY)
    assert {v.rule_id for v in violations} == {"r", "ok"}


# --- files: reference lists, schemas, provenance -----------------------------------------------------------------
def _profile(tmp_path: Path, rules: list[dict[str, Any]], **extra: Any) -> Path:
    spec = {
        "id": "acme-coupa",
        "buyer": "ACME",
        "connector": "coupa",
        "match": {"customer_id": ["C-1"]},
        "rules": rules,
        **extra,
    }
    path = tmp_path / "acme-coupa.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_reference_lists_from_csv_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "cost-centers.csv").write_text("code,name\nCC-1,Ops\nCC-2,Drilling\n")
    (tmp_path / "pos.yaml").write_text("values: [PO-100001, PO-100002]\n")
    path = _profile(
        tmp_path,
        [
            {"id": "cc", "field": "lines[*].cost_center", "one_of_ref": "cost_centers"},
            {"id": "po", "field": "po_number", "one_of_ref": "pos"},
        ],
        reference={
            "cost_centers": {"file": "cost-centers.csv", "column": "code"},
            "pos": {"file": "pos.yaml"},
        },
    )
    profile = load_profile(path)
    assert profile.reference == {
        "cost_centers": frozenset({"CC-1", "CC-2"}),
        "pos": frozenset({"PO-100001", "PO-100002"}),
    }
    (tmp_path / "pos.yaml").write_text("values: [PO-100001, PO-100003]\n")
    assert load_profile(path).fingerprint != profile.fingerprint  # a changed list is a changed rule set


@pytest.mark.parametrize(
    ("reference", "rules", "message"),
    [
        ({"pos": {"file": "missing.csv"}}, [], "cannot read missing.csv"),
        ({"pos": {"file": "pos.csv", "column": "nope"}}, [], "has no column 'nope'"),
        ({}, [{"id": "po", "field": "po_number", "one_of_ref": "pos"}], "no reference list 'pos'"),
    ],
)
def test_reference_problems_are_load_errors(
    tmp_path: Path, reference: dict[str, Any], rules: list[dict[str, Any]], message: str
) -> None:
    (tmp_path / "pos.csv").write_text("po\nPO-1\n")
    with pytest.raises(RulesFileError, match=message):
        load_profile(_profile(tmp_path, rules, reference=reference))


def test_origins_name_the_file_and_line_of_each_rule(tmp_path: Path) -> None:
    path = _profile(
        tmp_path, [{"id": "po", "field": "po_number", "required": True}], extends=["coupa-baseline"]
    )
    profile = load_profile(path)
    line = path.read_text().splitlines().index("- id: po") + 1
    assert profile.origins["po"] == f"{path.resolve()}:{line}"
    assert profile.origins["coupa-uom-code"].split(":")[0].endswith("rules/baselines/coupa-baseline.yaml")
    invoice = make_invoice(po=None, lines=[("P-1", "1", "ea", "1.00")])
    from rules.engine import compiled

    sources = {v.rule_id: v.source for v in compiled(profile).evaluate(invoice, TODAY)}
    assert (
        sources["po"] == profile.origins["po"]
        and sources["coupa-uom-code"] == profile.origins["coupa-uom-code"]
    )


def test_document_schema_rule(tmp_path: Path, invoice_dtd_path: Path) -> None:
    from lxml import etree

    path = _profile(tmp_path, [{"id": "dtd", "document_schema": {"dtd": str(invoice_dtd_path)}}])
    profile = load_profile(path)
    from rules.engine import compiled

    good = etree.fromstring(b"<cXML payloadID='x' timestamp='t'><Header/></cXML>")
    [violation] = compiled(profile).evaluate(make_invoice(), TODAY, good)[:1]
    assert violation.rule_id == "dtd" and violation.category is RejectionCategory.DOCUMENT
    with pytest.raises(RulesFileError, match=r"no schema file 'nope\.dtd'"):
        load_profile(_profile(tmp_path, [{"id": "dtd", "document_schema": {"dtd": "nope.dtd"}}]))
