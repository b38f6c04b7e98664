"""The OpenInvoice sandbox is an independent judge: it validates what it receives against the official
PIDX 1.61 Invoice XSD (not against anything of the hub's), reads it with its own parser, and answers
with InvoiceResponses that SCHEMA_PIDX_1.61_InvoiceResponse.xsd accepts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree

from connectors.base import OutboundDocument
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.openinvoice.documents import PidxSchemas
from connectors.sandbox.openinvoice.portal import OpenInvoicePortal, Verdict
from connectors.sandbox.openinvoice.response import render_response
from hub.errors import PermanentPortalError
from hub.model import RejectionCategory
from mappings.pidx_elements import PIDX_NS
from tests.conftest import schema_problems
from tests.connectors.openinvoice_support import (
    OpenInvoiceWorld,
    oil_invoice,
    oil_line,
    render,
    sandbox_config,
)
from tests.factories import T0

P = f"{{{PIDX_NS}}}"


@pytest.fixture
def world(tmp_path: Path, pidx_refs: Path) -> Iterator[OpenInvoiceWorld]:
    built = OpenInvoiceWorld(tmp_path, sandbox_config().model_copy(update={"schema_dir": pidx_refs}))
    assert built.sandbox.portal.schemas.checked
    yield built
    built.close()


def _changed(document: OutboundDocument, change: Callable[[etree._Element], None]) -> OutboundDocument:
    root = etree.fromstring(document.body)
    change(root)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return OutboundDocument(
        payload_id=document.payload_id,
        invoice_number=document.invoice_number,
        format=document.format,
        content_type=document.content_type,
        body=body,
    )


def _date_time_invoice_date(root: etree._Element) -> None:
    root.find(f"{P}InvoiceProperties/{P}InvoiceDate").text = "2026-11-20T00:00:00-06:00"


def _tax_code_outside_the_list(root: etree._Element) -> None:
    line = root.find(f"{P}InvoiceDetails/{P}InvoiceLineItem")
    tax = etree.Element(f"{P}Tax")
    etree.SubElement(tax, f"{P}TaxTypeCode").text = "SalesTax"
    line.insert(list(line).index(line.find(f"{P}LineItemTotal")), tax)


def _partner_without_identifier(root: etree._Element) -> None:
    partner = root.find(f"{P}InvoiceProperties/{P}PartnerInformation[@partnerRoleIndicator='RemitTo']")
    for identifier in partner.findall(f"{P}PartnerIdentifier"):
        partner.remove(identifier)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_date_time_invoice_date, "InvoiceDate"),
        (_tax_code_outside_the_list, "SalesTax"),
        (_partner_without_identifier, "PartnerName"),
    ],
)
@pytest.mark.parametrize("transport", ["rest", "soap"])
def test_what_the_schema_refuses_the_portal_refuses_like_a_portal(
    world: OpenInvoiceWorld, change: Callable[[etree._Element], None], words: str, transport: str
) -> None:
    profile = world.profile(transport)
    document = _changed(render(world.connector, profile, oil_invoice("INV-J-1")), change)
    with pytest.raises(PermanentPortalError) as raised:
        world.connector.submit(document, profile)
    assert raised.value.portal_code == "Reject/Other"
    assert raised.value.category is RejectionCategory.DOCUMENT
    text = raised.value.portal_text or ""
    assert "does not follow the PIDX 1.61 schema" in text and words in text
    assert world.sandbox.invoices == []


def test_what_the_hub_renders_passes_the_portals_schema_check(
    world: OpenInvoiceWorld, pidx_response_schema: etree.XMLSchema
) -> None:
    for transport in ("rest", "soap"):
        profile = world.profile(transport)
        number = f"INV-J-{transport}"
        receipt = world.connector.submit(
            render(world.connector, profile, oil_invoice(number, lines=[oil_line(1), oil_line(2)])), profile
        )
        assert receipt.portal_code == "Pending"
    assert [i.number for i in world.sandbox.invoices] == ["INV-J-rest", "INV-J-soap"]
    # The answers as they came over the wire (REST: the body is the InvoiceResponse) are valid PIDX.
    profile = world.profile("rest")
    accepted = world.connector.submit(render(world.connector, profile, oil_invoice("INV-J-3")), profile)
    assert schema_problems(pidx_response_schema, (accepted.response_body or "").encode()) == []
    with pytest.raises(PermanentPortalError) as refused:
        world.connector.submit(render(world.connector, profile, oil_invoice("INV-J-3")), profile)
    assert refused.value.duplicate
    assert schema_problems(pidx_response_schema, (refused.value.response_body or "").encode()) == []


def test_a_document_with_a_doctype_is_refused_unread() -> None:
    portal = OpenInvoicePortal(sandbox_config(), SandboxClock(start=T0))
    supplier = portal.config.suppliers[0]
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    verdict = portal.receive(supplier, bomb, [], "rest")
    assert verdict.comments[0].startswith("Could not parse the invoice")
    assert "DOCTYPE" in verdict.comments[0]


def _verdicts(portal: OpenInvoicePortal, world_xml: bytes) -> dict[str, Verdict]:
    supplier = portal.config.suppliers[0]
    wrong_buyer = world_xml.replace(b">611222333<", b">999999999<")
    return {
        "pending": portal.receive(supplier, world_xml, [], "rest"),
        "duplicate": portal.receive(supplier, world_xml, [], "rest"),
        "routing": portal.receive(supplier, wrong_buyer, [], "rest"),
        "unparseable": portal.receive(supplier, b"<pidx:Invoice", [], "rest"),
        "schema": portal.receive(supplier, world_xml.replace(b"InvoiceNumber>", b"InvoiceNo>"), [], "rest"),
    }


def test_every_invoice_response_the_portal_sends_is_valid_pidx(
    world: OpenInvoiceWorld, pidx_response_schema: etree.XMLSchema
) -> None:
    profile = world.profile("rest")
    xml = render(world.connector, profile, oil_invoice("INV-J-2", lines=[oil_line(1), oil_line(2)])).body
    verdicts = _verdicts(world.sandbox.portal, xml)
    assert [v.status.value for v in verdicts.values()] == ["Pending", "Reject", "Reject", "Reject", "Reject"]
    for name, verdict in verdicts.items():
        body = render_response(verdict.response(f"IR-{name}", T0))
        assert schema_problems(pidx_response_schema, body) == [], name
    pending = etree.fromstring(render_response(verdicts["pending"].response("IR-1", T0)))
    assert pending.xpath(
        "//p:InvoiceResponseLineItem/p:LineItemNumber/text()", namespaces={"p": PIDX_NS}
    ) == [
        "1",
        "2",
    ]
    assert pending.xpath("//p:InvoiceResponseDate/text()", namespaces={"p": PIDX_NS}) == [
        T0.date().isoformat()
    ]


def test_the_portal_takes_its_schema_from_its_configuration(tmp_path: Path, pidx_refs: Path) -> None:
    assert PidxSchemas(pidx_refs).checked
    with pytest.raises(FileNotFoundError, match=r"SCHEMA_PIDX_1\.61_Invoice\.xsd"):
        PidxSchemas(tmp_path)
