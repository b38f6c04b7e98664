"""CoupaConnector.submit against the Coupa sandbox over real sockets: what Coupa accepts, and how each of
its refusals reaches the hub (exception class, category, Coupa's words verbatim)."""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.coupa import CoupaConnector
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox
from hub.errors import PermanentPortalError, PortalAuthError
from hub.model import Attachment, InvoicePurpose, RejectionCategory
from rules.schema import Profile
from tests.connectors.support import envelope, make_connector, render, send, write_profile
from tests.factories import SECRET, T0, buyer_config, make_invoice


@pytest.fixture
def other_buyer(sandbox_clock: SandboxClock, tmp_path: Path) -> Iterator[Any]:
    """A second sandbox whose test buyer is configured differently: `other_buyer(**buyer)` -> (sandbox, profile)."""
    started: list[CoupaSandbox] = []

    def start(**buyer: Any) -> tuple[CoupaSandbox, Profile]:
        sandbox = CoupaSandbox(buyer_config(**buyer), sandbox_clock)
        server = sandbox.serve()
        started.append(sandbox)
        folder = tmp_path / f"other-{len(started)}"
        folder.mkdir()
        return sandbox, write_profile(folder, server.url)

    yield start
    for sandbox in started:
        assert sandbox.server is not None
        sandbox.server.stop()


