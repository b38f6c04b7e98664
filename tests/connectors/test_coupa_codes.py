"""Every answer Coupa can give to a cXML invoice, scripted on a real socket, and what the connector makes
of it: a Receipt, or the exception (class, category, duplicate flag, Retry-After) the hub acts on."""

from __future__ import annotations

import email.utils
import gzip
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from connectors.base import Receipt
from connectors.sandbox.server import Reply, SandboxServer
from hub.errors import (
    InDoubtError,
    PermanentPortalError,
    PortalAuthError,
    PortalhubError,
    TransientPortalError,
)
from hub.model import RejectionCategory
from tests.connectors.support import (
    INVOICE_PATH,
    ScriptedPortal,
    cxml_reply,
    make_connector,
    send,
    write_profile,
)
from tests.factories import T0, make_invoice

HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Case:
    reply: Reply
    outcome: type[Receipt] | type[PortalhubError]
    category: RejectionCategory | None = None
    duplicate: bool = False
    retry_after: float | None = None
    portal_invoice_id: str | None = None
    status_known: bool = True  # False: the answer could not even be decoded, so no HTTP status is kept


def html(status: int, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, f"<html><body><h1>{status}</h1></body></html>".encode(), HTML, headers or {})


DUPLICATE_WORDS = "Invoice number INV-1 has already been used for this supplier."
RETRY_DATE = email.utils.format_datetime(T0 + timedelta(seconds=90), usegmt=True)

CXML_CASES = {
    "200-ok": Case(cxml_reply(200, "OK", "Successful - invoice id: 9532"), Receipt, portal_invoice_id="9532"),
    "201-accepted": Case(cxml_reply(201, "Accepted"), Receipt),
    "204-no-content": Case(cxml_reply(204, "No Content"), Receipt),
    "400-bad-request": Case(cxml_reply(400, "Bad Request"), PermanentPortalError, RejectionCategory.DOCUMENT),
    "401-credentials": Case(cxml_reply(401, "Invalid credentials."), PortalAuthError),
    "403-not-enabled": Case(cxml_reply(403, "cXML invoicing not allowed for supplier."), PortalAuthError),
    "406-parse": Case(
        cxml_reply(406, "Could not parse cXML document."), PermanentPortalError, RejectionCategory.DOCUMENT
    ),
    "406-dtd": Case(
        cxml_reply(406, "Request did not validate successfully with DTD."),
        PermanentPortalError,
        RejectionCategory.DOCUMENT,
    ),
    "409-conflict": Case(cxml_reply(409, "Conflict"), TransientPortalError),
    "412-precondition": Case(
        cxml_reply(412, "Precondition Failed"), PermanentPortalError, RejectionCategory.OTHER
    ),
    "417-reference": Case(
        cxml_reply(417, "Invalid order/document reference."), PermanentPortalError, RejectionCategory.PO
    ),
    "417-attributes": Case(
        cxml_reply(417, "Invalid attributes in document."),
        PermanentPortalError,
        RejectionCategory.MISSING_FIELD,
    ),
    "417-duplicate": Case(
        cxml_reply(417, "Invalid attributes in document.", DUPLICATE_WORDS),
        PermanentPortalError,
        RejectionCategory.DUPLICATE,
        duplicate=True,
    ),
    "450-version": Case(
        cxml_reply(450, "cXML Version of document is not supported."),
        PermanentPortalError,
        RejectionCategory.DOCUMENT,
    ),
    "475-signature": Case(cxml_reply(475, "Signature Required"), PortalAuthError),
    "500-could-not-create": Case(
        cxml_reply(500, "Server could not create invoice."), PermanentPortalError, RejectionCategory.PO
    ),
    # Coupa may have created the invoice before failing: reconcile with lookup before any resend.
    "500-unexpected": Case(cxml_reply(500, "Unexpected server error."), InDoubtError),
    "500-unexpected-in-http-500": Case(
        cxml_reply(500, "Unexpected server error.", http_status=500), InDoubtError
    ),
    "550-unreachable": Case(cxml_reply(550, "Unable to reach cXML server"), TransientPortalError),
    "551-unable-to-forward": Case(cxml_reply(551, "Unable to forward request"), TransientPortalError),
    "560-temporary": Case(cxml_reply(560, "Temporary server error"), TransientPortalError),
    # HTTP 200 can carry a cXML refusal; the cXML status decides.
    "401-in-http-200": Case(cxml_reply(401, "Invalid credentials.", http_status=200), PortalAuthError),
}

