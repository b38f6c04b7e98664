"""The sandbox portals' own cXML code (connectors/sandbox/cxml): which official DTD a document is judged
by, that nothing the document names is ever loaded, and that what the sandboxes send back (Responses,
pushed StatusUpdateRequests) is valid cXML by the official DTD."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from connectors.sandbox.ariba import Party, StatusMessage, render_status_update
from connectors.sandbox.cxml import (
    REFS_ENV,
    DtdLibrary,
    UnreadableDocument,
    read_document,
    read_response_code,
    render_response,
)
from tests.factories import T0

INVOICE_START = '<cXML {version}payloadID="p@x" timestamp="2026-11-20T00:00:00Z"><Request><InvoiceDetailRequest/></Request></cXML>'


def _document(system_id: str | None, version: str | None = None) -> bytes:
    doctype = f'<!DOCTYPE cXML SYSTEM "{system_id}">\n' if system_id else ""
    attribute = f'version="{version}" ' if version else ""
    return (doctype + INVOICE_START.format(version=attribute)).encode()


@pytest.mark.parametrize(
    ("system_id", "version", "chosen", "exact"),
    [
        (
            "http://xml.cxml.org/schemas/cXML/1.2.037/InvoiceDetail.dtd",
            None,
            "1.2.037/InvoiceDetail.dtd",
            True,
        ),
        (
            "http://xml.cxml.org/schemas/cXML/1.2.020/InvoiceDetail.dtd",
            "1.2.037",
            "1.2.020/InvoiceDetail.dtd",
            True,
        ),
        # A version the references lack: the nearest older one (DTDs only grow), else the oldest newer one.
        (
            "http://xml.cxml.org/schemas/cXML/1.2.045/InvoiceDetail.dtd",
            None,
            "1.2.037/InvoiceDetail.dtd",
            False,
        ),
        (
            "http://xml.cxml.org/schemas/cXML/1.2.011/InvoiceDetail.dtd",
            None,
            "1.2.020/InvoiceDetail.dtd",
            False,
        ),
        # cXML.dtd is judged as named: it does not declare InvoiceDetailRequest, so such an invoice fails.
        ("http://xml.cxml.org/schemas/cXML/1.2.037/cXML.dtd", None, "1.2.063/cXML.dtd", False),
        # No DOCTYPE, or a bare file name: the version attribute decides; none at all: the newest held.
        (None, "1.2.020", "1.2.020/InvoiceDetail.dtd", True),
        ("InvoiceDetail.dtd", "1.2.020", "1.2.020/InvoiceDetail.dtd", True),
        (None, None, "1.2.037/InvoiceDetail.dtd", True),
    ],
)
def test_the_dtd_is_the_one_the_document_names(
    cxml_refs: Path, system_id: str | None, version: str | None, chosen: str, exact: bool
) -> None:
    choice = DtdLibrary(cxml_refs).choose(read_document(_document(system_id, version)))
    assert not isinstance(choice, str)
    assert (str(choice), choice.exact) == (chosen, exact)


@pytest.mark.parametrize(
    ("system_id", "words"),
    [
        ("file:///etc/passwd", "not an official cXML DTD"),
        ("http://attacker.example/cXML/1.2.037/InvoiceDetail.dtd", "not an official cXML DTD"),
        ("http://xml.cxml.org/schemas/cXML/1.2.037/Fulfill.dtd", "Fulfill.dtd is not an official cXML DTD"),
    ],
)
def test_a_doctype_that_is_no_official_dtd_is_refused(cxml_refs: Path, system_id: str, words: str) -> None:
    choice = DtdLibrary(cxml_refs).choose(read_document(_document(system_id)))
    assert isinstance(choice, str) and words in choice


def test_nothing_the_document_names_is_loaded(tmp_path: Path) -> None:
    # A DTD beside the document that would add an attribute default if anyone loaded it.
    (tmp_path / "evil.dtd").write_text('<!ATTLIST cXML injected CDATA "loaded">', encoding="utf-8")
    root = read_document(_document((tmp_path / "evil.dtd").as_uri())).root
    assert root.get("injected") is None
    with pytest.raises(UnreadableDocument, match="declares entities"):
        read_document(b'<!DOCTYPE cXML [<!ENTITY a "b">]><cXML>&a;</cXML>')
    with pytest.raises(UnreadableDocument, match="not well-formed"):
        read_document(b"<cXML>")


def test_the_folder_comes_from_the_caller_or_the_environment(
    tmp_path: Path, cxml_refs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REFS_ENV, raising=False)
    assert DtdLibrary.configured(None) is None
    monkeypatch.setenv(REFS_ENV, str(cxml_refs))
    configured = DtdLibrary.configured(None)
    assert configured is not None and configured.folder == cxml_refs
    explicit = DtdLibrary.configured(tmp_path)
    assert explicit is not None and explicit.folder == tmp_path
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DtdLibrary.configured(tmp_path / "missing")


def _assert_valid(dtd: etree.DTD, body: bytes) -> None:
    root = read_document(body).root
    assert dtd.validate(root), [str(e) for e in dtd.error_log.filter_from_errors()][:3]


@pytest.mark.parametrize(
    ("code", "text", "detail"), [(200, "OK", "Successful - invoice id: 9532"), (406, "Not Acceptable", "")]
)
def test_the_sandboxes_responses_are_valid_cxml(
    cxml_core_dtd: etree.DTD, code: int, text: str, detail: str
) -> None:
    body = render_response(code, text, "r.1@sandbox.test", T0, detail=detail)
    _assert_valid(cxml_core_dtd, body)
    assert read_response_code(body) == code


def test_a_receivers_answer_without_cxml_has_no_code() -> None:
    assert read_response_code(b"<html><body>OK</body></html>") is None
    assert read_response_code(b"not xml") is None
    assert read_response_code(b'<cXML><Response><Status code="x" text=""/></Response></cXML>') is None


@pytest.mark.parametrize(
    "message",
    [
        StatusMessage("InvoiceStatus", "processing", T0),
        StatusMessage(
            "InvoiceStatus", "paid", T0 + timedelta(days=3), ("Paid by ACH.",), Decimal("1520.50"), "USD"
        ),
        StatusMessage(
            "InvoiceStatus", "rejected", T0, ("INV-143: Cannot create a non-PO invoice.", "Second note.")
        ),
        StatusMessage("DocumentStatus", "approved", T0, ("Approved for payment by ACME.",)),
    ],
    ids=["processing", "paid", "rejected", "approved"],
)
@pytest.mark.parametrize("document_payload_id", ["INV-1.1@portalhub.test", None])
def test_pushed_status_updates_are_valid_cxml(
    cxml_core_dtd: etree.DTD, message: StatusMessage, document_payload_id: str | None
) -> None:
    body = render_status_update(
        message,
        payload_id="push.1@sandbox.ariba.test",
        document_payload_id=document_payload_id,
        invoice_number="INV-1",
        invoice_date="2026-11-20T00:00:00-06:00",
        buyer=Party("NetworkID", "AN01000054321-T"),
        supplier=Party("NetworkID", "AN02000012345-T"),
        sender=Party("NetworkID", "AN01000000001"),
        shared_secret="not-a-real-secret",
        deployment_mode="test",
    )
    _assert_valid(cxml_core_dtd, body)
    update = read_document(body).root.find(f"Request/StatusUpdateRequest/{message.kind}")
    assert update is not None and update.get("type") == message.type
    assert [c.text for c in update.findall("Comments")] == list(message.comments)
