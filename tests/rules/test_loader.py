"""Loading rules files: every problem names the file, the line, the place and what is wrong."""

from __future__ import annotations

import os
import textwrap
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.errors import ConfigError
from rules.loader import (
    BASELINES_DIR,
    Problem,
    RulesFileError,
    load_profile,
    load_profile_set,
    load_profiles,
    load_ruleset,
)

PROFILE = """\
id: {id}
buyer: ACME Manufacturing
connector: coupa
{extends}match:
  customer_id:
    - C-1001
    - C-1002
connection:
  invoice_url: https://acme.coupahost.com/cxml/invoices
  from: {{domain: DUNS, identity: "123456789"}}
  shared_secret: env:ACME_COUPA_SECRET
rules:
{rules}"""

PO_FORMAT = """\
  - id: acme-po-format
    field: po_number
    pattern: '^PO-\\d{6}$'
    message: ACME PO numbers look like PO-123456
"""


def profile_text(
    rules: str = PO_FORMAT, *, profile_id: str = "acme-coupa", extends: list[str] | None = None
) -> str:
    block = "extends:\n" + "".join(f"  - {name}\n" for name in extends) if extends else ""
    return PROFILE.format(id=profile_id, extends=block, rules=textwrap.indent(textwrap.dedent(rules), "  "))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line containing `needle` (the oracle for expected lines)."""
    hits = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} is not in the test's own YAML"
    return hits[occurrence - 1]


def problems_of(call: Any, *args: Any) -> list[Problem]:
    with pytest.raises(RulesFileError) as caught:
        call(*args)
    assert isinstance(caught.value, ConfigError)
    return caught.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


# --- one problem, precisely located --------------------------------------------------------------------------

RULE_CASES: dict[str, tuple[str, str, str, str]] = {
    # name: (rules block, needle on the expected line, expected `where` fragment, expected `what` fragment)
    "unknown key": (
        """\
        - id: acme-po-format
          field: po_number
          patern: '^PO-\\d{6}$'
        """,
        "patern:",
        "rules[0].patern",
        "unknown key",
    ),
    "invalid regex": (
        """\
        - id: acme-ok
          field: invoice_number
          required: true
        - id: acme-po-format
          field: po_number
          pattern: '^PO-(\\d{6}$'
        """,
        "pattern:",
        "rules[1].pattern",
        "not a valid regular expression",
    ),
    "unknown field path": (
        """\
        - id: acme-ok
          field: invoice_number
          required: true
        - id: acme-uom
          required: true
          field: lines[*].unit_of_mesure
        """,
        "unit_of_mesure",
        "rules[1] (acme-uom)",
        "InvoiceLine has no field 'unit_of_mesure'",
    ),
    "within_days on a non-date field": (
        """\
        - id: acme-po-recent
          field: po_number
          within_days: {past: 30}
        """,
        "within_days:",
        "rules[0] (acme-po-recent)",
        "within_days needs a date field, 'po_number' is not one",
    ),
    "XPath that does not parse": (
        """\
        - id: acme-cost-center
          required: true
          document: "//InvoiceDetailRequestHeader/Extrinsic[@name='CostCenter'"
        """,
        "document:",
        "rules[0] (acme-cost-center)",
        "is not valid",
    ),
    "XPath with an unknown namespace prefix": (
        """\
        - id: acme-cost-center
          required: true
          document: "//cxml:Extrinsic[@name='CostCenter']"
        """,
        "document:",
        "rules[0] (acme-cost-center)",
        "XPath",
    ),
    "XPath with an unknown function": (
        """\
        - id: acme-cost-center
          required: true
          document: "upper-case(//Extrinsic[@name='CostCenter'])"
        """,
        "document:",
        "rules[0] (acme-cost-center)",
        "XPath",
    ),
    "rule without any constraint": (
        """\
        - id: acme-ok
          field: invoice_number
          required: true
        - id: acme-po
          field: po_number
          message: nothing to check
        """,
        "- id: acme-po",
        "rules[1]",
        "needs at least one of: required, forbidden",
    ),
    "rule with both field and document": (
        """\
        - id: acme-po
          field: po_number
          document: //OrderReference
          required: true
        """,
        "- id: acme-po",
        "rules[0]",
        "a rule has exactly one target",
    ),
    "required false is no constraint": (
        """\
        - id: acme-po
          field: po_number
          required: false
        """,
        "- id: acme-po",
        "rules[0]",
        "needs at least one of: required, forbidden",
    ),
    "same rule id twice": (
        """\
        - id: acme-po
          field: po_number
          required: true
        - id: acme-po
          field: po_number
          pattern: PO
        """,
        "rules:",
        "rules",
        "appears twice",
    ),
}


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_rule_problem_names_file_line_place_and_what(case: str, tmp_path: Path) -> None:
    rules, needle, where, what = RULE_CASES[case]
    text = profile_text(rules)
    path = write(tmp_path, "acme-coupa.yaml", text)
    problem = only(problems_of(load_profile, path))
    assert problem.file == path.resolve()
    assert problem.line == line_of(text, needle), str(problem)
    assert where in problem.where
    assert what in problem.what
    assert str(problem).startswith(f"{path.resolve()}:{problem.line}: ")


def test_duplicate_yaml_key_points_at_the_repeat_and_the_first(tmp_path: Path) -> None:
    text = profile_text(
        """\
        - id: acme-po
          field: po_number
          required: true
          field: invoice_number
        """
    )
    path = write(tmp_path, "acme-coupa.yaml", text)
    problem = only(problems_of(load_profile, path))
    assert problem.line == line_of(text, "field: invoice_number")
    assert problem.where == "field"
    assert f"first on line {line_of(text, 'field: po_number')}" in problem.what


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    text = profile_text() + "buyer: Someone Else\n"
    path = write(tmp_path, "acme-coupa.yaml", text)
    problem = only(problems_of(load_profile, path))
    assert (problem.line, problem.where) == (line_of(text, "buyer: Someone Else"), "buyer")


@pytest.mark.parametrize(
    ("secret_line", "location"),
    [
        ('  shared_secret: "hunter2"\n', "connection.shared_secret"),
        ("  api:\n    client_id: portalhub\n    client_secret: hunter2\n", "connection.api.client_secret"),
        ("  totp_seed: hunter2\n", "connection.totp_seed"),
    ],
)
def test_literal_secret_is_located_and_never_repeated(
    secret_line: str, location: str, tmp_path: Path
) -> None:
    text = profile_text().replace("  shared_secret: env:ACME_COUPA_SECRET\n", secret_line)
    path = write(tmp_path, "acme-coupa.yaml", text)
    with pytest.raises(RulesFileError) as caught:
        load_profile(path)
    problem = only(caught.value.problems)
    assert problem.line == line_of(text, "hunter2")
    assert location in str(problem)
    assert "env:" in problem.what  # says how to reference it instead
    told = "".join(traceback.format_exception(caught.value)) + repr(caught.value.problems)
    assert "hunter2" not in told


@pytest.mark.parametrize(
    "reference", ["env:ACME_COUPA_SECRET", "file:/run/secrets/acme", "secret:acme_coupa"]
)
def test_secret_references_are_accepted(reference: str, tmp_path: Path) -> None:
    text = profile_text().replace("env:ACME_COUPA_SECRET", reference)
    profile = load_profile(write(tmp_path, "acme-coupa.yaml", text))
    assert profile.connection["shared_secret"] == reference


def test_id_must_equal_the_file_name(tmp_path: Path) -> None:
    text = profile_text(profile_id="acme-copua")
    path = write(tmp_path, "acme-coupa.yaml", text)
    problem = only(problems_of(load_profile, path))
    assert (problem.line, problem.where) == (1, "id")
    assert "'acme-copua'" in problem.what and "'acme-coupa'" in problem.what


def test_extends_of_a_missing_baseline(tmp_path: Path) -> None:
    text = profile_text(extends=["coupa-baseline", "coupa-baseline-v9"])
    path = write(tmp_path, "acme-coupa.yaml", text)
    problem = only(problems_of(load_profile, path))
    assert problem.line == line_of(text, "- coupa-baseline-v9")
    assert problem.where == "extends[1]"
    assert "'coupa-baseline-v9'" in problem.what


def test_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path, "base-a.yaml", "id: base-a\nextends:\n  - base-b\nrules: []\n")
    b_text = "id: base-b\nextends:\n  - base-a\nrules: []\n"
    b = write(tmp_path, "base-b.yaml", b_text)
    path = write(tmp_path, "acme-coupa.yaml", profile_text(extends=["base-a"]))
    problem = only(problems_of(load_profile, path))
    assert problem.file == b.resolve()
    assert problem.line == line_of(b_text, "- base-a")
    assert "cycle" in problem.what
    assert "base-a -> base-b -> base-a" in problem.what


def test_profile_extending_itself_is_a_cycle(tmp_path: Path) -> None:
    path = write(tmp_path, "acme-coupa.yaml", profile_text(extends=["acme-coupa"]))
    assert "cycle" in only(problems_of(load_profile, path)).what


def test_problem_in_a_parent_names_the_parent_file(tmp_path: Path) -> None:
    base_text = "id: acme-base\nrules:\n  - id: base-po\n    field: po_nubmer\n    required: true\n"
    base = write(tmp_path, "acme-base.yaml", base_text)
    path = write(tmp_path, "acme-coupa.yaml", profile_text(extends=["acme-base"]))
    problem = only(problems_of(load_profile, path))
    assert problem.file == base.resolve()
    assert problem.line == line_of(base_text, "po_nubmer")


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    text = profile_text() + "  - id: [unclosed\n"
    path = write(tmp_path, "acme-coupa.yaml", text)
    problem = only(problems_of(load_profile, path))
    assert problem.line is not None and problem.line >= text.count("\n") - 1
    assert "not valid YAML" in problem.what


def test_a_list_is_not_a_rules_file(tmp_path: Path) -> None:
    path = write(tmp_path, "acme-coupa.yaml", "- id: acme-coupa\n")
    assert "YAML mapping" in only(problems_of(load_profile, path)).what


def test_a_baseline_is_not_a_profile(tmp_path: Path) -> None:
    path = write(tmp_path, "acme-base.yaml", "id: acme-base\nrules: []\n")
    assert "baseline" in only(problems_of(load_profile, path)).what
    assert load_ruleset(path).id == "acme-base"


def test_connection_check_failure_points_at_the_connector(tmp_path: Path) -> None:
    text = profile_text()
    path = write(tmp_path, "acme-coupa.yaml", text)

    def refuse(connector: str, connection: dict[str, Any]) -> None:
        raise ConfigError(f"connector {connector!r} is not installed")

    problem = only(problems_of(load_profile, path, refuse))
    assert (problem.line, problem.where) == (line_of(text, "connector:"), "connector")
    assert "'coupa' is not installed" in problem.what


# --- all problems at once --------------------------------------------------------------------------------------


def test_several_schema_problems_are_reported_together(tmp_path: Path) -> None:
    text = profile_text(
        """\
        - id: acme-a
          field: po_number
          patern: x
        - id: acme-b
          field: po_number
          pattern: '(('
        """
    )
    problems = problems_of(load_profile, write(tmp_path, "acme-coupa.yaml", text))
    assert sorted(p.line for p in problems if p.line) == [
        line_of(text, "patern:"),
        line_of(text, "pattern: '(('"),
    ]


def test_id_mismatch_and_unknown_field_are_reported_together(tmp_path: Path) -> None:
    text = profile_text(
        "- id: acme-a\n  field: lines[*].unit_of_mesure\n  required: true\n", profile_id="acme"
    )
    problems = problems_of(load_profile, write(tmp_path, "acme-coupa.yaml", text))
    assert {p.line for p in problems} == {line_of(text, "id: acme"), line_of(text, "unit_of_mesure")}


def test_schema_problem_and_unknown_field_in_another_rule_are_reported_together(tmp_path: Path) -> None:
    text = profile_text(
        """\
        - id: acme-a
          field: po_number
          patern: x
        - id: acme-b
          field: lines[*].unit_of_mesure
          required: true
        """
    )
    problems = problems_of(load_profile, write(tmp_path, "acme-coupa.yaml", text))
    assert {p.line for p in problems} == {line_of(text, "patern:"), line_of(text, "unit_of_mesure")}


def test_literal_secret_and_other_problems_are_reported_together(tmp_path: Path) -> None:
    text = profile_text("- id: acme-a\n  field: po_number\n  patern: x\n").replace(
        "env:ACME_COUPA_SECRET", '"hunter2"'
    )
    with pytest.raises(RulesFileError) as caught:
        load_profile(write(tmp_path, "acme-coupa.yaml", text))
    problems = caught.value.problems
    assert {p.line for p in problems} == {line_of(text, "hunter2"), line_of(text, "patern:")}
    assert len(problems) == 2
    assert "hunter2" not in "".join(traceback.format_exception(caught.value))


# --- extends, overrides, fingerprints -----------------------------------------------------------------------


def baseline_rule_ids() -> list[str]:
    data = yaml.safe_load((BASELINES_DIR / "coupa-baseline.yaml").read_text(encoding="utf-8"))
    return [rule["id"] for rule in data["rules"]]


def test_extends_the_shipped_coupa_baseline(tmp_path: Path) -> None:
    path = write(tmp_path, "acme-coupa.yaml", profile_text(extends=["coupa-baseline"]))
    profile = load_profile(path)
    assert baseline_rule_ids(), "the shipped baseline has rules"
    assert [r.id for r in profile.rules] == [*baseline_rule_ids(), "acme-po-format"]
    assert profile.sources[0] == str(path.resolve())
    assert str((BASELINES_DIR / "coupa-baseline.yaml").resolve()) in profile.sources
    assert profile.rule("acme-po-format") is not None
    assert profile.match.customer_id == ["C-1001", "C-1002"]


def test_child_rule_with_an_inherited_id_overrides_it_in_place(tmp_path: Path) -> None:
    ids = baseline_rule_ids()
    target = "coupa-uom-code"
    assert target in ids[1:-1], "pick a rule in the middle of the baseline"
    rules = PO_FORMAT + f"  - id: {target}\n    field: lines[*].unit_of_measure\n    one_of: [EA, HUR]\n"
    profile = load_profile(
        write(tmp_path, "acme-coupa.yaml", profile_text(rules, extends=["coupa-baseline"]))
    )
    assert [r.id for r in profile.rules] == [*ids, "acme-po-format"]
    override = profile.rule(target)
    assert override is not None
    assert override.one_of == ["EA", "HUR"]
    assert override.pattern is None  # replaced, not merged


def test_disabled_rule_removes_the_inherited_one(tmp_path: Path) -> None:
    rules = PO_FORMAT + "  - {id: coupa-supplier-part, disabled: true}\n"
    profile = load_profile(
        write(tmp_path, "acme-coupa.yaml", profile_text(rules, extends=["coupa-baseline"]))
    )
    expected = [i for i in baseline_rule_ids() if i != "coupa-supplier-part"] + ["acme-po-format"]
    assert [r.id for r in profile.rules] == expected
    assert profile.rule("coupa-supplier-part") is None


def test_chained_extends_in_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        "acme-base.yaml",
        "id: acme-base\nextends: [coupa-baseline]\nrules:\n  - {id: acme-currency, field: currency, one_of: [USD]}\n",
    )
    profile = load_profile(write(tmp_path, "acme-coupa.yaml", profile_text(extends=["acme-base"])))
    assert [r.id for r in profile.rules] == [*baseline_rule_ids(), "acme-currency", "acme-po-format"]
    assert [Path(s).stem for s in profile.sources] == ["acme-coupa", "acme-base", "coupa-baseline"]


def fingerprint(tmp_path: Path, text: str) -> str:
    return load_profile(write(tmp_path, "acme-coupa.yaml", text)).fingerprint


def test_fingerprint_follows_rules_not_comments(tmp_path: Path) -> None:
    text = profile_text(extends=["coupa-baseline"])
    original = fingerprint(tmp_path, text)
    commented = "# reviewed by AR ops\n" + text.replace(
        "    field: po_number\n", "    # ACME's own format\n    field: po_number   # header PO\n"
    )
    assert commented != text
    assert fingerprint(tmp_path, commented) == original
    changed = text.replace("\\d{6}", "\\d{7}")
    assert changed != text
    assert fingerprint(tmp_path, changed) != original
    stricter = text.replace("    message: ACME", "    severity: warning\n    message: ACME")
    assert fingerprint(tmp_path, stricter) != original
    without_baseline = profile_text()
    assert fingerprint(tmp_path, without_baseline) != original


# --- a folder of profiles -----------------------------------------------------------------------------------


def test_two_profiles_matching_the_same_customer(tmp_path: Path) -> None:
    write(tmp_path, "acme-coupa.yaml", profile_text())
    other_text = profile_text(profile_id="acme-ariba").replace("    - C-1001\n", "    - C-2000\n")
    other = write(tmp_path, "acme-ariba.yaml", other_text)
    os.utime(other, (time.time() + 5, time.time() + 5))  # acme-ariba is the newcomer
    with pytest.raises(RulesFileError) as caught:
        load_profiles(tmp_path)
    problem = only(caught.value.problems)
    assert "'C-1002'" in problem.what
    assert problem.where.startswith("match.customer_id")
    # Named at the newest file (not by name order: acme-ariba sorts first), with both claims in the words.
    assert problem.file == other.resolve()
    assert "acme-coupa (" in problem.what and "acme-ariba (" in problem.what
    assert problem.line == line_of(other_text, "- C-1002")
    loaded = load_profile_set(tmp_path)
    assert set(loaded.profiles) == {"acme-coupa", "acme-ariba"} and loaded.broken == {}
    assert set(loaded.contested) == {"C-1002"} and set(loaded.contested["C-1002"].claims) == set(
        loaded.profiles
    )


def test_load_profiles_reports_every_file_and_skips_baselines(tmp_path: Path) -> None:
    write(tmp_path, "acme-base.yaml", "id: acme-base\nrules: []\n")
    bad_one = write(tmp_path, "acme-coupa.yaml", profile_text("- id: a\n  field: po_number\n  patern: x\n"))
    bad_two = write(tmp_path, "gcl-coupa.yaml", profile_text(profile_id="gcl").replace("C-100", "C-200"))
    problems = problems_of(load_profiles, tmp_path)
    assert {p.file for p in problems} == {bad_one.resolve(), bad_two.resolve()}


def test_load_profiles_of_a_good_folder(tmp_path: Path) -> None:
    write(tmp_path, "acme-base.yaml", "id: acme-base\nextends: [coupa-baseline]\nrules: []\n")
    write(tmp_path, "acme-coupa.yaml", profile_text(extends=["acme-base"]))
    write(tmp_path, "gcl-coupa.yaml", profile_text(profile_id="gcl-coupa").replace("C-100", "C-200"))
    profiles = load_profiles(tmp_path)
    assert set(profiles) == {"acme-coupa", "gcl-coupa"}
    assert profiles["gcl-coupa"].match.customer_id == ["C-2001", "C-2002"]


def test_the_shipped_example_rules_files_load(tmp_path: Path) -> None:
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "rules"
    profiles = load_profiles(folder)
    coupa = [p for p in profiles.values() if p.connector == "coupa"]
    assert coupa, "fixtures/rules has example Coupa profiles"
    for profile in coupa:
        assert {r.id for r in profile.rules} >= set(baseline_rule_ids())


def test_disabling_a_rule_nobody_defines_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "acme-coupa.yaml"
    path.write_text(
        "id: acme-coupa\nbuyer: ACME\nconnector: coupa\nextends: [coupa-baseline]\nmatch: {customer_id: [C-1]}\n"
        "rules:\n  - {id: coupa-supplier-prat, disabled: true}\n"
    )
    with pytest.raises(RulesFileError) as raised:
        load_profile(path)
    [problem] = raised.value.problems
    assert (
        problem.line == 7 and "disables 'coupa-supplier-prat', which no extended file defines" in problem.what
    )


def test_a_secret_inside_a_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "acme-coupa.yaml"
    path.write_text(
        "id: acme-coupa\nbuyer: ACME\nconnector: coupa\nmatch: {customer_id: [C-1]}\n"
        "connection:\n  fallbacks:\n    - {url: 'https://x', password: 'pa55word-in-clear'}\n"
    )
    with pytest.raises(RulesFileError) as raised:
        load_profile(path)
    assert "connection.fallbacks.0.password holds a secret" in str(raised.value)
    assert "pa55word-in-clear" not in str(raised.value)


def test_unknown_keys_and_field_names_get_a_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "acme-rules.yaml"
    path.write_text("id: acme-rules\nrules:\n  - id: r\n    field: po_number\n    requird: true\n")
    with pytest.raises(RulesFileError) as caught:
        load_ruleset(path)
    [problem] = caught.value.problems
    assert problem.line == 5 and "did you mean 'required'?" in problem.what
    path.write_text("id: acme-rules\nrules:\n  - id: r\n    field: po_numbr\n    required: true\n")
    with pytest.raises(RulesFileError) as caught:
        load_ruleset(path)
    [problem] = caught.value.problems
    assert problem.line == 4 and "did you mean 'po_number'?" in problem.what
