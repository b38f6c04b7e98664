"""Documents written by hand from the standards (fixtures/portal_documents/, see its README), fed to
each connector's parsers over a real socket and to the sandboxes' own readers: not only what the
hub's renderer produces. Every document with a DOCTYPE is validated here against its official DTD.

One parametrised test per family; each family's `cases.yaml` says what must come of each document,
and a meta-test keeps documents and cases in step."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from lxml import etree

from connectors.base import Receipt
from connectors.sandbox.ariba import AribaSandbox
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.cxml import (
    DtdLibrary,
    OrderReference,
    UnreadableDocument,
    UnreadableInvoice,
    read_document,
    read_invoice,
)
from connectors.sandbox.server import Reply, Request, SandboxServer
from hub.errors import InDoubtError, PermanentPortalError, PortalAuthError, TransientPortalError
from tests.connectors import ariba_support, support
from tests.connectors.support import ScriptedPortal
from tests.factories import T0, buyer_config, make_invoice

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = ROOT / "fixtures" / "portal_documents"
FAMILIES = ("cxml_response", "ariba_refusals", "coupa_status_api", "cxml_invoice")
OUTCOMES: dict[str, type[Exception] | type[Receipt]] = {
    "accepted": Receipt,
    "rejected": PermanentPortalError,
    "auth": PortalAuthError,
    "transient": TransientPortalError,
    "in_doubt": InDoubtError,
}
HAND_SECRET = "not-a-real-secret"  # what the hand-written invoices carry as SharedSecret
COUPA_PO_PAYLOAD = "1762000000.9001.po@acme.coupahost.com"
ARIBA_PO_PAYLOAD = "1762000000.77.order@ariba.com"
_SYSTEM_ID = re.compile(r"/schemas/cXML/(\d+\.\d+\.\d+)/(\w+\.dtd)$")


def _cases(family: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCUMENTS / family / "cases.yaml").read_text(encoding="utf-8"))
    return loaded


def _body(family: str, name: str) -> bytes:
    return (DOCUMENTS / family / name).read_bytes()


def test_every_document_has_its_case_and_every_case_its_document() -> None:
    for family in FAMILIES:
        files = {p.name for p in (DOCUMENTS / family).iterdir() if p.suffix in (".xml", ".json")}
        assert files and files == set(_cases(family)), family
    assert (DOCUMENTS / "README.md").is_file()


def _doctype_dtd(body: bytes, refs: Path) -> Path | None:
    """The official DTD a document's DOCTYPE names. A Response of a version whose cXML.dtd the
    references lack is validated with that version's InvoiceDetail.dtd, which declares the same
    cXML envelope, Response and Status (README: "Which DTD")."""
    system_id = read_document(body).system_id
    if system_id is None:
        return None
    named = _SYSTEM_ID.search(system_id)
    assert named is not None, f"not an official cXML system id: {system_id}"
    version, filename = named.groups()
    path = refs / version / filename
    return path if path.is_file() else refs / version / "InvoiceDetail.dtd"


def _assert_valid(body: bytes, dtd_path: Path) -> None:
    dtd = etree.DTD(str(dtd_path))
    root = read_document(body).root
    assert dtd.validate(root), [str(e) for e in dtd.error_log.filter_from_errors()][:3]


# --- cXML Response documents, read by the Coupa and Ariba connectors -----------------------------------------


def _response_params() -> list[Any]:
    return [
        pytest.param(name, portal, expected, id=f"{portal}-{name}")
        for name, by_portal in _cases("cxml_response").items()
        for portal, expected in by_portal.items()
    ]


def _submit_against(
    portal: str,
    reply: Reply,
    scripted: tuple[ScriptedPortal, SandboxServer],
    http: httpx.Client,
    folder: Path,
) -> Receipt:
    script, server = scripted
    script.reply = reply
    if portal == "coupa":
        coupa = support.make_connector(http)
        return support.send(coupa, support.write_profile(folder, server.url), make_invoice("INV-1"))
    ariba = ariba_support.make_ariba_connector(http)
    profile = ariba_support.write_ariba_profile(folder, server.url, status_mode="poll")
    return ariba_support.send(ariba, profile, make_invoice("INV-1"))


def _outcome(
    portal: str,
    reply: Reply,
    scripted: tuple[ScriptedPortal, SandboxServer],
    http: httpx.Client,
    folder: Path,
) -> Receipt | Exception:
    try:
        return _submit_against(portal, reply, scripted, http, folder)
    except (PermanentPortalError, PortalAuthError, TransientPortalError, InDoubtError) as exc:
        return exc


@pytest.mark.parametrize(("name", "portal", "expected"), _response_params())
def test_cxml_responses(
    name: str,
    portal: str,
    expected: dict[str, Any],
    scripted: tuple[ScriptedPortal, SandboxServer],
    http: httpx.Client,
    tmp_path: Path,
    cxml_refs: Path,
) -> None:
    body = _body("cxml_response", name)
    dtd = _doctype_dtd(body, cxml_refs)
    if dtd is not None:
        _assert_valid(body, dtd)
    result = _outcome(portal, Reply(200, body, "text/xml; charset=UTF-8"), scripted, http, tmp_path)
    assert type(result) is OUTCOMES[expected["outcome"]], result
    if "portal_code" in expected:
        assert getattr(result, "portal_code", None) == expected["portal_code"]
    if "portal_invoice_id" in expected:
        assert isinstance(result, Receipt) and result.portal_invoice_id == expected["portal_invoice_id"]
    if "text" in expected:
        assert getattr(result, "portal_text", None) == expected["text"]
    if "category" in expected or "duplicate" in expected:
        assert isinstance(result, PermanentPortalError)
        assert result.category.value == expected.get("category", result.category.value)
        assert result.duplicate is expected.get("duplicate", result.duplicate)


# --- Ariba's coded refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), sorted(_cases("ariba_refusals").items()))
def test_ariba_coded_refusals(
    name: str,
    expected: dict[str, Any],
    scripted: tuple[ScriptedPortal, SandboxServer],
    http: httpx.Client,
    tmp_path: Path,
    cxml_refs: Path,
) -> None:
    body = _body("ariba_refusals", name)
    dtd = _doctype_dtd(body, cxml_refs)
    if dtd is not None:
        _assert_valid(body, dtd)
    result = _outcome("ariba", Reply(200, body, "text/xml"), scripted, http, tmp_path)
    assert type(result) is PermanentPortalError, result
    assert result.portal_code == expected["code"]
    assert result.category.value == expected["category"]
    assert result.duplicate is expected["duplicate"]
    # The network's words are kept verbatim (whitespace around them aside).
    status = read_document(body).root.find("Response/Status")
    assert status is not None and " ".join((status.text or "").split()) in (result.portal_text or "")


# --- Coupa's invoices API (JSON and XML) ---------------------------------------------------------------------


def _coupa_api(body: bytes, content_type: str) -> Any:
    def answer(request: Request) -> Reply:
        if request.path.endswith("/oauth2/token"):
            token = b'{"access_token": "t-1", "token_type": "bearer", "expires_in": 3600}'
            return Reply(200, token, "application/json")
        if request.path.endswith("/api/v1/invoices"):
            return Reply(200, body, content_type)
        return Reply(404, b"not found")

    return answer


@pytest.mark.parametrize(("name", "expected"), sorted(_cases("coupa_status_api").items()))
def test_coupa_status_api_answers(
    name: str,
    expected: dict[str, Any],
    scripted: tuple[ScriptedPortal, SandboxServer],
    http: httpx.Client,
    tmp_path: Path,
) -> None:
    script, server = scripted
    script.reply = _coupa_api(_body("coupa_status_api", name), expected["content_type"])
    connector = support.make_connector(http)
    result = connector.poll(support.write_profile(tmp_path, server.url), None)
    assert result.unreadable == []
    found = [
        {
            "portal_invoice_id": u.portal_invoice_id,
            "invoice_number": u.invoice_number,
            "state": u.state.value if u.state else None,
            "raw_status": u.raw_status,
            "reason_code": u.reason_code,
            "reason": u.reason,
            "category": u.category.value if u.category else None,
            "paid_amount": u.paid_amount,
            "payment_date": u.payment_date.isoformat() if u.payment_date else None,
        }
        for u in result.updates
    ]
    wanted = expected["updates"]
    assert len(found) == len(wanted)
    for got, want in zip(found, wanted, strict=True):
        for key, value in want.items():
            if key == "paid_amount" and value is not None:
                assert got[key] == Decimal(value), key
            else:
                assert got[key] == value, key
    assert all(u.occurred_at.tzinfo is not None for u in result.updates)


# --- cXML invoices, read and judged by the sandbox portals ---------------------------------------------------


def _order(reference: OrderReference) -> str:
    if reference.order_id:
        return reference.order_id
    if reference.order_payload_id:
        return f"payload:{reference.order_payload_id}"
    if reference.agreement_id:
        return f"contract:{reference.agreement_id}"
    return f"supplier:{reference.supplier_order_id}"


@pytest.fixture
def portals(cxml_refs: Path) -> Iterator[dict[str, tuple[Any, str]]]:
    coupa_config = buyer_config(shared_secret=HAND_SECRET)
    coupa_config.buyers[0].purchase_orders[0].payload_id = COUPA_PO_PAYLOAD
    coupa = CoupaSandbox(coupa_config, SandboxClock(start=T0), cxml_refs=cxml_refs)
    ariba_config = ariba_support.ariba_config(require_tax_id=True)
    ariba_config.suppliers = {ariba_support.SUPPLIER_ANID: HAND_SECRET}
    ariba_config.buyers[0].orders[0].payload_id = ARIBA_PO_PAYLOAD
    ariba = AribaSandbox(ariba_config, SandboxClock(start=T0), cxml_refs=cxml_refs)
    coupa_server, ariba_server = coupa.serve(), ariba.serve()
    yield {
        "coupa": (coupa, f"{coupa_server.url}/acme/cxml/invoices"),
        "ariba": (ariba, f"{ariba_server.url}/service/transaction/cxml.asp"),
    }
    coupa_server.stop()
    ariba.stop()


@pytest.mark.parametrize(("name", "expected"), sorted(_cases("cxml_invoice").items()))
def test_cxml_invoices_read_by_the_sandboxes(
    name: str,
    expected: dict[str, Any],
    portals: dict[str, tuple[Any, str]],
    http: httpx.Client,
    cxml_refs: Path,
) -> None:
    body = _body("cxml_invoice", name)
    library = DtdLibrary(cxml_refs)
    if "not_read" in expected:
        with pytest.raises(UnreadableDocument, match=expected["not_read"]):
            read_document(body)
    else:
        document = read_document(body)
        choice = library.choose(document)
        assert str(choice) == expected.get("dtd", expected.get("dtd_refuses"))
        problems = library.problems(document, choice) if not isinstance(choice, str) else [choice]
        if "dtd" in expected:
            assert problems == []
            _assert_valid(body, cxml_refs / expected["dtd"])  # and lxml agrees, outside the sandbox's code
        else:
            assert problems and all(p.startswith("line ") for p in problems)
        if "unreadable" in expected:
            with pytest.raises(UnreadableInvoice) as raised:
                read_invoice(document.root)
            assert str(raised.value) == expected["unreadable"]
        if "reads" in expected:
            _assert_reads(read_invoice(document.root), expected["reads"])

    if expected["portal"] is None:
        return  # read only: no portal fact says how a portal answers this form
    sandbox, url = portals[expected["portal"]]
    answer = http.post(url, content=body, headers={"Content-Type": "text/xml; charset=UTF-8"})
    status = read_document(answer.content).root.find("Response/Status")
    assert status is not None
    words = " ".join(part for part in (status.get("text"), (status.text or "").strip()) if part)
    assert (int(status.get("code", "0")), expected["answer"]["words"] in words) == (
        expected["answer"]["code"],
        True,
    ), words
    if isinstance(sandbox, CoupaSandbox) and "dtd_refuses" in expected:
        # Coupa answers with its published text only; the sandbox keeps which DTD refused and why.
        assert sandbox.last_dtd_problems[0] == expected["dtd_refuses"]
        assert sandbox.last_dtd_problems[1].startswith("line ")
    held = [i for i in sandbox.invoices if i.number.startswith("HW-")]
    if expected["answer"]["code"] < 300:
        assert len(held) == 1 and held[0].parsed is not None and held[0].parsed.number == held[0].number
    else:
        assert held == []


def _assert_reads(invoice: Any, reads: dict[str, Any]) -> None:
    assert invoice.number == reads["number"]
    assert [_order(o) for o in invoice.orders] == reads["orders"]
    assert [line.part for line in invoice.lines] == reads["lines"]
    assert invoice.amount_due.amount == Decimal(reads["net"]) and invoice.net.currency == "USD"
    if "tax" in reads:
        assert invoice.tax.amount.amount == Decimal(reads["tax"])
    if "supplier_tax_id" in reads:
        assert invoice.supplier_tax_id == reads["supplier_tax_id"]
    if "pay_in_days" in reads:
        assert list(invoice.pay_in_days) == reads["pay_in_days"]
    if "extrinsics" in reads:
        assert invoice.extrinsics == reads["extrinsics"]
