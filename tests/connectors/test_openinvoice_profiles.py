"""OpenInvoice profiles: the connection block is checked when a rules file loads, the demo's rules files
load, and pre-flight runs their PIDX document rules and validates the rendered invoice against the official
PIDX 1.61 Invoice XSD when its path is configured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from pydantic import ValidationError

from connectors.base import ConnectorContext, OutboundDocument
from connectors.openinvoice import OpenInvoiceConnector
from connectors.openinvoice.settings import OpenInvoiceConnection
from hub.errors import ConfigError
from hub.preflight import PlaceholderSecrets, preflight
from hub.registry import ConnectorRegistry
from rules.loader import RulesFileError, load_profile
from rules.schema import Profile
from tests.connectors.openinvoice_support import envelope, oil_invoice, oil_line, profile_spec, write_profile
from tests.factories import T0

FIXTURE_RULES = Path(__file__).resolve().parents[2] / "fixtures" / "rules"


def fixture_profile(name: str) -> Profile:
    return load_profile(FIXTURE_RULES / f"{name}.yaml", ConnectorRegistry().check_connection)


@pytest.fixture
def connector() -> Iterator[OpenInvoiceConnector]:
    # Pre-flight renders with placeholder secrets; it never needs the real ones.
    with httpx.Client() as http:
        yield OpenInvoiceConnector(ConnectorContext(http=http, secrets=PlaceholderSecrets(), now=lambda: T0))


def test_the_demo_rules_files_load_with_their_transports() -> None:
    leog, caprock = fixture_profile("leog-openinvoice"), fixture_profile("caprock-openinvoice")
    assert leog.connection["transport"] == "soap" and caprock.connection["transport"] == "rest"
    assert {"pidx-primary-currency", "leog-afe", "leog-field-ticket"} <= {r.id for r in leog.rules}
    assert "pidx-po-number" not in {r.id for r in caprock.rules}  # switched off: Caprock works on MSAs


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"connection": {"transport": "rest", "rest": None}}, "rest"),
        ({"rest": {"mac_key": "the-key-itself"}}, "mac_key"),
        ({"rest": {"base_url": "http://plain.example"}}, "base_url"),
        ({"soap": {"password": "hunter2"}}, "password"),
        ({"connection": {"transport": "ftp"}}, "transport"),
        ({"connection": {"timezone": "Mars/Olympus"}}, "Mars/Olympus"),
    ],
)
def test_a_wrong_connection_block_is_refused_when_the_file_loads(
    tmp_path: Path, change: dict[str, Any], words: str
) -> None:
    spec = profile_spec("soap", **change)
    with pytest.raises(RulesFileError, match=words):
        write_profile(tmp_path, spec)


def test_the_connection_model_needs_the_section_of_its_transport() -> None:
    with pytest.raises(ValidationError, match="soap"):
        OpenInvoiceConnection.model_validate(
            {"transport": "soap", "seller": {"identifier": "1"}, "buyer": {"identifier": "2"}}
        )


def test_preflight_runs_pidx_document_rules_of_the_profile(connector: OpenInvoiceConnector) -> None:
    profile = fixture_profile("caprock-openinvoice")
    schemas: dict[str, Path] = {}
    good = oil_invoice("INV-P-1", lines=[oil_line(cost_center="CC-CAP-GATHER")], customer_id="C-5002")
    assert preflight(good, profile, connector, schemas, T0).blocking == []
    wrong = oil_invoice("INV-P-2", lines=[oil_line(cost_center="CC-CAP-MAINT")], customer_id="C-5002")
    blocking = preflight(wrong, profile, connector, schemas, T0).blocking
    assert [v.rule_id for v in blocking] == ["caprock-cost-center"]
    assert blocking[0].value == "CC-CAP-MAINT"


def test_preflight_runs_the_buyers_field_rules(connector: OpenInvoiceConnector) -> None:
    profile = fixture_profile("leog-openinvoice")
    invoice = oil_invoice("INV-P-3", lines=[oil_line(afe_number=None, field_ticket_number=None)])
    rule_ids = {v.rule_id for v in preflight(invoice, profile, connector, {}, T0).blocking}
    assert rule_ids == {"leog-afe", "leog-field-ticket"}


def test_preflight_validates_pidx_against_the_official_xsd(
    connector: OpenInvoiceConnector, pidx_invoice_xsd_path: Path
) -> None:
    profile = fixture_profile("leog-openinvoice")
    document = connector.render(oil_invoice("INV-P-4"), profile, envelope("INV-P-4"))
    schemas = {"pidx_xsd": pidx_invoice_xsd_path}
    assert connector.check_document(document, schemas) == []
    tree = document.tree
    properties = tree.find(f"{{{etree.QName(tree).namespace}}}InvoiceProperties")
    properties.insert(0, properties[-1])  # something late moved to the front
    properties.find(f"{{{etree.QName(tree).namespace}}}InvoiceDate").text = "2026-11-20T00:00:00-06:00"
    damaged_xml = etree.tostring(tree)
    damaged = OutboundDocument(
        payload_id=document.payload_id,
        invoice_number=document.invoice_number,
        format="pidx",
        content_type=document.content_type,
        body=damaged_xml,
        xml=damaged_xml,
    )
    violations = connector.check_document(damaged, schemas)
    assert violations and {v.rule_id for v in violations} == {"pidx-xsd"}
    assert all(v.category.value == "document" for v in violations)
    assert "SCHEMA_PIDX_1.61_Invoice.xsd" in violations[0].message
    # Without a configured schema there is no schema check (as for the cXML DTD).
    assert connector.check_document(damaged, {}) == []


def test_a_missing_pidx_schema_file_is_a_config_error(
    connector: OpenInvoiceConnector, tmp_path: Path
) -> None:
    profile = fixture_profile("leog-openinvoice")
    document = connector.render(oil_invoice("INV-P-5"), profile, envelope("INV-P-5"))
    with pytest.raises(ConfigError, match="PIDX schema"):
        connector.check_document(document, {"pidx_xsd": tmp_path / "missing.xsd"})


def test_zeep_is_loaded_only_when_a_profile_uses_soap() -> None:
    code = (
        "import sys\n"
        "from hub.registry import ConnectorRegistry\n"
        "ConnectorRegistry().get('openinvoice')\n"
        "import connectors.openinvoice.rest\n"
        "assert 'zeep' not in sys.modules, 'zeep imported'\n"
        "import connectors.openinvoice.soap\n"
        "assert 'zeep' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
