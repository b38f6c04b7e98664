"""The rules engine: constraints, paths with [*], messages, severities, categories, document (XPath) rules."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.model import (
    Invoice,
    InvoiceLine,
    InvoicePurpose,
    RejectionCategory,
    ServicePeriod,
    TaxLine,
    Violation,
)
from mappings.cxml_invoice import Credential, CxmlEnvelope, render
from mappings.xml_safety import parse_untrusted
from rules.engine import evaluate, evaluate_document
from rules.loader import BASELINES_DIR, load_ruleset
from rules.schema import Rule
from tests.factories import T0, make_invoice

TODAY = T0.date()
C = RejectionCategory
INVOICE = make_invoice(
    "INV-1042",
    lines=(
        ("BRG-6205", "10", "EA", "12.50"),
        ("SEAL-22", "5", "EA", "4.20"),
        ("SVC-FIELD", "2", "HUR", "95.00"),
    ),
    tax_rate="8.25",
)
ENVELOPE = CxmlEnvelope(
    payload_id="engine@portalhub.test",
    timestamp=T0,
    sender=Credential("DUNS", "123456789"),
    from_=Credential("DUNS", "123456789"),
    to=Credential("DUNS", "987654321"),
    shared_secret="placeholder",
)


def rule(**spec: Any) -> Rule:
    spec.setdefault("id", "r")
    return Rule.model_validate(spec)


def check(invoice: Invoice, *rules: Rule, today: date = TODAY) -> list[Violation]:
    return evaluate(invoice, list(rules), today)


def with_(invoice: Invoice = INVOICE, **changes: Any) -> Invoice:
    """A variant of the invoice without re-validation: the engine must cope with whatever it is given."""
    return invoice.model_copy(update=changes)


def with_line(index: int, invoice: Invoice = INVOICE, **changes: Any) -> Invoice:
    lines = list(invoice.lines)
    lines[index] = lines[index].model_copy(update=changes)
    return with_(invoice, lines=lines)


# --- constraints ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", [None, ""])
def test_required_fails_on_absent_or_blank(missing: str | None) -> None:
    [violation] = check(with_(po_number=missing), rule(id="po-required", field="po_number", required=True))
    assert (violation.rule_id, violation.field, violation.value) == ("po-required", "po_number", missing)
    assert "po_number" in violation.message
    assert violation.blocking


def test_required_passes_on_a_value() -> None:
    assert check(INVOICE, rule(field="po_number", required=True)) == []


def test_pattern_has_search_semantics() -> None:
    assert check(with_(po_number="XPO-1"), rule(field="po_number", pattern="PO-")) == []
    [violation] = check(with_(po_number="XPO-123456"), rule(field="po_number", pattern=r"^PO-\d{6}$"))
    assert violation.value == "XPO-123456"
    assert r"^PO-\d{6}$" in violation.message  # the default message shows the regex intact, braces included


def test_one_of() -> None:
    one_of = rule(field="currency", one_of=["USD", "CAD"])
    assert check(INVOICE, one_of) == []
    [violation] = check(with_(currency="EUR"), one_of)
    assert violation.value == "EUR"
    assert "USD" in violation.message and "CAD" in violation.message


def test_one_of_on_an_enum_compares_its_value() -> None:
    invoices_only = rule(field="purpose", one_of=["invoice"])
    assert check(INVOICE, invoices_only) == []
    [violation] = check(with_(purpose=InvoicePurpose.CREDIT_MEMO), invoices_only)
    assert "credit_memo" in violation.describe()


@pytest.mark.parametrize(
    ("number", "violated"),
    [("INV", False), ("INV-1234", False), ("IN", True), ("INV-12345", True)],
)
def test_length_bounds_are_inclusive(number: str, violated: bool) -> None:
    violations = check(
        with_(invoice_number=number), rule(field="invoice_number", length={"min": 3, "max": 8})
    )
    assert bool(violations) is violated


@pytest.mark.parametrize(
    ("quantity", "violated"),
    [
        (Decimal("100"), False),
        (Decimal("100.000"), False),
        (Decimal("100.001"), True),
        (Decimal("0.001"), False),
    ],
)
def test_max_compares_decimals_exactly(quantity: Decimal, violated: bool) -> None:
    invoice = with_line(1, quantity=quantity)
    violations = check(invoice, rule(field="lines[*].quantity", max=100))
    assert [v.field for v in violations] == (["lines[1].quantity"] if violated else [])


def test_min_given_as_a_yaml_float_is_the_decimal_written() -> None:
    # YAML gives 0.1 as a float; the rule must mean Decimal("0.1"), not 0.1000000000000000055...
    minimum = rule(field="total", min=0.1)
    assert minimum.min == Decimal("0.1")
    assert check(with_(total=Decimal("0.1")), minimum) == []
    assert len(check(with_(total=Decimal("0.09")), minimum)) == 1


@pytest.mark.parametrize("bound", ["min", "max"])
def test_zero_is_a_constraint(bound: str) -> None:
    # "total: min 0" (no negative invoices) and "max 0" (credit memos) are natural rules.
    zero = rule(field="total", **{bound: 0})
    positive, negative = with_(total=Decimal("5")), with_(total=Decimal("-5"))
    violating = negative if bound == "min" else positive
    fine = positive if bound == "min" else negative
    assert check(fine, zero) == []
    [violation] = check(violating, zero)
    assert violation.value == str(violating.total)


def test_min_on_a_text_that_is_no_number() -> None:
    [violation] = check(with_(po_number="PO-1"), rule(field="po_number", min=5))
    assert "number" in violation.message


@pytest.mark.parametrize(
    ("offset", "violated"),
    [(-3, True), (-2, False), (0, False), (1, True)],
)
def test_within_days_counts_from_the_today_passed_in(offset: int, violated: bool) -> None:
    no_backdating = rule(field="invoice_date", within_days={"past": 2, "future": 0})
    day = TODAY + timedelta(days=offset)
    violations = check(with_(invoice_date=day), no_backdating)
    assert bool(violations) is violated
    # the same date seen from another day gives the verdict of that day
    assert bool(check(with_(invoice_date=day), no_backdating, today=day)) is False
    if violated:
        assert violations[0].value == day.isoformat()
        assert violations[0].category is C.DATES
        assert str(TODAY) in violations[0].message


def test_within_days_on_nested_dates() -> None:
    period = ServicePeriod(start=TODAY - timedelta(days=200), end=TODAY - timedelta(days=190))
    invoice = with_line(2, service_period=period)
    [violation] = check(invoice, rule(field="lines[*].service_period.start", within_days={"past": 90}))
    assert violation.field == "lines[2].service_period.start"


# --- paths ---------------------------------------------------------------------------------------------------


def test_star_over_lines_names_the_concrete_line() -> None:
    invoice = with_line(1, unit_of_measure="each")
    [violation] = check(invoice, rule(id="uom", field="lines[*].unit_of_measure", pattern="^[A-Z0-9]{2,3}$"))
    assert (violation.field, violation.value) == ("lines[1].unit_of_measure", "each")


def test_star_over_nested_taxes() -> None:
    taxes = [TaxLine(category="sales", amount=Decimal("0.35")), TaxLine(category="vat", amount=Decimal("0"))]
    invoice = with_line(1, taxes=taxes)
    violations = check(invoice, rule(field="lines[*].taxes[*].category", one_of=["sales"]))
    assert [(v.field, v.value) for v in violations] == [("lines[1].taxes[1].category", "vat")]


def test_every_failing_element_is_reported() -> None:
    invoice = with_line(0, supplier_part_id=None)
    invoice = with_line(2, invoice, supplier_part_id="")
    violations = check(invoice, rule(field="lines[*].supplier_part_id", required=True))
    assert [v.field for v in violations] == ["lines[0].supplier_part_id", "lines[2].supplier_part_id"]


def test_fixed_index_beyond_the_list_is_absent() -> None:
    [violation] = check(INVOICE, rule(field="lines[5].supplier_part_id", required=True))
    assert (violation.field, violation.value) == ("lines[5].supplier_part_id", None)
    assert check(INVOICE, rule(field="lines[5].supplier_part_id", pattern="^X")) == []


def test_star_over_an_empty_list_checks_nothing() -> None:
    invoice = make_invoice()  # no taxes at all
    assert check(invoice, rule(field="lines[*].taxes[*].amount", required=True)) == []
    [violation] = check(invoice, rule(field="attachments", required=True))
    assert violation.field == "attachments"


@pytest.mark.parametrize(
    ("field", "constraint"),
    [
        ("po_number", {"pattern": "^PO-"}),
        ("po_number", {"one_of": ["PO-1"]}),
        ("po_number", {"length": {"min": 3}}),
        ("po_number", {"min": 1}),
        ("due_date", {"within_days": {"past": 0, "future": 0}}),
        ("supplier.remit_to.name", {"pattern": "^X"}),
        ("lines[*].cost_center", {"one_of": ["CC-1"]}),
        ("extrinsics.CostCenter", {"pattern": "^CC-"}),
    ],
)
def test_absent_values_only_fail_required(field: str, constraint: dict[str, Any]) -> None:
    invoice = with_(po_number=None)
    assert check(invoice, rule(field=field, **constraint)) == []
    violations = check(invoice, rule(field=field, required=True, **constraint))
    assert violations and all(v.value is None for v in violations)


def test_missing_record_on_the_way_gives_the_full_path() -> None:
    [violation] = check(INVOICE, rule(field="supplier.remit_to.name", required=True))
    assert violation.field == "supplier.remit_to.name"


def test_extrinsics_by_name() -> None:
    cost_center = rule(field="extrinsics.CostCenter", required=True, pattern=r"^CC-\d{4}$")
    assert len(check(INVOICE, cost_center)) == 1
    assert check(with_(extrinsics={"CostCenter": "CC-7700"}), cost_center) == []
    [violation] = check(with_(extrinsics={"CostCenter": "7700"}), cost_center)
    assert (violation.field, violation.value) == ("extrinsics.CostCenter", "7700")


# --- wording --------------------------------------------------------------------------------------------------


def test_message_and_hint_placeholders() -> None:
    po_format = rule(
        field="po_number",
        pattern=r"^PO-\d{6}$",
        message=r"{field} must look like PO-123456 (regex ^PO-\d{6}$, {unknown} stays), found '{value}'",
        hint="Copy {field} from the PO; '{value}' is not one",
    )
    [violation] = check(with_(po_number="P-77"), po_format)
    assert (
        violation.message
        == r"po_number must look like PO-123456 (regex ^PO-\d{6}$, {unknown} stays), found 'P-77'"
    )
    assert violation.hint == "Copy po_number from the PO; 'P-77' is not one"


def test_placeholders_with_concrete_paths_and_decimals() -> None:
    cap = rule(field="lines[*].unit_price", max=50, message="{field} is {value}, above 50")
    [violation] = check(INVOICE, cap)
    assert violation.message == "lines[2].unit_price is 95.00, above 50"
    assert violation.value == "95.00"


def test_value_placeholder_of_an_absent_value_is_empty() -> None:
    [violation] = check(
        with_(po_number=None), rule(field="po_number", required=True, message="PO '{value}' missing")
    )
    assert violation.message == "PO '' missing"
    assert "(found missing)" in violation.describe()


def test_describe_names_rule_field_and_value() -> None:
    [violation] = check(with_(currency="EUR"), rule(id="acme-usd", field="currency", one_of=["USD"]))
    described = violation.describe()
    assert described.startswith("[acme-usd] currency: ")
    assert "'EUR'" in described


@pytest.mark.parametrize(("severity", "blocking"), [("error", True), ("warning", False)])
def test_severity(severity: str, blocking: bool) -> None:
    [violation] = check(with_(po_number=None), rule(field="po_number", required=True, severity=severity))
    assert violation.severity == severity
    assert violation.blocking is blocking


def test_default_severity_is_error() -> None:
    assert rule(field="po_number", required=True).severity == "error"


@pytest.mark.parametrize(
    ("spec", "invoice", "category"),
    [
        ({"field": "po_number", "required": True}, with_(po_number=None), C.PO),
        ({"field": "contract_number", "required": True}, INVOICE, C.PO),
        ({"field": "lines[*].po_line_number", "required": True}, with_line(0, po_line_number=None), C.PO),
        ({"field": "supplier.tax_id", "pattern": "^X"}, INVOICE, C.TAX),
        ({"field": "lines[*].unit_of_measure", "one_of": ["KGM"]}, INVOICE, C.PRICE_QUANTITY),
        ({"field": "lines[*].quantity", "max": 1}, INVOICE, C.PRICE_QUANTITY),
        ({"field": "lines[*].unit_price", "max": 1}, INVOICE, C.PRICE_QUANTITY),
        (
            {"field": "invoice_date", "within_days": {"future": 0}},
            with_(invoice_date=TODAY + timedelta(9)),
            C.DATES,
        ),
        ({"field": "due_date", "required": True}, INVOICE, C.DATES),
        ({"field": "attachments", "required": True}, INVOICE, C.ATTACHMENTS),
        ({"field": "buyer.email", "required": True}, INVOICE, C.MISSING_FIELD),
        ({"field": "buyer.name", "pattern": "^X"}, INVOICE, C.OTHER),
        ({"field": "buyer.name", "pattern": "^X", "category": "duplicate"}, INVOICE, C.DUPLICATE),
        ({"field": "po_number", "required": True, "category": "config"}, with_(po_number=None), C.CONFIG),
    ],
)
def test_categories(spec: dict[str, Any], invoice: Invoice, category: RejectionCategory) -> None:
    violations = check(invoice, rule(**spec))
    assert violations
    assert {v.category for v in violations} == {category}


# --- document rules ------------------------------------------------------------------------------------------

CONTRACT_INVOICE = make_invoice("INV-2", po=None, contract_number="MSA-1")
NO_REFERENCE_INVOICE = make_invoice("INV-3", po=None)


def doc_check(invoice: Invoice, *rules: Rule) -> list[Violation]:
    return evaluate_document(parse_untrusted(render(invoice, ENVELOPE)), list(rules))


def test_structural_element_presence() -> None:
    order_reference = rule(id="po-ref", document="//InvoiceDetailOrderInfo/OrderReference", required=True)
    assert doc_check(INVOICE, order_reference) == []
    [violation] = doc_check(CONTRACT_INVOICE, order_reference)
    assert violation.field == "//InvoiceDetailOrderInfo/OrderReference"
    assert violation.value is None
    assert violation.category is C.PO


def test_shipped_coupa_baseline_po_or_contract() -> None:
    baseline = load_ruleset(BASELINES_DIR / "coupa-baseline.yaml")
    po_or_contract = next(r for r in baseline.rules if r.id == "coupa-po-or-contract")
    assert doc_check(INVOICE, po_or_contract) == []
    assert doc_check(CONTRACT_INVOICE, po_or_contract) == []  # MasterAgreementIDInfo is attributes only
    [violation] = doc_check(NO_REFERENCE_INVOICE, po_or_contract)
    assert violation.category is C.PO


def test_attribute_values() -> None:
    standard_only = rule(document="//InvoiceDetailRequestHeader/@purpose", one_of=["standard"])
    assert doc_check(INVOICE, standard_only) == []
    credit = make_invoice(
        "CM-1", lines=(("BRG-6205", "-1", "EA", "12.50"),), purpose=InvoicePurpose.CREDIT_MEMO
    )
    [violation] = doc_check(credit, standard_only)
    assert violation.value == "creditMemo"


def test_text_values_one_violation_per_failing_node() -> None:
    uom = rule(document="//InvoiceDetailItem/UnitOfMeasure", one_of=["EA"])
    violations = doc_check(INVOICE, uom)
    assert [v.value for v in violations] == ["HUR"]
    assert violations[0].category is C.PRICE_QUANTITY


def test_missing_header_extrinsic_is_a_required_violation() -> None:
    cost_center = rule(document="//InvoiceDetailRequestHeader/Extrinsic[@name='CostCenter']", required=True)
    [violation] = doc_check(INVOICE, cost_center)
    assert violation.value is None
    assert violation.category is C.MISSING_FIELD
    assert doc_check(with_(extrinsics={"CostCenter": "CC-7700"}), cost_center) == []


def test_blank_header_extrinsic_does_not_satisfy_required() -> None:
    cost_center = rule(document="//InvoiceDetailRequestHeader/Extrinsic[@name='CostCenter']", required=True)
    assert len(doc_check(with_(extrinsics={"CostCenter": ""}), cost_center)) == 1


def test_pattern_on_a_document_value() -> None:
    cost_center = rule(
        document="//InvoiceDetailRequestHeader/Extrinsic[@name='CostCenter']", pattern=r"^CC-\d{4}$"
    )
    assert doc_check(with_(extrinsics={"CostCenter": "CC-7700"}), cost_center) == []
    [violation] = doc_check(with_(extrinsics={"CostCenter": "7700"}), cost_center)
    assert violation.value == "7700"
    assert doc_check(INVOICE, cost_center) == []  # absent: only `required` fails


def test_xpath_functions_numbers_strings_booleans() -> None:
    at_most_two_lines = rule(document="count(//InvoiceDetailItem)", max=2)
    [violation] = doc_check(INVOICE, at_most_two_lines)
    assert Decimal(violation.value) == 3
    assert doc_check(make_invoice(), at_most_two_lines) == []
    has_order = rule(document="boolean(//OrderReference)", required=True)
    assert doc_check(INVOICE, has_order) == []
    assert len(doc_check(CONTRACT_INVOICE, has_order)) == 1
    number = rule(document="string(//InvoiceDetailRequestHeader/@invoiceID)", pattern="^INV-1042$")
    assert doc_check(INVOICE, number) == []
    assert len(doc_check(make_invoice("INV-9"), number)) == 1


def test_field_and_document_rules_are_evaluated_by_their_own_function() -> None:
    field_rule = rule(id="f", field="po_number", required=True)
    document_rule = rule(id="d", document="//OrderReference", required=True)
    assert [v.rule_id for v in check(CONTRACT_INVOICE, field_rule, document_rule)] == ["f"]
    assert [v.rule_id for v in doc_check(CONTRACT_INVOICE, field_rule, document_rule)] == ["d"]


def test_disabled_rules_do_nothing() -> None:
    off = Rule(id="off", disabled=True)
    assert check(INVOICE, off) == []
    assert doc_check(INVOICE, off) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"document": "//InvoiceDetailRequestHeader/@invoiceDate", "within_days": {"past": 2}},
        {"field": "po_number", "document": "//OrderReference", "required": True},
        {"field": "po_number"},
        {"field": "po_number", "required": False},
        {"required": True},
        {"field": "po_number", "pattern": "(["},
        {"field": "po_number", "required": True, "severity": "fatal"},
        {"field": "po_number", "required": True, "id": "Has Spaces"},
    ],
)
def test_malformed_rules_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        rule(**spec)


# --- properties against independent oracles ---------------------------------------------------------------------

atoms = st.sampled_from(["a", "b", "ab", ".", r"\d", "[a-c]", "[^a]", r"\s", "ä", "(a|1)", r"\.", "(?:ab)"])
quantifiers = st.sampled_from(["", "*", "+", "?", "{1,3}", "{2}", "*?"])
patterns = st.builds(
    lambda start, parts, end: start + "".join(atom + quantifier for atom, quantifier in parts) + end,
    st.sampled_from(["", "^", "(?i)"]),
    st.lists(st.tuples(atoms, quantifiers), min_size=1, max_size=4),
    st.sampled_from(["", "$"]),
)
values = st.text(st.sampled_from("abcA1ä. \t\n"), max_size=8) | st.text(max_size=8)


@given(pattern=patterns, value=values)
def test_pattern_verdict_is_re_search(pattern: str, value: str) -> None:
    violations = check(with_(po_number=value), rule(field="po_number", pattern=pattern))
    expected = value != "" and re.search(pattern, value) is None
    assert bool(violations) is expected


@given(
    today=st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 1, 1)),
    offset=st.integers(-400, 400),
    past=st.none() | st.integers(0, 365),
    future=st.none() | st.integers(0, 365),
)
def test_within_days_verdict_matches_a_day_count(
    today: date, offset: int, past: int | None, future: int | None
) -> None:
    assume(past is not None or future is not None)  # an empty window is refused when the file loads
    day = date.fromordinal(today.toordinal() + offset)
    window = rule(field="invoice_date", within_days={"past": past, "future": future})
    violations = check(with_(invoice_date=day), window, today=today)
    too_old = past is not None and offset < -past
    too_new = future is not None and offset > future
    assert bool(violations) is (too_old or too_new)


amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=4)


@given(total=amounts, low=st.none() | amounts, high=st.none() | amounts)
def test_min_max_verdict_matches_decimal_comparison(
    total: Decimal, low: Decimal | None, high: Decimal | None
) -> None:
    assume(low is not None or high is not None)
    violations = check(with_(total=total), rule(field="total", min=low, max=high))
    expected = (low is not None and total < low) or (high is not None and total > high)
    assert bool(violations) is expected


def test_a_line_invoice_built_by_the_model_passes_the_shipped_baseline_field_rules() -> None:
    baseline = load_ruleset(BASELINES_DIR / "coupa-baseline.yaml")
    assert check(INVOICE, *baseline.rules) == []
    bad_line = InvoiceLine(
        line_number=9,
        description="misc",
        quantity=Decimal(1),
        unit_of_measure="each",
        unit_price=Decimal(1),
        amount=Decimal(1),
    )
    invoice = with_(lines=[*INVOICE.lines, bad_line])
    assert {(v.rule_id, v.field) for v in check(invoice, *baseline.rules)} == {
        ("coupa-supplier-part", "lines[3].supplier_part_id"),
        ("coupa-uom-code", "lines[3].unit_of_measure"),
    }


# --- a profile's compiled rules over many invoices ------------------------------------------------------------
# Compiled rules remember the values they passed (rules/memo.py) and skip rules that cannot find
# anything: over any stream of invoices they must find exactly what each rule alone finds on each one.
REUSED_RULES = [
    rule(id="part", field="lines[*].supplier_part_id", pattern=r"^[A-Z]+-\d+$", required=True),
    rule(id="uom", field="lines[*].unit_of_measure", one_of=["EA", "HUR"]),
    rule(
        id="svc",
        field="lines[*].description",
        length={"min": 4},
        when={"field": "lines[*].unit_of_measure", "in": ["HUR"]},
    ),
    rule(id="uom-code", field="lines[*].unit_of_measure", pattern="^[A-Z]{2}$"),
    rule(id="price", field="lines[*].unit_price", min="1.00", max="50"),
    rule(id="price-text", field="lines[*].unit_price", pattern=r"\.\d\d$"),
    rule(id="line-amount", field="lines[*].amount", min="1.00"),
    rule(id="line-amount-cap", field="lines[*].amount", max="100"),
    rule(id="dated", field="invoice_date", within_days={"past": 3, "future": 0}),
    rule(id="dated-later", field="invoice_date", within_days={"past": 5, "future": 1}),
    rule(id="due", field="due_date", within_days={"future": 5, "of": "invoice_date"}),
    rule(id="parts-unique", field="lines[*].supplier_part_id", unique=True),
    rule(
        id="credit-original",
        field="original_invoice_number",
        required=True,
        when={"field": "purpose", "equals": "credit_memo"},
    ),
    rule(id="credit-total", field="total", max="0", when={"field": "purpose", "equals": "credit_memo"}),
]
line_values = st.tuples(
    st.sampled_from(["BRG-6205", "SEAL-22", "seal", "", None]),
    st.sampled_from(["EA", "HUR", "KGM"]),
    st.sampled_from(["Bearing", "Job", "x"]),
    st.sampled_from([Decimal("12.50"), Decimal("12.5"), Decimal("0.50"), Decimal("75")]),
)


def one_by_one(invoice: Invoice, today: date) -> list[Violation]:
    """Each of REUSED_RULES freshly compiled and run alone: no rule skipped because its group passed
    or its condition does not hold, nothing remembered from another invoice."""
    from rules.engine import _Run, compile_rules

    found: list[Violation] = []
    for single in REUSED_RULES:
        for _, _, run in compile_rules([single]).evaluators:
            found.extend(run(_Run(invoice, today, None)))
    return found


@given(
    stream=st.lists(
        st.tuples(
            st.lists(line_values, min_size=1, max_size=4),
            st.integers(-6, 2),  # invoice date from today
            st.integers(0, 8),  # due date from the invoice date
            st.integers(0, 2),  # today moves on
            st.sampled_from([InvoicePurpose.INVOICE, InvoicePurpose.CREDIT_MEMO]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_compiled_rules_find_on_every_invoice_what_fresh_rules_find(
    stream: list[tuple[list[tuple[str | None, str, str, Decimal]], int, int, int, InvoicePurpose]],
) -> None:
    from rules.engine import compile_rules

    reused = compile_rules(REUSED_RULES)
    today = TODAY
    for lines, dated, due, moved, purpose in stream:
        today += timedelta(days=moved)
        invoice_date = today + timedelta(days=dated)
        invoice = with_(
            purpose=purpose,
            invoice_date=invoice_date,
            due_date=invoice_date + timedelta(days=due),
            lines=[
                INVOICE.lines[0].model_copy(
                    update={
                        "line_number": n + 1,
                        "supplier_part_id": part,
                        "unit_of_measure": uom,
                        "description": description,
                        "unit_price": price,
                        "amount": price * 2,
                    }
                )
                for n, (part, uom, description, price) in enumerate(lines)
            ],
        )
        found = {(v.rule_id, v.field, str(v.value)) for v in reused.evaluate(invoice, today)}
        assert found == {(v.rule_id, v.field, str(v.value)) for v in one_by_one(invoice, today)}


def test_a_value_that_passed_is_checked_again_when_the_day_moves() -> None:
    from rules.engine import compile_rules

    reused = compile_rules([rule(id="dated", field="invoice_date", within_days={"past": 3, "future": 0})])
    assert reused.evaluate(INVOICE, INVOICE.invoice_date) == []
    late = reused.evaluate(INVOICE, INVOICE.invoice_date + timedelta(days=4))
    assert [v.rule_id for v in late] == ["dated"]
