"""The contract every connector keeps, run against each family's sandbox over real sockets.

One line per connector in registry.py; a connector without a harness fails the meta-test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from connectors.base import Connector, Envelope, OutboundDocument, Receipt
from hub.errors import InDoubtError, PermanentPortalError, PortalError, TransientPortalError
from hub.registry import ConnectorRegistry
from tests.connectors.contract.harness import ConnectorHarness
from tests.connectors.contract.registry import HARNESSES
from tests.factories import T0


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConnectorHarness]:
    built = HARNESSES[request.param](tmp_path)
    yield built
    built.close()


def render(harness: ConnectorHarness, number: str, refused: bool = False) -> OutboundDocument:
    invoice = harness.refused_invoice(number) if refused else harness.invoice(number)
    envelope = Envelope(payload_id=f"{number}.contract@portalhub.test", timestamp=T0, invoice_number=number)
    return harness.connector.render(invoice, harness.profile, envelope)


def submit(harness: ConnectorHarness, number: str, refused: bool = False) -> Receipt:
    return harness.connector.submit(render(harness, number, refused), harness.profile)


def test_every_installed_connector_has_a_contract_harness() -> None:
    # A key names a harness; the harness names its connector (one connector may have several, one per
    # transport: "openinvoice" and "openinvoice-rest").
    covered = {getattr(factory, "name", key) for key, factory in HARNESSES.items()}
    assert set(ConnectorRegistry().names) <= covered


def test_declares_what_it_is(harness: ConnectorHarness) -> None:
    cls = type(harness.connector)
    assert cls.name == harness.name and ConnectorRegistry().get(harness.name) is cls
    assert cls.document_format
    assert issubclass(cls.connection_model, BaseModel)
    for flag in (
        "supports_poll",
        "supports_lookup",
        "supports_cancel",
        "supports_attachments",
        "supports_push",
    ):
        assert isinstance(getattr(cls, flag), bool), flag
    described = cls.describe()
    assert (described.name, described.document_format) == (cls.name, cls.document_format)
    assert described.transports and described.summary
    assert ("push" in described.capabilities) == cls.supports_push
    assert ("cancel" in described.capabilities) == cls.supports_cancel
    if cls.supports_push:  # the receiver dispatches to these: a family that pushes implements every one
        for hook in ("read_push", "push_sender", "pushed_status", "push_reply"):
            assert getattr(cls, hook) is not getattr(Connector, hook), hook


def test_checks_its_own_documents_and_nothing_without_a_schema_file(harness: ConnectorHarness) -> None:
    # Pre-flight asks the family; with no schema file configured there is nothing to check against.
    assert harness.connector.check_document(render(harness, "INV-C-SCHEMA"), {}) == []


def test_renders_one_document_per_invoice_without_secrets_in_its_stored_form(
    harness: ConnectorHarness,
) -> None:
    document = render(harness, "CT-1")
    assert document.payload_id == "CT-1.contract@portalhub.test" and document.invoice_number == "CT-1"
    assert document.body and document.content_type
    stored = document.redacted()
    for secret in document.secrets:
        assert secret and secret not in stored


def test_accepts_a_good_invoice_once(harness: ConnectorHarness) -> None:
    receipt = submit(harness, "CT-1")
    assert isinstance(receipt, Receipt)
    assert harness.portal_count() == 1


def test_a_second_invoice_with_the_same_number_is_a_duplicate(harness: ConnectorHarness) -> None:
    submit(harness, "CT-1")
    with pytest.raises(PermanentPortalError) as raised:
        submit(harness, "CT-1")
    assert raised.value.duplicate and raised.value.category.value == "duplicate"
    assert harness.portal_count() == 1


def test_a_refused_invoice_is_permanent_with_the_portals_words(harness: ConnectorHarness) -> None:
    with pytest.raises(PermanentPortalError) as raised:
        submit(harness, "CT-2", refused=True)
    assert not raised.value.duplicate and raised.value.portal_text
    assert harness.portal_count() == 0


def test_lookup_finds_what_it_accepted_and_nothing_else(harness: ConnectorHarness) -> None:
    if not harness.connector.supports_lookup:
        pytest.skip(f"{harness.name} declares supports_lookup = False")
    receipt = submit(harness, "CT-1")
    record = harness.connector.lookup(harness.profile, "CT-1")
    assert record is not None and record.invoice_number == "CT-1"
    if receipt.portal_invoice_id:
        assert record.portal_invoice_id == receipt.portal_invoice_id
    assert harness.connector.lookup(harness.profile, "CT-404") is None


def test_poll_reports_what_changed_since_the_cursor(harness: ConnectorHarness) -> None:
    if not harness.connector.supports_poll:
        pytest.skip(f"{harness.name} declares supports_poll = False")
    submit(harness, "CT-1")
    first = harness.connector.poll(harness.profile, None)
    assert "CT-1" in {u.invoice_number for u in first.updates}
    assert first.next_cursor is not None
    harness.advance(hours=24 * 30)
    later = harness.connector.poll(harness.profile, first.next_cursor)
    changed = [u for u in later.updates if u.invoice_number == "CT-1"]
    assert (
        changed
        and changed[-1].raw_status != next(u for u in first.updates if u.invoice_number == "CT-1").raw_status
    )
    assert later.next_cursor is not None
    assert datetime.fromisoformat(later.next_cursor) >= datetime.fromisoformat(first.next_cursor)
    assert all(isinstance(u.occurred_at, datetime) and u.occurred_at.tzinfo for u in later.updates)


def test_an_answer_lost_after_the_portal_processed_it_is_in_doubt(harness: ConnectorHarness) -> None:
    if "drop_after" not in harness.supports_faults:
        pytest.skip(f"{harness.name}'s sandbox cannot drop a connection after processing")
    harness.inject("drop_after")
    with pytest.raises(InDoubtError):
        submit(harness, "CT-1")
    assert harness.portal_count() == 1


def test_an_outage_before_processing_is_transient(harness: ConnectorHarness) -> None:
    if "unavailable_503" not in harness.supports_faults:
        pytest.skip(f"{harness.name}'s sandbox cannot answer 503")
    harness.inject("unavailable_503")
    with pytest.raises(TransientPortalError):
        submit(harness, "CT-1")
    assert harness.portal_count() == 0


def test_an_unreachable_portal_is_transient_and_nothing_else_escapes(harness: ConnectorHarness) -> None:
    document = render(harness, "CT-1")
    harness.stop_portal()
    with pytest.raises(PortalError) as raised:
        harness.connector.submit(document, harness.profile)
    assert isinstance(raised.value, TransientPortalError)
