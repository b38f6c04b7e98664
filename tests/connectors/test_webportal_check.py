"""`portalhub recipe check`: a recipe tried without sending, in real Chromium against the sandbox portals,
through the hub's service (an invoice from the store) and the connector's walk."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.webportal.browser import BrowserPool
from hub.errors import ConfigError
from hub.recipe_check import check_recipe, is_sandbox, recipe_schema
from hub.registry import ConnectorRegistry
from tests.connectors.contract.supplierportal_harness import SUPPLIER_RECIPE, SupplierPortalCase
from tests.connectors.contract.webportal_harness import PASSWORD, PROFILE_ID, TOTP_SEED, pdf_invoice
from tests.connectors.test_webportal_hub import World


def test_only_a_portal_on_this_machine_is_a_sandbox() -> None:
    assert is_sandbox("http://127.0.0.1:8080/acme") and is_sandbox("http://localhost/x")
    assert is_sandbox("http://[::1]:9/")
    assert not is_sandbox("https://supplier.northwind.example/portal") and not is_sandbox("http://10.0.0.5/")
    assert recipe_schema(ConnectorRegistry())["title"] == "portalhub web-portal recipe"


def test_submitting_from_a_check_is_refused_for_a_real_portal(tmp_path: Path, pool: BrowserPool) -> None:
    world = World(tmp_path, pool, base_url="https://supplier.acme.example/acme")
    try:
        world.ar.add(pdf_invoice("INV-1"))
        world.daemon.ingest()
        with pytest.raises(ConfigError, match="only to a sandbox on this machine"):
            check_recipe(world.hub, PROFILE_ID, "INV-1", connect=True, submit_sandbox=True)
        with pytest.raises(ConfigError, match="no invoice INV-404 of acme-webportal"):
            check_recipe(world.hub, PROFILE_ID, "INV-404", connect=False)
    finally:
        world.close()


def test_the_check_walks_sign_in_the_form_and_the_list_and_sends_nothing(
    tmp_path: Path, pool: BrowserPool
) -> None:
    world = World(tmp_path, pool)
    try:
        world.ar.add(
            pdf_invoice("INV-1", lines=(("BRG-6205", "10", "EA", "12.50"), ("SEAL-22", "5", "EA", "4.20")))
        )
        world.daemon.ingest()
        result = check_recipe(world.hub, PROFILE_ID, "INV-1", connect=True)
        assert result.ok and result.walk is not None and result.invoice_number == "INV-1"
        names = [step.step for step in result.walk.steps]
        assert names[0] == "sign_in 1: goto /login"
        assert "fill_header 1: fill label 'Invoice number' with invoice_number" in names
        assert any(name.startswith("fill_lines (line 2) ") for name in names)
        assert "attach 1: upload label 'Invoice PDF'" in names
        assert not any(name.startswith("submit ") for name in names)
        assert names[-1] == "invoice_list: read the table"
        for step in result.walk.steps[:-1]:  # each with its screenshot, but while a secret is on the screen
            secret = "(secret)" in step.did
            assert (step.screenshot is None) == secret, step
            assert secret or (Path(str(step.screenshot)).is_file() and str(step.screenshot).endswith(".png"))
        assert sum("(secret)" in step.did for step in result.walk.steps) == 2  # the password, the code
        listing = "\n".join(f"{step.step} {step.did}" for step in result.walk.steps)
        assert PASSWORD not in listing and TOTP_SEED not in listing and "(secret)" in listing
        assert world.sandbox.posts["submit"] == 0 and world.sandbox.received() == []

        # Against a sandbox, and asked to: the submit click too, under a number of its own.
        submitted = check_recipe(world.hub, PROFILE_ID, "INV-1", connect=True, submit_sandbox=True)
        assert submitted.ok and submitted.walk is not None and submitted.walk.submitted is not None
        [received] = world.sandbox.received()
        assert received.number == submitted.invoice_number and received.number.startswith("INV-1-CHECK")
        assert submitted.walk.submitted.portal_invoice_id == received.reference
    finally:
        world.close()


def test_a_failing_step_is_named_with_what_was_expected_and_its_evidence(
    tmp_path: Path, pool: BrowserPool
) -> None:
    broken = tmp_path / "broken.yaml"
    text = SUPPLIER_RECIPE.read_text(encoding="utf-8")
    assert "    - fill: Invoice number\n" in text
    broken.write_text(text.replace("    - fill: Invoice number\n", "    - fill: Supplier invoice no.\n"))
    case = SupplierPortalCase(tmp_path, pool, recipe=broken, step_timeout_seconds=1.5)
    try:
        document = case.render(pdf_invoice("INV-1"))
        walk = case.connector.walk(case.profile, document)
        assert (
            walk.problem is not None
            and "expected label 'Supplier invoice no.' to fill at /drafts/" in walk.problem
        )
        *passed, failed = walk.steps
        assert (
            failed.step == "fill_header 2: fill label 'Supplier invoice no.' with invoice_number"
            and not failed.ok
        )
        assert failed.screenshot and ".png" in failed.screenshot
        assert [s.step for s in passed][-1] == "fill_header 1: select label 'Purchase order' with po_number"
        assert all(s.ok for s in passed) and case.sandbox.posts["submit"] == 0
    finally:
        case.close()


def test_the_cli_prints_the_recipe_schema() -> None:
    import json

    from typer.testing import CliRunner

    from cli import app

    result = CliRunner().invoke(app, ["recipe", "schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema["title"] == "portalhub web-portal recipe" and "Step" in schema["$defs"]
