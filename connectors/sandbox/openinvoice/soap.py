"""The SOAP face of the OpenInvoice sandbox: the WSDL, and a hand-written SOAP 1.1 endpoint.

Envelopes are parsed as untrusted XML (documents.parse_xml: no entities, DTDs or network), signed in with a WS-Security
UsernameToken (PasswordDigest or PasswordText), dispatched on the Body's first element, and answered
document/literal as `invoice-service.wsdl` describes; problems are SOAP faults with a ServiceFault
detail (Code, Retryable, Message). `inject_fault` makes the next call fail with a chosen fault, for the
tests of fault handling.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from lxml import etree

from connectors.sandbox.openinvoice.documents import DocumentError, Part, parse_xml
from connectors.sandbox.openinvoice.portal import OpenInvoicePortal, SupplierAccount
from connectors.sandbox.openinvoice.response import render_response
from connectors.sandbox.server import Reply, Request

SOAP_PATH = "/openinvoice/InvoiceService"
SVC = "urn:portalhub:openinvoice-sandbox:invoice-service:v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PLACEHOLDER_ADDRESS = "http://openinvoice-sandbox.invalid"
MAX_RECORDS = 1000


def wsdl_text() -> str:
    """The service description shipped with the sandbox (package data)."""
    return (resources.files("connectors.sandbox.openinvoice") / "invoice-service.wsdl").read_text(
        encoding="utf-8"
    )


@dataclass(frozen=True)
class SoapFault:
    code: str  # Client or Server
    text: str
    detail_code: str | None = None
    retryable: bool | None = None


class _Fault(Exception):
    def __init__(self, fault: SoapFault):
        super().__init__(fault.text)
        self.fault = fault


def _q(name: str) -> str:
    return f"{{{SVC}}}{name}"


def _child_text(parent: etree._Element, name: str) -> str | None:
    node = parent.find(_q(name))
    return (node.text or "").strip() if node is not None else None


class SoapEndpoint:
    """Serves GET <path>?wsdl and POST <path> for one portal."""

    def __init__(self, portal: OpenInvoicePortal):
        self.portal = portal
        self._wsdl = wsdl_text()
        self._faults: list[SoapFault] = []
        self._lock = threading.Lock()

    def inject_fault(self, fault: SoapFault) -> None:
        """The next SOAP call answers with this fault, without being processed."""
        with self._lock:
            self._faults.append(fault)

    def handle(self, request: Request) -> Reply | None:
        if request.path not in (SOAP_PATH, SOAP_PATH + ".wsdl"):
            return None
        if request.method == "GET" and (
            "wsdl" in {k.lower() for k in request.query} or request.path.endswith(".wsdl")
        ):
            # The address is this server's, as the client reached it.
            host = request.headers.get("host", "127.0.0.1")
            text = self._wsdl.replace(PLACEHOLDER_ADDRESS, f"http://{host}")
            return Reply(200, text.encode("utf-8"), "text/xml; charset=utf-8")
        if request.method != "POST":
            return Reply(405, b"use POST for SOAP calls, GET ?wsdl for the description")
        try:
            return self._call(request)
        except _Fault as failure:
            return _fault_reply(failure.fault)

    def _call(self, request: Request) -> Reply:
        try:
            envelope = parse_xml(request.body)
        except DocumentError as exc:
            raise _Fault(
                SoapFault("Client", f"Could not parse the SOAP message: {exc}", "MALFORMED", False)
            ) from None
        if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
            raise _Fault(SoapFault("Client", "The message is not a SOAP 1.1 Envelope.", "MALFORMED", False))
        body = envelope.find(f"{{{SOAP_ENV}}}Body")
        operation = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
        if operation is None:
            raise _Fault(SoapFault("Client", "The SOAP Body is empty.", "MALFORMED", False))
        supplier = self._sign_in(envelope)
        with self._lock:
            injected = self._faults.pop(0) if self._faults else None
        if injected is not None:
            raise _Fault(injected)
        name = etree.QName(operation).localname
        if etree.QName(operation).namespace != SVC or name not in (
            "SubmitInvoice",
            "GetInvoiceStatus",
            "ListInvoiceChanges",
        ):
            raise _Fault(
                SoapFault("Client", f"Unknown operation {operation.tag}.", "UNKNOWN_OPERATION", False)
            )
        if name == "SubmitInvoice":
            answer = self._submit(supplier, operation)
        elif name == "GetInvoiceStatus":
            answer = self._status(supplier, operation)
        else:
            answer = self._changes(supplier, operation)
        return _envelope_reply(answer)

    def _sign_in(self, envelope: etree._Element) -> SupplierAccount:
        token = envelope.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        refused = SoapFault(
            "Client", "Authentication failed: unknown user or wrong password.", "AUTHENTICATION", False
        )
        if token is None:
            raise _Fault(
                SoapFault("Client", "A WS-Security UsernameToken is required.", "AUTHENTICATION", False)
            )
        username = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
        password = token.find(f"{{{WSSE}}}Password")
        supplier = self.portal.supplier_by_username(username)
        if supplier is None or password is None:
            raise _Fault(refused)
        given = (password.text or "").strip()
        if password.get("Type", "").endswith("#PasswordDigest"):
            # PasswordDigest = Base64(SHA-1(nonce + created + password)), the nonce base64-decoded.
            try:
                nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "", validate=True)
            except ValueError:
                raise _Fault(refused) from None
            created = (token.findtext(f"{{{WSU}}}Created") or "").strip()
            expected = base64.b64encode(
                hashlib.sha1(nonce + created.encode() + supplier.soap_password.encode()).digest()
            ).decode()
        else:
            expected = supplier.soap_password
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise _Fault(refused)
        return supplier

    def _submit(self, supplier: SupplierAccount, operation: etree._Element) -> etree._Element:
        document = operation.find(_q("Document"))
        invoice = (
            next((c for c in document if isinstance(c.tag, str)), None) if document is not None else None
        )
        if invoice is None:
            raise _Fault(
                SoapFault("Client", "SubmitInvoice needs a Document with a PIDX invoice.", "MALFORMED", False)
            )
        parts = []
        for attachment in operation.findall(_q("Attachment")):
            try:
                content = base64.b64decode(_child_text(attachment, "Content") or "", validate=True)
            except ValueError:
                raise _Fault(
                    SoapFault("Client", "An Attachment's Content is not base64.", "MALFORMED", False)
                ) from None
            parts.append(
                Part(
                    content_id=_child_text(attachment, "ContentId") or "",
                    filename=_child_text(attachment, "FileName") or "attachment",
                    content_type=_child_text(attachment, "ContentType") or "application/octet-stream",
                    content=content,
                )
            )
        verdict = self.portal.receive(supplier, etree.tostring(invoice), parts, "soap")
        answer = etree.Element(_q("SubmitInvoiceResponse"), nsmap={"svc": SVC})
        if verdict.invoice is not None:
            etree.SubElement(answer, _q("InvoiceId")).text = verdict.invoice.id
        response = parse_xml(
            render_response(verdict.response(self.portal.response_number(), self.portal.clock.now()))
        )
        etree.SubElement(answer, _q("Response")).append(response)
        return answer

    def _status(self, supplier: SupplierAccount, operation: etree._Element) -> etree._Element:
        number = _child_text(operation, "InvoiceNumber") or ""
        record = self.portal.lookup(supplier, number)
        answer = etree.Element(_q("GetInvoiceStatusResponse"), nsmap={"svc": SVC})
        if record is not None:
            answer.append(_record(record))
        etree.SubElement(answer, _q("Found")).text = "true" if record is not None else "false"
        return answer

    def _changes(self, supplier: SupplierAccount, operation: etree._Element) -> etree._Element:
        since_text = _child_text(operation, "ChangedSince")
        try:
            since = datetime.fromisoformat(since_text.replace("Z", "+00:00")) if since_text else None
            start = int(_child_text(operation, "StartIndex") or "0")
            count = min(int(_child_text(operation, "MaxRecords") or "100"), MAX_RECORDS)
        except ValueError:
            raise _Fault(
                SoapFault(
                    "Client", "ChangedSince, StartIndex or MaxRecords is malformed.", "MALFORMED", False
                )
            ) from None
        if since is not None and since.tzinfo is None:
            raise _Fault(SoapFault("Client", "ChangedSince needs a time zone.", "MALFORMED", False))
        rows = self.portal.changes(supplier, since)
        page = rows[start : start + count]
        answer = etree.Element(_q("ListInvoiceChangesResponse"), nsmap={"svc": SVC})
        for record in page:
            answer.append(_record(record))
        etree.SubElement(answer, _q("MoreAvailable")).text = "true" if start + count < len(rows) else "false"
        return answer


def _record(record: dict[str, Any]) -> etree._Element:
    node = etree.Element(_q("Record"))
    for field, name in (
        ("invoiceId", "InvoiceId"),
        ("invoiceNumber", "InvoiceNumber"),
        ("status", "Status"),
        ("lastActionDate", "LastActionDate"),
        ("reasonCode", "ReasonCode"),
    ):
        if record.get(field) is not None:
            etree.SubElement(node, _q(name)).text = str(record[field])
    for comment in record.get("comments") or []:
        etree.SubElement(node, _q("Comment")).text = comment
    if record.get("paidAmount") is not None:
        etree.SubElement(node, _q("PaidAmount")).text = str(record["paidAmount"])
    if record.get("paymentDate") is not None:
        etree.SubElement(node, _q("PaymentDate")).text = str(record["paymentDate"])
    if record.get("invoiceTotal") is not None:
        etree.SubElement(node, _q("InvoiceTotal")).text = str(record["invoiceTotal"])
    if record.get("currency"):
        etree.SubElement(node, _q("CurrencyCode")).text = str(record["currency"])
    return node


def _envelope(content: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(content)
    body: bytes = etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)
    return body


def _envelope_reply(content: etree._Element) -> Reply:
    return Reply(200, _envelope(content), "text/xml; charset=utf-8")


def _fault_reply(fault: SoapFault) -> Reply:
    node = etree.Element(f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(node, "faultcode").text = f"soap:{fault.code}"
    etree.SubElement(node, "faultstring").text = fault.text
    if fault.detail_code is not None:
        detail = etree.SubElement(etree.SubElement(node, "detail"), _q("ServiceFault"), nsmap={"svc": SVC})
        etree.SubElement(detail, _q("Code")).text = fault.detail_code
        etree.SubElement(detail, _q("Retryable")).text = "true" if fault.retryable else "false"
        etree.SubElement(detail, _q("Message")).text = fault.text
    # SOAP 1.1 over HTTP: a fault travels with HTTP 500.
    return Reply(500, _envelope(node), "text/xml; charset=utf-8")