def test_a_valid_invoice_is_accepted_with_coupas_invoice_id(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    document = render(connector, profile, make_invoice("INV-1"))

    receipt = connector.submit(document, profile)

    assert len(coupa.invoices) == 1
    held = coupa.invoices[0]
    assert (held.number, held.payload_id) == ("INV-1", document.payload_id)
    # Coupa says "Successful - invoice id: 9500"; the id is what `lookup` and polls report later.
    assert receipt.portal_invoice_id == str(held.id)
    assert receipt.portal_text == f"OK Successful - invoice id: {held.id}"
    assert (receipt.http_status, receipt.portal_code) == (200, "200")
    assert receipt.response_body is not None and "Successful - invoice id" in receipt.response_body
    assert not receipt.already_submitted


def test_each_accepted_invoice_gets_its_own_portal_id(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    ids = [send(connector, profile, make_invoice(f"INV-{n}")).portal_invoice_id for n in range(3)]

    assert ids == [str(i.id) for i in coupa.invoices]
    assert len(set(ids)) == 3


def test_a_wrong_shared_secret_is_an_auth_error_with_coupas_words(
    coupa: CoupaSandbox, http: httpx.Client, profile: Profile
) -> None:
    connector = make_connector(
        http, {"secret:acme_shared_secret": "not-the-secret-0000", "secret:coupa_api_secret": "x"}
    )

    with pytest.raises(PortalAuthError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert raised.value.portal_code == "401"
    assert raised.value.portal_text == "Invalid credentials."
    assert raised.value.http_status == 200  # Coupa puts the refusal in the cXML Status, not in HTTP
    assert coupa.invoices == [] and coupa.received == 1


def test_a_supplier_not_enabled_for_cxml_is_an_auth_error(other_buyer: Any, http: httpx.Client) -> None:
    sandbox, profile = other_buyer(cxml_enabled=False)

    with pytest.raises(PortalAuthError) as raised:
        send(make_connector(http), profile, make_invoice("INV-1"))

    assert raised.value.portal_code == "403"
    assert raised.value.portal_text == "cXML invoicing not allowed for supplier."
    assert sandbox.invoices == []


def test_an_unknown_coupa_instance_is_a_configuration_problem(
    coupa: CoupaSandbox, connector: CoupaConnector, tmp_path: Path
) -> None:
    assert coupa.server is not None
    profile = write_profile(
        tmp_path, coupa.server.url, invoice_url=f"{coupa.server.url}/nobody/cxml/invoices"
    )

    with pytest.raises(PermanentPortalError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert raised.value.category is RejectionCategory.CONFIG
    assert raised.value.http_status == 404
    assert coupa.invoices == []


def test_an_unparseable_body_is_refused_with_406(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    document = render(connector, profile, make_invoice("INV-1"))
    broken = dataclasses.replace(document, body=document.body[: len(document.body) // 2])

    with pytest.raises(PermanentPortalError) as raised:
        connector.submit(broken, profile)

    assert (raised.value.portal_code, raised.value.portal_text) == ("406", "Could not parse cXML document.")
    assert raised.value.category is RejectionCategory.DOCUMENT
    assert not raised.value.duplicate
    assert coupa.invoices == []


def test_a_document_that_breaks_the_dtd_is_refused_with_406(
    invoice_dtd_path: Path, coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    document = render(connector, profile, make_invoice("INV-1"))
    assert b"<Header>" in document.body
    invalid = dataclasses.replace(
        document, body=document.body.replace(b"<Header>", b"<Header><NotInTheDTD/>")
    )

    with pytest.raises(PermanentPortalError) as raised:
        connector.submit(invalid, profile)

    assert raised.value.portal_code == "406"
    assert raised.value.portal_text == "Request did not validate successfully with DTD."
    assert raised.value.category is RejectionCategory.DOCUMENT
    assert coupa.invoices == [] and coupa.received == 1
    # ... while the unmodified document passes the same DTD check.
    connector.submit(document, profile)
    assert len(coupa.invoices) == 1


def test_cxml_version_1_1_is_refused_with_450(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    document = render(connector, profile, make_invoice("INV-1"))
    assert b'version="1.2.037"' in document.body
    old = dataclasses.replace(
        document, body=document.body.replace(b'version="1.2.037"', b'version="1.1.009"')
    )

    with pytest.raises(PermanentPortalError) as raised:
        connector.submit(old, profile)

    assert raised.value.portal_code == "450"
    assert raised.value.portal_text == "cXML Version of document is not supported."
    assert raised.value.category is RejectionCategory.DOCUMENT
    assert coupa.invoices == []


def test_an_invoice_without_po_or_contract_is_refused_with_417(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    with pytest.raises(PermanentPortalError) as raised:
        send(connector, profile, make_invoice("INV-1", po=None))

    assert raised.value.portal_code == "417"
    assert raised.value.portal_text == (
        "Invalid order/document reference. Every Coupa invoice must be backed by a PO or a contract."
    )
    assert raised.value.category is RejectionCategory.PO
    assert not raised.value.duplicate
    assert coupa.invoices == []


def test_a_reused_invoice_number_is_a_duplicate(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    first = send(connector, profile, make_invoice("INV-1"))

    with pytest.raises(PermanentPortalError) as raised:
        # Another payloadID, same number: Coupa identifies invoices by number.
        connector.submit(
            connector.render(make_invoice("INV-1"), profile, envelope("INV-1", payload_id="INV-1.2@test")),
            profile,
        )

    assert raised.value.portal_code == "417"
    assert raised.value.portal_text == (
        "Invalid attributes in document. Invoice number INV-1 has already been used for this supplier."
    )
    assert raised.value.duplicate is True
    assert raised.value.category is RejectionCategory.DUPLICATE
    assert [str(i.id) for i in coupa.invoices] == [first.portal_invoice_id]


@pytest.mark.parametrize(
    ("invoice", "detail", "category"),
    [
        pytest.param(
            make_invoice("INV-1", po="PO-999999"),
            "PO number PO-999999 was not found for this supplier.",
            RejectionCategory.PO,
            id="unknown-po",
        ),
        pytest.param(
            make_invoice("INV-1", lines=(("BRG-6205", "10", "BX", "12.50"),)),
            "Line 1: UOM BX does not match PO line 1 (EA).",
            RejectionCategory.PRICE_QUANTITY,
            id="uom-not-on-po-line",
        ),
        pytest.param(
            make_invoice("INV-1", po=None, contract_number="MSA-404"),
            "Contract MSA-404 was not found.",
            RejectionCategory.PO,
            id="unknown-contract",
        ),
    ],
)
def test_po_matching_failures_are_permanent_500s(
    coupa: CoupaSandbox,
    connector: CoupaConnector,
    profile: Profile,
    invoice: Any,
    detail: str,
    category: RejectionCategory,
) -> None:
    with pytest.raises(PermanentPortalError) as raised:
        send(connector, profile, invoice)

    # Coupa's 500 "Server could not create invoice." is about the invoice, not an outage: never retried.
    assert raised.value.portal_code == "500"
    assert raised.value.portal_text == f"Server could not create invoice. {detail}"
    assert raised.value.category is category
    assert not raised.value.duplicate
    assert coupa.invoices == []


@pytest.mark.parametrize(
    ("buyer", "invoice", "detail", "category"),
    [
        pytest.param(
            {"required_extrinsics": ["CostCenter"]},
            make_invoice("INV-1"),
            "Missing tags: Extrinsic CostCenter is required by this customer.",
            RejectionCategory.MISSING_FIELD,
            id="buyer-requires-extrinsic",
        ),
        pytest.param(
            {"max_backdate_days": 2},
            make_invoice("INV-1", invoice_date=(T0 - timedelta(days=10)).date()),
            "Invoice date 2026-11-10 is back-dated more than 2 days.",
            RejectionCategory.DATES,
            id="buyer-limits-backdating",
        ),
    ],
)
def test_the_buyers_own_requirements_are_permanent_500s(
    other_buyer: Any,
    http: httpx.Client,
    buyer: dict[str, Any],
    invoice: Any,
    detail: str,
    category: RejectionCategory,
) -> None:
    sandbox, profile = other_buyer(**buyer)

    with pytest.raises(PermanentPortalError) as raised:
        send(make_connector(http), profile, invoice)

    assert raised.value.portal_text == f"Server could not create invoice. {detail}"
    assert raised.value.category is category
    assert sandbox.invoices == []


def test_a_contract_backed_invoice_is_accepted(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    receipt = send(connector, profile, make_invoice("INV-1", po=None, contract_number="MSA-1"))

    assert [str(i.id) for i in coupa.invoices] == [receipt.portal_invoice_id]
    assert b'<MasterAgreementReference agreementID="MSA-1"' in coupa.invoices[0].document


def test_a_price_above_the_po_is_accepted_then_disputed_after_the_buyers_delay(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    receipt = send(connector, profile, make_invoice("INV-1", lines=(("BRG-6205", "10", "EA", "13.50"),)))
    delay = timedelta(hours=coupa.buyers["acme"].dispute_after_hours)

    def record() -> dict[str, Any]:
        (only,) = coupa.records()
        assert str(only["id"]) == receipt.portal_invoice_id
        return only

    assert record()["status"] == "pending_approval"
    assert record()["dispute-reason"] is None
    sandbox_clock.advance(delay - timedelta(seconds=1))
    assert record()["status"] == "pending_approval"

    sandbox_clock.advance(seconds=1)

    disputed = record()
    assert disputed["status"] == "disputed"
    assert disputed["dispute-reason"]["code"] == "INCORRECT-PRICE"
    assert (
        disputed["dispute-reason"]["description"] == "Line 1: unit price 13.50 is above the PO price 12.50."
    )
    assert disputed["updated-at"] == (T0 + delay).isoformat()


def test_an_invoice_with_a_pdf_travels_as_multipart_related(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    invoice = make_invoice("INV-1", attachments=[Attachment(filename="INV-1.pdf", content=pdf)])
    document = render(connector, profile, invoice)
    assert document.content_type.startswith("multipart/related;")

    receipt = connector.submit(document, profile)

    assert receipt.portal_invoice_id == str(coupa.invoices[0].id)
    assert coupa.invoices[0].attachments == 1
    # What went over the wire: the cXML first, then the PDF, named by the cid: the cXML refers to.
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {document.content_type}\r\n\r\n".encode() + document.body
    )
    xml_part, pdf_part = message.iter_parts()
    assert xml_part.get_content_type() == "text/xml"
    assert pdf_part.get_content_type() == "application/pdf"
    assert pdf_part.get_payload(decode=True) == pdf
    content_id = pdf_part["Content-ID"].strip("<>")
    assert f"cid:{content_id}".encode() in coupa.invoices[0].document


def test_the_shared_secret_sent_is_the_resolved_one(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    send(connector, profile, make_invoice("INV-1"))

    assert f"<SharedSecret>{SECRET}</SharedSecret>".encode() in coupa.invoices[0].document


def _cancel(connector: CoupaConnector, profile: Profile, number: str, original_payload_id: str) -> Any:
    cancel = make_invoice(number, purpose=InvoicePurpose.CANCEL, original_invoice_number=number)
    document = connector.render(
        cancel, profile, envelope(number, f"{number}.cancel@test", original_payload_id)
    )
    assert b'operation="delete"' in document.body
    return connector.submit(document, profile)


def test_a_cancel_voids_the_invoice(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    receipt = send(connector, profile, make_invoice("INV-1"))
    sandbox_clock.advance(minutes=1)

    cancelled = _cancel(connector, profile, "INV-1", "INV-1.1@portalhub.test")

    assert cancelled.portal_invoice_id == receipt.portal_invoice_id
    assert [(str(r["id"]), r["status"]) for r in coupa.records()] == [(receipt.portal_invoice_id, "voided")]


def test_cancelling_an_unknown_invoice_is_refused(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    with pytest.raises(PermanentPortalError) as raised:
        _cancel(connector, profile, "INV-404", "INV-404.1@portalhub.test")

    assert raised.value.portal_text == "Invalid order/document reference. No invoice INV-404 to cancel."
    assert raised.value.category is RejectionCategory.PO


def test_a_cancel_after_the_number_was_reused_voids_the_live_invoice(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, sandbox_clock: SandboxClock
) -> None:
    send(connector, profile, make_invoice("INV-1"))
    sandbox_clock.advance(minutes=1)
    _cancel(connector, profile, "INV-1", "INV-1.1@portalhub.test")
    sandbox_clock.advance(minutes=1)
    again = connector.submit(
        connector.render(make_invoice("INV-1"), profile, envelope("INV-1", "INV-1.2@test")), profile
    )
    sandbox_clock.advance(minutes=1)

    cancelled = _cancel(connector, profile, "INV-1", "INV-1.2@test")

    assert cancelled.portal_invoice_id == again.portal_invoice_id
    assert [r["status"] for r in coupa.records()] == ["voided", "voided"]
