"""Recipes and the web-form document, without a browser: what AR operations write is checked with
file, line and field; what the connector will type is exactly what the hub stores."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from connectors.base import ConnectorContext, Envelope
from connectors.webportal import WebPortalConnector
from connectors.webportal.form import decode
from connectors.webportal.recipe import RecipeCache, RecipeError, parse_recipe, recipe_schema
from connectors.webportal.values import portal_value
from hub.errors import ConfigError, MappingError
from hub.model import InvoicePurpose, InvoiceState
from hub.pipeline.submit import _stored
from rules.loader import RulesFileError
from tests.connectors.contract.webportal_harness import RECIPE, make_pdf, pdf_invoice, write_profile
from tests.connectors.support import DictSecrets
from tests.factories import T0, make_invoice


def _recipe_with(tmp_path: Path, edit: str, replacement: str) -> Path:
    text = RECIPE.read_text(encoding="utf-8")
    assert edit in text, edit
    path = tmp_path / "recipe.yaml"
    path.write_text(text.replace(edit, replacement, 1), encoding="utf-8")
    return path


def test_the_sandbox_recipe_loads_and_maps_status_words() -> None:
    recipe = parse_recipe(RECIPE)
    first = recipe.submit_invoice.fill_header[0]
    assert first.fill is not None and first.fill.label == "Invoice number" and first.field == "invoice_number"
    assert (
        recipe.state_of("paid") is InvoiceState.PAID
        and recipe.state_of(" Disputed ") is InvoiceState.DISPUTED
    )
    assert recipe.state_of("Queued for audit") is None  # unknown words are kept raw, not guessed
    added = recipe.submit_invoice.fill_lines.each[-1].wait_for
    assert added is not None and added.for_line(3).text == "Line 3 added."


@pytest.mark.parametrize(
    ("edit", "replacement", "expected"),
    [
        (
            "      field: po_number\n",
            "      feld: po_number\n",
            "submit_invoice.fill_header.3.feld: unknown key",
        ),
        (
            "    - click: {role: button, name: Sign in}",
            "    - click: {role: knob, name: Sign in}",
            "sign_in.steps.3.click: unknown ARIA role 'knob'",
        ),
        (
            "    - upload: Invoice PDF",
            "    - upload: {label: Invoice PDF, css: 'input[type=file]'}",
            "submit_invoice.attach.0.upload: give exactly one of label, role, text, placeholder, test_id, term, css "
            "(found label, css)",
        ),
        (
            "      pattern: 'Reference:\\s*(\\S+)'",
            "      pattern: 'Reference'",
            "submit_invoice.read_confirmation.0.pattern: needs a group",
        ),
        (
            "    - goto: /invoices/new",
            "    - goto: /invoices/new\n      click: {text: New}",
            "submit_invoice.open_form.0: a step has exactly one action of goto, click, fill, select, upload, "
            "wait_for, wait_for_url, read (found goto, click)",
        ),
        (
            "    - fill: Invoice number\n      field: invoice_number\n",
            '    - {fill: Invoice number, value: "{invoice}"}\n',
            "submit_invoice.fill_header.0: unknown placeholder {invoice}",
        ),
        ("  Paid: PAID", "  Paid: SETTLED", "statuses.Paid: Input should be"),
        (
            "  timezone: UTC\n  next_page",
            "  timezone: Mars/Olympus\n  next_page",
            "invoice_list.timezone: unknown time zone",
        ),
    ],
)
def test_recipe_problems_name_the_file_the_line_and_the_field(
    tmp_path: Path, edit: str, replacement: str, expected: str
) -> None:
    path = _recipe_with(tmp_path, edit, replacement)
    line = path.read_text(encoding="utf-8").splitlines().index(replacement.splitlines()[0]) + 1
    with pytest.raises(RecipeError) as raised:
        parse_recipe(path)
    assert isinstance(raised.value, ConfigError)
    assert f"{path}:{line}: {expected}" in str(raised.value)


def test_a_key_given_twice_is_refused_rather_than_one_silently_winning(tmp_path: Path) -> None:
    path = _recipe_with(tmp_path, "sign_in:\n  page: /login", "sign_in:\n  page: /signin\n  page: /login")
    with pytest.raises(RecipeError, match=r"recipe.yaml:\d+: page: key repeated \(first on line \d+\)"):
        parse_recipe(path)


def test_a_recipe_that_is_not_yaml_or_not_there_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("login: [unclosed\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"broken.yaml:\d+: not valid YAML"):
        parse_recipe(broken)
    with pytest.raises(RecipeError, match="does not exist"):
        RecipeCache().get(tmp_path / "missing.yaml")


def test_an_edited_recipe_is_read_again(tmp_path: Path) -> None:
    cache = RecipeCache()
    path = _recipe_with(tmp_path, "name: Sandbox supplier web portal", "name: Before")
    assert cache.get(path).name == "Before"
    path.write_text(
        path.read_text(encoding="utf-8").replace("name: Before", "name: After, longer"), encoding="utf-8"
    )
    assert cache.get(path).name == "After, longer"


def _connector() -> WebPortalConnector:
    return WebPortalConnector(ConnectorContext(http=None, secrets=DictSecrets({}), now=lambda: T0))  # type: ignore[arg-type]


def test_a_relative_recipe_is_found_beside_the_rules_file(tmp_path: Path) -> None:
    (tmp_path / "rules.d" / "recipes").mkdir(parents=True)
    (tmp_path / "rules.d" / "recipes" / "acme.yaml").write_text(
        RECIPE.read_text(encoding="utf-8"), encoding="utf-8"
    )
    profile = write_profile(tmp_path / "rules.d", "http://127.0.0.1:9", recipe=Path("recipes/acme.yaml"))
    assert _connector().recipe(profile).name == "Sandbox supplier web portal"


def test_the_profile_holds_secrets_only_by_reference(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match=r"connection\.password holds a secret"):
        write_profile(tmp_path, "http://127.0.0.1:9", password="hunter2-in-clear")
    with pytest.raises(RulesFileError, match=r"connection\.totp_seed holds a secret"):
        write_profile(tmp_path, "http://127.0.0.1:9", totp_seed="JBSWY3DPEHPK3PXP")


def test_the_rendered_form_is_what_the_browser_will_type_and_the_pdf_stays_out_of_the_stored_copy(
    tmp_path: Path,
) -> None:
    profile = write_profile(tmp_path, "http://127.0.0.1:9")
    invoice = pdf_invoice(
        "INV-7", lines=(("BRG-6205", "10", "EA", "12.50"), ("SEAL-22", "5", "EA", "4.20")), tax_rate="8.25"
    )
    document = _connector().render(invoice, profile, Envelope("p-7@test", T0, "INV-7-R1"))
    assert document.format == "webform" and document.content_type.startswith("multipart/mixed")
    form = decode(document.content_type, document.body)
    assert form.invoice_number == "INV-7-R1" and form.header["invoice_number"] == "INV-7-R1"
    assert form.header["invoice_date"] == T0.date().isoformat() and form.header["po_number"] == "PO-100001"
    assert (
        Decimal(form.header["total"]) == invoice.total
        and Decimal(form.header["tax_total"]) == invoice.tax_total
    )
    assert [line["part_number"] for line in form.lines] == ["BRG-6205", "SEAL-22"]
    assert form.lines[0]["po_line"] == "1" and form.lines[1]["unit_price"] == "4.20"
    assert form.files[0].content == invoice.attachments[0].content and form.files[0].filename == "INV-7.pdf"
    stored = _stored(document)
    assert '"INV-7-R1"' in stored and "attachments omitted" in stored and "%PDF" not in stored


def test_what_a_web_form_cannot_carry_is_a_mapping_error(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "http://127.0.0.1:9")
    connector = _connector()
    with pytest.raises(MappingError, match="requires the invoice PDF"):
        connector.render(make_invoice("INV-8"), profile, Envelope("p", T0, "INV-8"))
    credit = make_invoice(
        "CM-1", lines=(("BRG-6205", "-2", "EA", "12.50"),), purpose=InvoicePurpose.CREDIT_MEMO
    )
    with pytest.raises(MappingError, match="takes invoices only, not a credit memo"):
        connector.render(credit, profile, Envelope("p", T0, "CM-1"))
    optional = write_profile(tmp_path / "optional", "http://127.0.0.1:9", pdf="optional")
    document = connector.render(make_invoice("INV-8"), optional, Envelope("p", T0, "INV-8"))
    assert (
        document.content_type.startswith("application/json")
        and not decode(document.content_type, document.body).files
    )


def test_the_test_pdf_is_a_real_pdf() -> None:
    pdf = make_pdf("Invoice INV-1")
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref:].startswith(b"xref\n0 6\n")
    for number, offset in enumerate(pdf[xref:].split(b"\n")[3:8], 1):
        assert pdf[int(offset[:10]) :].startswith(f"{number} 0 obj".encode())


def test_recipes_in_the_fixtures_are_valid() -> None:
    for path in sorted((RECIPE.parent).glob("*.yaml")):
        assert parse_recipe(path).statuses, path
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["name"]


def test_a_step_can_be_scoped_and_numbered(tmp_path: Path) -> None:
    path = _recipe_with(
        tmp_path,
        '      - wait_for: {text: "Line {n} added."}',
        '      - wait_for: {text: "Line {n} added.", within: {role: status, name: "Line {n}"}}',
    )
    added = parse_recipe(path).submit_invoice.fill_lines.each[-1].wait_for
    assert added is not None
    numbered = added.for_line(2)
    assert (
        numbered.text == "Line 2 added." and numbered.within is not None and numbered.within.name == "Line 2"
    )
    assert numbered.describe() == "text 'Line 2 added.' in status 'Line 2'"


def test_the_json_schema_describes_every_construct() -> None:
    schema = recipe_schema()
    steps = schema["$defs"]["Step"]["properties"]
    for action in ("goto", "click", "fill", "select", "upload", "wait_for", "wait_for_url", "read"):
        assert action in steps, action
    assert set(steps["by"]["enum"]) == {"value", "label", "label_contains"}
    assert schema["$defs"]["Step"]["additionalProperties"] is False  # extra=forbid, as editors see it
    assert {"map", "date", "number"} <= set(schema["$defs"]["FieldFormat"]["properties"])
    assert {"sign_in", "submit_invoice", "invoice_list"} <= set(schema["required"])


def test_values_are_mapped_and_formatted_per_field(tmp_path: Path) -> None:
    text = RECIPE.read_text(encoding="utf-8").replace(
        "fields:\n",
        "fields:\n  unit: {map: {EA: EACH, HUR: HR}}\n  invoice_date: {date: '%d.%m.%Y'}\n"
        "  total: {number: {decimal_separator: ',', thousands_separator: '.', places: 2}}\n",
    )
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    recipe = parse_recipe(path)
    assert portal_value(recipe, "unit", "HUR") == "HR" and portal_value(recipe, "unit", "EA") == "EACH"
    assert portal_value(recipe, "invoice_date", "2026-11-20") == "20.11.2026"
    assert portal_value(recipe, "total", "1234567.5") == "1.234.567,50"
    assert portal_value(recipe, "total", "-0.125") == "-0,13"
    assert portal_value(recipe, "quantity", "10") == "10"  # no format: as the AR system has it
    with pytest.raises(MappingError, match=r"unit 'DAY' has no value in the portal's recipe .*knows EA, HUR"):
        portal_value(recipe, "unit", "DAY")


def test_a_unit_the_recipe_cannot_map_blocks_the_invoice_before_sending(tmp_path: Path) -> None:
    from tests.connectors.contract.supplierportal_harness import SUPPLIER_RECIPE

    profile = write_profile(tmp_path, "http://127.0.0.1:9", recipe=SUPPLIER_RECIPE)
    invoice = pdf_invoice("INV-9", lines=(("BRG-6205", "10", "KGM", "12.50"),))
    with pytest.raises(MappingError, match="unit 'KGM' has no value in the portal's recipe"):
        _connector().render(invoice, profile, Envelope("p-9@test", T0, "INV-9"))
