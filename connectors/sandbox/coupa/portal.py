"""The Coupa sandbox's behaviour: invoices in over cXML, the supplier REST API out, and `/_sandbox/...`
control; statuses are computed from the portal's clock, so nothing runs in the background."""

from __future__ import annotations

import itertools
import json
import secrets as token_generator
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.control import control_reply
from connectors.sandbox.coupa.api import filter_rows, xml_listing
from connectors.sandbox.coupa.checks import (
    Refusal,
    check_buyer_requirements,
    check_lines,
    read,
    split_multipart,
)
from connectors.sandbox.coupa.config import CoupaBuyer, CoupaSandboxConfig
from connectors.sandbox.coupa.records import PortalInvoice, record
from connectors.sandbox.cxml import DtdLibrary, read_document, render_response
from connectors.sandbox.server import FaultPlan, Reply, Request, SandboxServer


class CoupaSandbox:
    """The portal's behaviour; `serve()` puts it on a socket."""

    def __init__(
        self, config: CoupaSandboxConfig, clock: SandboxClock | None = None, cxml_refs: Path | None = None
    ):
        """`cxml_refs`: the folder of official cXML DTDs; without it (nor config nor environment), the
        portal checks no DTD."""
        self.config = config
        self.clock = clock or SandboxClock()
        self.buyers = {b.instance: b for b in config.buyers}
        self.dtds = DtdLibrary.configured(cxml_refs or config.cxml_refs)
        self.last_dtd_problems: list[str] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(9500)
        self.invoices: list[PortalInvoice] = []
        self.received = 0  # every invoice POST that reached the handler
        self._tokens: dict[str, datetime] = {}
        self.server: SandboxServer | None = None
        now = self.clock.now()
        for existing in config.existing_invoices:
            self.invoices.append(
                PortalInvoice(
                    id=next(self._ids),
                    instance=existing.instance,
                    number=existing.number,
                    payload_id="",
                    purpose="standard",
                    created_at=now - timedelta(days=300),
                    total=existing.total,
                    currency=existing.currency,
                    timeline=[(now - timedelta(days=300), existing.status)],
                    content={
                        "invoice_date": existing.invoice_date,
                        "po_number": existing.po_number,
                        "lines": [(n, a) for n, a in enumerate(existing.line_amounts, 1)],
                    },
                )
            )

    # --- serving --------------------------------------------------------------------------------------
    def serve(self, port: int = 0, faults: FaultPlan | None = None, latency: float = 0.0) -> SandboxServer:
        self.server = SandboxServer(
            self.handle, port=port, faults=faults, latency=latency, identify=self.identify
        ).start()
        return self.server

    def identify(self, request: Request) -> tuple[str, str] | None:
        """(invoice number, payloadID) of an invoice POST, read without judging it, for the receipt log
        (a request refused before processing is a receipt too); ("", "") when unreadable."""
        parts = [p for p in request.path.split("/") if p]
        if request.method != "POST" or len(parts) != 3 or parts[1:] != ["cxml", "invoices"]:
            return None
        try:
            root = read_document(split_multipart(request)[0]).root
        except Exception:  # whatever is wrong with it, the handler judges it; the log only notes it came
            return ("", "")
        head = root.find("Request/InvoiceDetailRequest/InvoiceDetailRequestHeader")
        return (head.get("invoiceID", "") if head is not None else "", root.get("payloadID", ""))

    def handle(self, request: Request) -> Reply:
        parts = [p for p in request.path.split("/") if p]
        if request.method == "POST" and len(parts) == 3 and parts[1:] == ["cxml", "invoices"]:
            return self._receive_invoice(parts[0], request)
        if request.method == "POST" and parts == ["oauth2", "token"]:
            return self._token(request)
        if request.method == "GET" and parts == ["api", "v1", "invoices"]:
            return self._list(request)
        if parts[:1] == ["_sandbox"]:
            return self._control(request, parts[1:])
        return Reply(404, b"not found")

    # --- cXML invoices -------------------------------------------------------------------------------
    def _receive_invoice(self, instance: str, request: Request) -> Reply:
        with self._lock:
            self.received += 1
        now = self.clock.now()
        payload = f"{now.timestamp():.0f}.{token_generator.token_hex(6)}@sandbox.coupahost.test"
        try:
            buyer = self.buyers.get(instance)
            if buyer is None:
                return Reply(404, b"no such Coupa instance", outcome="refused-access")
            xml, attachments = split_multipart(request)
            invoice = self._check(buyer, xml, now)
            invoice.attachments = attachments
            text = f"Successful - invoice id: {invoice.id}"
            reply = _cxml_reply(render_response(200, "OK", payload, now, detail=text))
            # A new invoice holds this very document; a cancel answers with the invoice it voided.
            reply.outcome = "created" if invoice.document is xml else "cancelled"
            return reply
        except Refusal as refusal:
            reply = _cxml_reply(
                render_response(refusal.code, refusal.text, payload, now, detail=refusal.detail)
            )
            reply.outcome = refusal.outcome
            return reply

    def _check(self, buyer: CoupaBuyer, xml: bytes, now: datetime) -> PortalInvoice:
        try:
            invoice = read(xml, self.dtds)
        except Refusal as refusal:
            self.last_dtd_problems = refusal.dtd_problems or self.last_dtd_problems
            raise
        envelope = invoice.envelope
        if not (
            (envelope.from_.domain, envelope.from_.identity)
            == (buyer.supplier["domain"], buyer.supplier["identity"])
            and (envelope.to.domain, envelope.to.identity) == (buyer.to["domain"], buyer.to["identity"])
            and envelope.shared_secret == buyer.shared_secret
        ):
            raise Refusal(401, "Invalid credentials.")
        if not buyer.cxml_enabled:
            raise Refusal(403, "cXML invoicing not allowed for supplier.")
        number = invoice.number
        if invoice.operation == "delete":
            return self._cancel(buyer, number, now)
        with self._lock:
            if self._number_taken(buyer, number, now):
                raise Refusal(
                    417,
                    "Invalid attributes in document.",
                    self.config.duplicate_text.format(number=number),
                    duplicate=True,
                )
        if not invoice.orders or not all(o.names_a_po or o.names_a_contract for o in invoice.orders):
            raise Refusal(
                417,
                "Invalid order/document reference.",
                "Every Coupa invoice must be backed by a PO or a contract.",
            )
        dispute = check_lines(buyer, invoice)
        check_buyer_requirements(buyer, invoice, now)
        approve = now + timedelta(hours=buyer.approve_after_hours)
        timeline = [(now, "pending_approval")]
        if dispute is not None:
            timeline.append((now + timedelta(hours=buyer.dispute_after_hours), "disputed"))
        else:
            timeline.append((approve, "approved"))
            if invoice.purpose == "standard":
                timeline.append((approve + timedelta(hours=buyer.pay_after_hours), "paid"))
        held = PortalInvoice(
            id=next(self._ids),
            instance=buyer.instance,
            number=number,
            payload_id=envelope.payload_id,
            purpose=invoice.purpose,
            created_at=now,
            total=invoice.net.amount,
            currency=invoice.net.currency,
            timeline=timeline,
            dispute=dispute,
            document=xml,
            parsed=invoice,
        )
        with self._lock:
            # Re-check under the lock: two concurrent sends of one number must still make one invoice.
            if self._number_taken(buyer, number, now):
                raise Refusal(
                    417,
                    "Invalid attributes in document.",
                    self.config.duplicate_text.format(number=number),
                    duplicate=True,
                )
            self.invoices.append(held)
        return held

    def _number_taken(self, buyer: CoupaBuyer, number: str, now: datetime) -> bool:
        """Coupa refuses a number the supplier already used at this customer, unless that invoice was voided."""
        return any(
            i.instance == buyer.instance
            and i.number == number
            and i.status_at(now)[0] not in ("voided", "abandoned")
            for i in self.invoices
        )

    def _cancel(self, buyer: CoupaBuyer, number: str, now: datetime) -> PortalInvoice:
        with self._lock:
            held = [i for i in self.invoices if i.instance == buyer.instance and i.number == number]
            # A voided number can be used again: the cancel is for the live invoice, the newest otherwise.
            live = [i for i in held if i.status_at(now)[0] not in ("voided", "abandoned")]
            found = (live or held)[-1] if held else None
            if found is None:
                raise Refusal(417, "Invalid order/document reference.", f"No invoice {number} to cancel.")
            found.timeline.append((now, "voided"))
            return found

    # --- supplier REST API ---------------------------------------------------------------------------
    def _token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in _form(request.body).items()}
        client = form.get("client_id", "")
        if form.get("grant_type") != "client_credentials" or self.config.api_clients.get(client) != form.get(
            "client_secret"
        ):
            return Reply(401, json.dumps({"error": "invalid_client"}).encode(), "application/json")
        token = token_generator.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.clock.now() + timedelta(hours=1)
        return Reply(
            200,
            json.dumps({"access_token": token, "token_type": "bearer", "expires_in": 3600}).encode(),
            "application/json",
        )

    def _authorised(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and expiry > self.clock.now()

    def records(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every invoice as the API shows it at `now`."""
        now = now or self.clock.now()
        with self._lock:
            invoices = list(self.invoices)
        return [{**record(i, now), "customer": self._customer(i.instance)} for i in invoices]

    def _customer(self, instance: str) -> dict[str, str]:
        buyer = self.buyers.get(instance)
        return {"id": instance, "name": buyer.name if buyer else instance}

    def _list(self, request: Request) -> Reply:
        if not self._authorised(request):
            return Reply(401, json.dumps({"errors": ["unauthorized"]}).encode(), "application/json")
        rows = self.records()
        for name, values in request.query.items():
            rows = filter_rows(rows, name, values[0])
        order = request.param("order_by", "id") or "id"
        rows.sort(
            key=lambda r: (r.get(order.replace("_", "-")) or "", r["id"]),
            reverse=request.param("dir") == "desc",
        )
        limit = min(int(request.param("limit", "50") or 50), 50)
        offset = int(request.param("offset", "0") or 0)
        page = rows[offset : offset + limit]
        if "application/json" in request.headers.get("accept", ""):
            return Reply(200, json.dumps(page).encode(), "application/json")
        return Reply(200, xml_listing(page), "application/xml")

    # --- control -------------------------------------------------------------------------------------
    def _control(self, request: Request, parts: list[str]) -> Reply:
        return control_reply(
            request,
            parts,
            invoices=self._held,
            advance=lambda hours: self.clock.advance(hours=hours),
            server=self.server,
        )

    def _held(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [
            {
                **record(i, now),
                "instance": i.instance,
                "payload-id": i.payload_id,
                "attachments": i.attachments,
            }
            for i in list(self.invoices)
        ]


def _cxml_reply(body: bytes) -> Reply:
    # Coupa answers HTTP 200 and puts the outcome in the cXML Status.
    return Reply(200, body, "text/xml; charset=UTF-8")


def _form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode("utf-8", errors="replace"))
