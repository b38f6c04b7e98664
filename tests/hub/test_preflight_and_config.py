"""Pre-flight (rules, rendered document, DTD), the hub configuration, and the connector registry."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import yaml

from connectors.base import OutboundDocument
from hub.config import HubConfig, load_config
from hub.errors import ConfigError
from hub.model import InvoicePurpose, InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.preflight import preflight
from hub.registry import ConnectorRegistry
from hub.services import timeline
from tests.factories import SUPPLIER, T0, ListAr, make_hub, make_invoice, profile_yaml


def test_preflight_needs_no_real_secret(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    hub = make_hub(tmp_path, coupa.server.url)
    (tmp_path / "secrets.yaml").write_text("{}")  # nothing resolvable
    hub.secrets._file_values = None
    profile = hub.profile("acme-coupa")
    result = preflight(make_invoice(), profile, hub.preflight_connector(profile), hub.schemas, T0)
    assert result.passed
    hub.close()


def test_dtd_violations_block_with_the_dtd_words(tmp_path: Path, coupa, invoice_dtd_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub = make_hub(tmp_path, coupa.server.url)
    connector = hub.preflight_connector(hub.profile("acme-coupa"))
    broken = b'<cXML payloadID="x" timestamp="2026-01-01T00:00:00+00:00"><Header/></cXML>'
    document = OutboundDocument(
        payload_id="x", invoice_number="I", format="cxml", content_type="text/xml", body=broken, xml=broken
    )
    [first, *_] = connector.check_document(document, {"cxml_dtd": invoice_dtd_path})
    assert first.rule_id == "cxml-dtd" and first.blocking and "Header" in first.message
    # Without the DTD named in the configuration, there is no DTD check.
    assert connector.check_document(document, {}) == []
    hub.close()


def test_hub_runs_the_dtd_check_when_configured(tmp_path: Path, coupa, invoice_dtd_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub = make_hub(tmp_path, coupa.server.url, dtd=invoice_dtd_path)
    assert hub.schemas == {"cxml_dtd": invoice_dtd_path}
    profile = hub.profile("acme-coupa")
    result = preflight(
        make_invoice(tax_rate="8.25"), profile, hub.preflight_connector(profile), hub.schemas, T0
    )
    assert result.passed  # our own rendering is valid; the check itself is exercised above
    hub.close()


def test_an_unreadable_dtd_is_a_config_error(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.dtd").write_text("<!ELEMENT broken")
    hub = make_hub(tmp_path, coupa.server.url)
    connector = hub.preflight_connector(hub.profile("acme-coupa"))
    document = OutboundDocument(
        payload_id="x",
        invoice_number="I",
        format="cxml",
        content_type="t",
        body=b"<cXML/>",
        xml=b"<cXML/>",
    )
    with pytest.raises(ConfigError, match=r"the cXML DTD .*bad\.dtd is unusable"):
        connector.check_document(document, {"cxml_dtd": tmp_path / "bad.dtd"})
    hub.close()


def test_cancel_of_an_invoice_never_sent_is_blocked_with_the_reason(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    ar = ListAr()
    ar.add(make_invoice("INV-9", purpose=InvoicePurpose.CANCEL, original_invoice_number="INV-8"))
    hub = make_hub(tmp_path, coupa.server.url, ar=ar)
    ingest(hub)
    submit_profile(hub, hub.profile("acme-coupa"))
    head = timeline(hub, "INV-9")["invoice"]
    assert head["state"] == InvoiceState.BLOCKED and "has no record of sending it" in head["reason"]
    assert coupa.received == 0
    hub.close()


def test_cancel_after_acceptance_voids_it_at_the_portal(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    ar = ListAr()
    ar.add(make_invoice("INV-1"))
    hub = make_hub(tmp_path, coupa.server.url, ar=ar)
    ingest(hub)
    submit_profile(hub, hub.profile("acme-coupa"))
    ar.add(
        make_invoice("INV-1", purpose=InvoicePurpose.CANCEL, original_invoice_number="INV-1"),
        key="cancel-INV-1",
    )
    ingest(hub)
    submit_profile(hub, hub.profile("acme-coupa"))
    assert coupa.invoices[0].status_at(coupa.clock.now())[0] == "voided"
    assert b'<DocumentReference payloadID="' in coupa.invoices[0].document
    hub.close()


# --- configuration ------------------------------------------------------------------------------------------
def _config(tmp_path: Path, **extra: object) -> Path:
    data = {"supplier": SUPPLIER.model_dump(mode="json"), "ar": {"url": "sqlite:///ar.db"}, **extra}
    path = tmp_path / "portalhub.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_relative_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PORTALHUB_STORE_URL", raising=False)
    config = load_config(
        _config(
            tmp_path,
            rules_dir="rules.d",
            store_url="sqlite:///var/hub.db",
            pidx_xsd="refs/SCHEMA_PIDX_1.61_Invoice.xsd",
        )
    )
    assert config.rules_dir == tmp_path / "rules.d"
    assert config.pidx_xsd == tmp_path / "refs" / "SCHEMA_PIDX_1.61_Invoice.xsd"
    assert config.store_url == f"sqlite:///{tmp_path / 'var' / 'hub.db'}"
    assert config.ar.url == f"sqlite:///{tmp_path / 'ar.db'}"


def test_store_url_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTALHUB_STORE_URL", "postgresql://postgres@127.0.0.1/test")
    assert load_config(_config(tmp_path)).store_url == "postgresql://postgres@127.0.0.1/test"


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"daemon\.lease_seconds"):
        load_config(_config(tmp_path, daemon={"lease_seconds": -1}))
    with pytest.raises(ConfigError, match="store_urll"):
        load_config(_config(tmp_path, store_urll="x"))


def test_default_config_model() -> None:
    config = HubConfig.model_validate({"supplier": SUPPLIER.model_dump(), "ar": {"url": "sqlite://"}})
    assert config.store_url.startswith("sqlite:///") and config.daemon.lease_seconds > 60


# --- registry -----------------------------------------------------------------------------------------------
def test_builtin_connectors_register_through_entry_points() -> None:
    registry = ConnectorRegistry()
    assert "coupa" in registry.names
    assert registry.get("coupa").__name__ == "CoupaConnector"


def test_two_connectors_with_one_name_fail_at_start_up() -> None:
    points = [
        EntryPoint("coupa", "connectors.coupa:CoupaConnector", "portalhub.connectors"),
        EntryPoint("coupa", "someone_else.coupa:Fake", "portalhub.connectors"),
    ]
    with pytest.raises(ConfigError, match="registered twice"):
        ConnectorRegistry(points)


def test_unknown_and_wrong_connectors_are_config_errors() -> None:
    registry = ConnectorRegistry([EntryPoint("odd", "hub.model:Invoice", "portalhub.connectors")])
    with pytest.raises(ConfigError, match="no connector named 'nope'"):
        registry.get("nope")
    with pytest.raises(ConfigError, match="is not a Connector subclass"):
        registry.get("odd")


def test_profile_with_an_unknown_connector_fails_to_load(tmp_path: Path) -> None:
    from rules.loader import RulesFileError, load_profile

    spec = profile_yaml("http://x") | {"connector": "sap-ariba-typo"}
    (tmp_path / "acme-coupa.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(RulesFileError, match="no connector named 'sap-ariba-typo'"):
        load_profile(tmp_path / "acme-coupa.yaml", ConnectorRegistry().check_connection)
