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
from connectors.webportal.recipe import RecipeCache, RecipeError, parse_recipe
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
    assert recipe.invoice_form.header.invoice_number.label == "Invoice number"
    assert (
        recipe.state_of("paid") is InvoiceState.PAID
        and recipe.state_of(" Disputed ") is InvoiceState.DISPUTED
    )
    assert recipe.state_of("Queued for audit") is None  # unknown words are kept raw, not guessed
    assert recipe.invoice_form.lines.added.for_line(3).text == "Line 3 added."


@pytest.mark.parametrize(
    ("edit", "replacement", "expected"),
    [
        (
            "    po_number: PO number\n",
            "    po_numbr: PO number\n",
            "invoice_form.header.po_numbr: unknown key",
        ),
        (
            "  submit: {role: button, name: Sign in}",
            "  submit: {role: knob, name: Sign in}",
            "login.submit: unknown ARIA role 'knob'",
        ),
        (
            "  attachment: {label: Invoice PDF}",
            "  attachment: {label: Invoice PDF, css: 'input[type=file]'}",
            "invoice_form.attachment: give exactly one of label, role, text, test_id, term, css (found label, css)",
        ),
        (
            "    pattern: 'Reference:\\s*(\\S+)'",
            "    pattern: 'Reference'",
            "invoice_form.confirmation.pattern: needs a group",
        ),
        ("  Paid: PAID", "  Paid: SETTLED", "statuses.Paid: Input should be"),
        ("  timezone: UTC", "  timezone: Mars/Olympus", "invoice_list.timezone: unknown time zone"),
    ],
)
def test_recipe_problems_name_the_file_the_line_and_the_field(
    tmp_path: Path, edit: str, replacement: str, expected: str
) -> None:
    path = _recipe_with(tmp_path, edit, replacement)
    line = path.read_text(encoding="utf-8").splitlines().index(replacement.rstrip("\n")) + 1
    with pytest.raises(RecipeError) as raised:
        parse_recipe(path)
    assert isinstance(raised.value, ConfigError)
    assert f"{path}:{line}: {expected}" in str(raised.value)


def test_a_key_given_twice_is_refused_rather_than_one_silently_winning(tmp_path: Path) -> None:
    path = _recipe_with(
        tmp_path, "  page: /invoices/new\n", "  page: /invoices/new\n  page: /invoices/create\n"
    )
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


def test_a_target_can_be_scoped_and_numbered(tmp_path: Path) -> None:
    path = _recipe_with(
        tmp_path,
        '    added: {text: "Line {n} added."}',
        '    added: {text: "Line {n} added.", within: {role: status, name: "Line {n}"}}',
    )
    added = parse_recipe(path).invoice_form.lines.added.for_line(2)
    assert added.text == "Line 2 added." and added.within is not None and added.within.name == "Line 2"
    assert added.describe() == "text 'Line 2 added.' in status 'Line 2'"