HTTP_CASES = {
    "http-429-seconds": Case(
        Reply(429, b"Too Many Requests", headers={"Retry-After": "7"}), TransientPortalError, retry_after=7.0
    ),
    "http-429-date": Case(
        Reply(429, b"Too Many Requests", headers={"Retry-After": RETRY_DATE}),
        TransientPortalError,
        retry_after=90.0,
    ),
    "http-429-no-header": Case(Reply(429, b"Too Many Requests"), TransientPortalError),
    "http-502-html": Case(html(502), TransientPortalError),
    "http-503-html": Case(html(503), TransientPortalError),
    "http-504-html": Case(html(504), TransientPortalError),
    "http-404-html": Case(html(404), PermanentPortalError, RejectionCategory.CONFIG),
    "http-405-html": Case(html(405), PermanentPortalError, RejectionCategory.CONFIG),
    "http-400-html": Case(html(400), PermanentPortalError, RejectionCategory.OTHER),
    "http-401-html": Case(html(401), PortalAuthError),
    "http-403-html": Case(html(403), PortalAuthError),
    "http-200-truncated": Case(
        Reply(200, cxml_reply(200, "OK", "Successful - invoice id: 9532").body[:-40], "text/xml"),
        InDoubtError,
    ),
    "http-200-empty": Case(Reply(200, b"", "text/xml"), InDoubtError),
    "http-200-not-cxml": Case(Reply(200, b"<html><body>Thanks!</body></html>", HTML), InDoubtError),
    "http-500-html": Case(html(500), InDoubtError),
    # The body was answered but cannot be decoded: httpx raises DecodingError, not a TransportError.
    "http-200-bad-gzip": Case(
        Reply(200, b"this is not gzip", "text/xml", {"Content-Encoding": "gzip"}),
        InDoubtError,
        status_known=False,
    ),
}


@pytest.mark.parametrize("case", list({**CXML_CASES, **HTTP_CASES}.values()), ids=[*CXML_CASES, *HTTP_CASES])
def test_each_portal_answer_is_classified(
    case: Case, scripted: tuple[ScriptedPortal, SandboxServer], http: httpx.Client, tmp_path: Path
) -> None:
    portal, server = scripted
    portal.reply = case.reply
    profile = write_profile(tmp_path, server.url)
    connector = make_connector(http)

    if case.outcome is Receipt:
        receipt = send(connector, profile, make_invoice("INV-1"))
        assert receipt.portal_invoice_id == case.portal_invoice_id
        outcome: object = receipt
    else:
        with pytest.raises(PortalhubError) as raised:
            send(connector, profile, make_invoice("INV-1"))
        outcome = raised.value

    assert type(outcome) is case.outcome
    assert getattr(outcome, "category", None) is case.category
    assert getattr(outcome, "duplicate", False) is case.duplicate
    assert getattr(outcome, "retry_after", None) == case.retry_after
    assert getattr(outcome, "http_status", None) == (case.reply.status if case.status_known else None)
    # One invoice, one request: submissions are never retried inside the connector.
    assert server.requests == {f"POST {INVOICE_PATH}": 1}
    assert portal.received[0].body.startswith(b"<?xml")


@pytest.mark.parametrize("case", list(CXML_CASES.values()), ids=list(CXML_CASES))
def test_coupas_code_and_words_are_kept_verbatim(
    case: Case, scripted: tuple[ScriptedPortal, SandboxServer], http: httpx.Client, tmp_path: Path
) -> None:
    portal, server = scripted
    portal.reply = case.reply
    profile = write_profile(tmp_path, server.url)
    status = _status_of(case.reply.body)

    try:
        outcome: object = send(make_connector(http), profile, make_invoice("INV-1"))
    except PortalhubError as exc:
        outcome = exc

    if isinstance(outcome, InDoubtError):
        # An in-doubt answer keeps the whole body for the audit trail.
        assert outcome.response_body == case.reply.body.decode()
        return
    assert getattr(outcome, "portal_code", None) == status[0]
    assert getattr(outcome, "portal_text", None) == status[1]
    assert getattr(outcome, "response_body", None) == case.reply.body.decode()
    if not isinstance(outcome, Receipt):
        assert f"Coupa {status[0]}: {status[1]}" in str(outcome)


def _status_of(body: bytes) -> tuple[str, str]:
    """(code, words) as written in the scripted Response: `text` then the element's content."""
    from lxml import etree

    node = etree.fromstring(body).find("Response/Status")
    assert node is not None
    words = " ".join(part for part in (node.get("text"), (node.text or "").strip()) if part)
    return node.get("code", ""), words


def test_a_gzip_answer_is_decoded(
    scripted: tuple[ScriptedPortal, SandboxServer], http: httpx.Client, tmp_path: Path
) -> None:
    # The counterpart of the bad-gzip case: a well-encoded answer is read normally.
    portal, server = scripted
    body = cxml_reply(200, "OK", "Successful - invoice id: 77").body
    portal.reply = Reply(200, gzip.compress(body), "text/xml", {"Content-Encoding": "gzip"})

    receipt = send(make_connector(http), write_profile(tmp_path, server.url), make_invoice("INV-1"))

    assert receipt.portal_invoice_id == "77"
