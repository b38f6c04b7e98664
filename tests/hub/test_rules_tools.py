"""`portalhub rules ...` end to end: shipped examples, the JSON Schema, suggestions from real portal
rejections, explanations, and a broken rules file that must not stop the hub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from cli import app
from hub.demo import DemoWorkspace, prepare, run_until_settled
from hub.model import Invoice, InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.registry import ConnectorRegistry
from hub.rules_tools import check, run_tests, suggest_for
from hub.services import status_summary, timeline
from rules.loader import RulesFileError, load_profiles
from tests.factories import ListAr, make_hub, make_invoice, profile_yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "rules" / "baselines", ROOT / "fixtures" / "rules"]
runner = CliRunner()


def test_every_shipped_rules_file_proves_its_rules() -> None:
    results = run_tests(SHIPPED, ConnectorRegistry())
    failed = [(r.file, r.name, r.problems) for r in results if not r.passed]
    assert failed == []
    files = {Path(r.file).name for r in results}
    assert {"coupa-baseline.yaml", "ariba-baseline.yaml", "pidx-baseline.yaml", "acme-coupa.yaml"} <= files


def test_rules_test_cli_fails_on_a_wrong_example(tmp_path: Path) -> None:
    bad = tmp_path / "acme-coupa.yaml"
    spec = profile_yaml("http://x.invalid", rules=[{"id": "po", "field": "po_number", "pattern": "^PO-"}])
    spec["examples"] = [
        {
            "name": "claims a failure",
            "invoice": str(ROOT / "rules/baselines/examples/po-invoice.json"),
            "fails": ["po"],
        }
    ]
    bad.write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["rules", "test", str(bad)])
    assert result.exit_code == 1 and "should fail po but passes it" in result.stdout
    assert runner.invoke(app, ["rules", "test"]).exit_code == 0  # the shipped baselines


def as_editor_sees(path: Path) -> object:
    # An editor's YAML language server hands the schema plain strings for dates.
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


def test_json_schema_accepts_the_shipped_files_and_catches_typos() -> None:
    result = runner.invoke(app, ["rules", "schema"])
    schema = json.loads(result.stdout)
    for path in (ROOT / "fixtures" / "rules").glob("*.yaml"):
        jsonschema.validate(as_editor_sees(path), schema)
    typo = as_editor_sees(ROOT / "fixtures" / "rules" / "acme-coupa.yaml")
    assert isinstance(typo, dict)
    typo["rules"][0]["requird"] = True
    with pytest.raises(jsonschema.ValidationError, match="requird"):
        jsonschema.validate(typo, schema)
    baseline = json.loads(runner.invoke(app, ["rules", "schema", "--baseline"]).stdout)
    jsonschema.validate(as_editor_sees(ROOT / "rules/baselines/coupa-baseline.yaml"), baseline)


def test_a_broken_rules_file_holds_its_customers_and_the_others_go_on(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    ar = ListAr()
    ar.add(make_invoice("INV-1", customer="C-1"))
    ar.add(make_invoice("INV-2", customer="C-2"))
    good = profile_yaml(coupa.server.url)
    other = profile_yaml(coupa.server.url, profile_id="other-coupa", customers=("C-2",))
    hub = make_hub(tmp_path, coupa.server.url, ar=ar, profiles=[good, other])
    broken_file = tmp_path / "rules.d" / "other-coupa.yaml"
    broken_file.write_text(
        broken_file.read_text().replace("rules: []", "rules:\n- id: x\n  field: po_numbr\n  required: true")
    )
    hub.reload_profiles()
    assert set(hub.profiles) == {"acme-coupa"} and str(broken_file) in hub.broken_profiles
    ingest(hub)
    submit_profile(hub, hub.profile("acme-coupa"))
    assert timeline(hub, "INV-1")["invoice"]["state"] == InvoiceState.SUBMITTED
    held = timeline(hub, "INV-2")["invoice"]
    assert (
        held["state"] == InvoiceState.BLOCKED
        and "does not load" in held["reason"]
        and "po_numbr" in held["reason"]
    )
    [(file, problems)] = status_summary(hub)["broken_rules_files"].items()
    assert file == str(broken_file) and "po_numbr" in problems[0]
    broken_file.write_text(yaml.safe_dump(other))  # AR operations fix the file
    ingest(hub)  # notices the change, reloads, checks the held invoice again
    assert timeline(hub, "INV-2")["invoice"]["state"] == InvoiceState.READY
    assert status_summary(hub)["broken_rules_files"] == {}
    ready = [e for e in timeline(hub, "INV-2")["events"] if e["to"] == "READY"][-1]
    assert ready["reason"].startswith("passed pre-flight for other-coupa")
    hub.close()


@pytest.fixture(scope="module")
def settled_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorkspace]:
    workspace = prepare(tmp_path_factory.mktemp("suggest"))
    run_until_settled(workspace)
    yield workspace
    workspace.close()


def test_suggestions_learn_the_buyers_unwritten_rules(settled_demo: DemoWorkspace) -> None:
    gcl = suggest_for(settled_demo.hub, "gcl-coupa")
    backdating = next(s for s in gcl.suggestions if "back-dated" in s.title)
    assert sorted(n for n, _ in backdating.evidence) == ["INV-24207", "INV-24208"]
    assert "within_days: {past: 2, future: 0}" in backdating.snippet
    assert gcl.rejected_by_portal == 4 and gcl.caught_share == 0.0
    acme = suggest_for(settled_demo.hub, "acme-coupa")
    po = next(s for s in acme.suggestions if s.title.startswith("po_number"))
    assert [n for n, _ in po.evidence] == ["INV-24016"]
    assert po.reference_file is not None and "PO-100101" in po.reference_file[1]
    assert acme.blocked_before_sending == 2


def test_suggest_cli(settled_demo: DemoWorkspace) -> None:
    result = runner.invoke(
        app, ["--config", str(settled_demo.config_path), "rules", "suggest", "--profile", "gcl-coupa"]
    )
    assert result.exit_code == 0
    assert "pre-flight caught 0, the portal rejected 4" in result.stdout and "INV-24207" in result.stdout


def test_explanations_name_the_rule_its_file_and_what_was_expected(settled_demo: DemoWorkspace) -> None:
    result = runner.invoke(
        app, ["--config", str(settled_demo.config_path), "validate", "INV-24015", "--json"]
    )
    [violation] = json.loads(result.stdout)["violations"]
    assert violation["rule_id"] == "acme-po-format" and violation["expected"] == r"matching ^PO-\d{6}$"
    assert violation["source"].endswith(
        "rules.d/acme-coupa.yaml:" + str(_line_of(settled_demo, "acme-coupa.yaml", "- id: acme-po-format"))
    )
    shown = runner.invoke(app, ["--config", str(settled_demo.config_path), "show", "INV-24020"]).stdout
    assert (
        "coupa-supplier-part" in shown
        and "coupa-baseline.yaml" in shown
        and "Give every line the part number" in shown
    )
    rows = json.loads(
        runner.invoke(app, ["--config", str(settled_demo.config_path), "rejections", "--json"]).stdout
    )
    blocked = next(r for r in rows if r["invoice_number"] == "INV-24114")
    assert blocked["rules"][0]["rule_id"] == "coupa-uom-code" and blocked["rules"][0]["value"] == "gll"


def _line_of(workspace: DemoWorkspace, name: str, needle: str) -> int:
    lines = (workspace.root / "rules.d" / name).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.strip() == needle)


def test_rules_check_warns_when_a_coupa_profile_cannot_read_statuses(tmp_path: Path) -> None:
    blind = profile_yaml("http://x.invalid", profile_id="blind-coupa", with_api=False)
    blind["match"] = {"customer_id": ["C-2"]}
    (tmp_path / "blind-coupa.yaml").write_text(yaml.safe_dump(blind))
    (tmp_path / "acme-coupa.yaml").write_text(yaml.safe_dump(profile_yaml("http://x.invalid")))
    result = runner.invoke(app, ["rules", "check", "--json", str(tmp_path)])
    assert result.exit_code == 0, result.stdout
    warnings = [w for w in json.loads(result.stdout)["warnings"] if "`api`" in w]
    assert len(warnings) == 1 and "blind-coupa.yaml" in warnings[0]
    assert "connection has no `api`: Coupa statuses cannot be read" in warnings[0]
    strict = runner.invoke(app, ["rules", "check", "--strict", str(tmp_path / "blind-coupa.yaml")])
    assert strict.exit_code == 1


def test_rules_check_and_the_loader_say_the_same_about_a_customer_two_profiles_claim(tmp_path: Path) -> None:
    (tmp_path / "acme-coupa.yaml").write_text(yaml.safe_dump(profile_yaml("http://x.invalid")))
    other = profile_yaml("http://x.invalid", profile_id="acme-second")  # the same customer, C-1
    (tmp_path / "acme-second.yaml").write_text(yaml.safe_dump(other))
    with pytest.raises(RulesFileError) as loading:
        load_profiles(tmp_path, ConnectorRegistry().check_connection)
    [loaded] = loading.value.problems
    assert "'C-1' is matched by several profiles: acme-coupa (" in loaded.what
    [checked] = check([tmp_path], ConnectorRegistry(), date(2026, 11, 20)).problems
    assert str(checked) == str(loaded)


def test_check_finds_a_profile_forbidding_every_way_to_the_baselines_order_reference(tmp_path: Path) -> None:
    spec = profile_yaml("http://x.invalid")
    spec["rules"] = [
        {"id": "no-po", "field": "po_number", "forbidden": True},
        {"id": "no-contract", "field": "contract_number", "forbidden": True},
    ]
    path = tmp_path / "acme-coupa.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = runner.invoke(app, ["rules", "check", str(path), "--json"])
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    lines = path.read_text().splitlines()
    line = {
        rid: next(n for n, t in enumerate(lines, 1) if t == f"- id: {rid}")
        for rid in ("no-po", "no-contract")
    }
    assert problem.startswith(f"{path}:{line['no-contract']}:")
    assert f"no-po ({path}:{line['no-po']}) forbids po_number" in problem
    assert f"no-contract ({path}:{line['no-contract']}) forbids contract_number" in problem
    assert "coupa-po-or-contract (" in problem and "coupa-baseline.yaml:" in problem
    # forbidding only the PO leaves the contract: no contradiction
    spec["rules"] = spec["rules"][:1]
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert json.loads(runner.invoke(app, ["rules", "check", str(path), "--json"]).stdout)["problems"] == []


def test_rules_schema_describes_completes_and_types_every_key() -> None:
    from rules.editor_schema import model_paths, undescribed
    from rules.paths import parse

    schema = json.loads(runner.invoke(app, ["rules", "schema"]).stdout)
    assert undescribed(schema) == []  # every key, connection keys included, has a description and an example
    # `field` completes from the canonical model's paths (every one of which the loader accepts)
    field = schema["$defs"]["Rule"]["properties"]["field"]
    enum = field["anyOf"][0]["enum"]
    assert {"po_number", "lines[*].unit_of_measure", "supplier.tax_id", "lines[*].taxes[*].amount"} <= set(
        enum
    )
    for known in model_paths():
        parse(known.replace(".*", ".CostCenter"), Invoice)
    # `connection` is typed by `connector`, from each connector's own settings model
    assert schema["properties"]["connector"]["enum"] == ConnectorRegistry().names
    coupa = schema["$defs"]["coupa.connection"]["properties"]
    assert {"invoice_url", "shared_secret", "api"} <= set(coupa)
    assert schema["$defs"]["coupa.connection"]["additionalProperties"] is False
    for shipped in (ROOT / "fixtures" / "rules").glob("*.yaml"):
        jsonschema.validate(as_editor_sees(shipped), schema)
    baseline_schema = json.loads(runner.invoke(app, ["rules", "schema", "--baseline"]).stdout)
    assert undescribed(baseline_schema) == []
    for shipped in (ROOT / "rules" / "baselines").glob("*.yaml"):
        jsonschema.validate(as_editor_sees(shipped), baseline_schema)
    typo = as_editor_sees(ROOT / "fixtures" / "rules" / "acme-coupa.yaml")
    assert isinstance(typo, dict)
    typo["connection"]["invoce_url"] = typo["connection"].pop("invoice_url")
    with pytest.raises(jsonschema.ValidationError, match="invoce_url"):
        jsonschema.validate(typo, schema)
    literal = as_editor_sees(ROOT / "fixtures" / "rules" / "acme-coupa.yaml")
    assert isinstance(literal, dict)
    literal["connection"]["shared_secret"] = "hunter2"  # a secret written out, not referenced
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(literal, schema)
    wrong_field = as_editor_sees(ROOT / "fixtures" / "rules" / "acme-coupa.yaml")
    assert isinstance(wrong_field, dict)
    wrong_field["rules"][0]["field"] = "po_numbr"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong_field, schema)
    wrong_field["rules"][0]["field"] = "lines[0].unit_of_measure"  # fixed indices are paths too
    jsonschema.validate(wrong_field, schema)


def test_rules_new_writes_a_commented_file_that_passes_check_and_test(
    settled_demo: DemoWorkspace, tmp_path: Path
) -> None:
    config = ["--config", str(settled_demo.config_path)]
    made = runner.invoke(
        app, [*config, "rules", "new", "--connector", "coupa", "--customer", "C-1001", "--out", str(tmp_path)]
    )
    assert made.exit_code == 0, made.stdout
    path = tmp_path / "c-1001-coupa.yaml"
    text = path.read_text()
    assert "extends: [coupa-baseline]" in text and "shared_secret: secret:c_1001_coupa_shared_secret" in text
    assert "# The cXML shared secret, by reference only." in text  # commented
    spec = yaml.safe_load(text)
    assert spec["buyer"].startswith("ACME Manufacturing") and spec["match"] == {"customer_id": ["C-1001"]}
    [example] = spec["examples"]
    invoice = Invoice.model_validate_json((tmp_path / example["invoice"]).read_text())
    assert invoice.customer_id == "C-1001"
    assert runner.invoke(app, ["rules", "check", str(path)]).exit_code == 0
    tested = runner.invoke(app, ["rules", "test", str(path)])
    assert tested.exit_code == 0, tested.stdout
    again = runner.invoke(
        app, [*config, "rules", "new", "--connector", "coupa", "--customer", "C-1001", "--out", str(tmp_path)]
    )
    assert again.exit_code != 0 and "exists already" in again.stderr


@pytest.mark.parametrize("connector", ["ariba", "openinvoice", "webportal"])
def test_rules_new_without_a_hub_passes_check_for_every_family(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connector: str
) -> None:
    monkeypatch.delenv("PORTALHUB_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    made = runner.invoke(app, ["rules", "new", "--connector", connector, "--customer", "C-7"])
    assert made.exit_code == 0, made.stdout
    path = tmp_path / f"c-7-{connector}.yaml"
    assert "secret:c_7_" in path.read_text()
    checked = runner.invoke(app, ["rules", "check", str(path), "--json"])
    assert checked.exit_code == 0, checked.stdout


def test_rules_test_and_check_catch_a_one_of_against_the_baselines_pattern(tmp_path: Path) -> None:
    """Issue 20's first mistake end to end: green before, caught by both commands now."""
    spec = profile_yaml("http://x.invalid")
    spec["rules"] = [{"id": "acme-uom", "field": "lines[*].unit_of_measure", "one_of": ["ea", "hr"]}]
    invoice = {"from": str(ROOT / "rules/baselines/examples/po-invoice.json")}
    spec["examples"] = [
        {
            "name": "lower-case units",
            "invoice": invoice
            | {"set": {"lines[0].unit_of_measure": "ea", "lines[1].unit_of_measure": "hr"}},
            "passes": ["acme-uom"],
        }
    ]
    path = tmp_path / "acme-coupa.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    lines = path.read_text().splitlines()
    rule_line = next(n for n, t in enumerate(lines, 1) if t == "- id: acme-uom")
    example_line = next(n for n, t in enumerate(lines, 1) if t == "- name: lower-case units")
    tested = runner.invoke(app, ["rules", "test", str(path), "--json"])
    assert tested.exit_code == 1
    [result] = json.loads(tested.stdout)
    assert result["line"] == example_line
    [problem] = result["problems"]
    assert problem.startswith("breaks coupa-uom-code (") and "coupa-baseline.yaml:" in problem
    assert f"acme-uom ({path}:{rule_line})" in problem
    checked = json.loads(runner.invoke(app, ["rules", "check", str(path), "--json"]).stdout)
    [contradiction] = checked["problems"]
    assert contradiction.startswith(f"{path}:{rule_line}:") and "coupa-uom-code (" in contradiction
