"""A Coupa portal on 127.0.0.1 that behaves like the real one (refs/PORTALS.md, "Coupa").

- `POST /<instance>/cxml/invoices`: parses the cXML safely, validates it against the official DTD its
  DOCTYPE names (connectors/sandbox/cxml: the portal's own parsing, none of the hub's), checks
  credentials and enablement, refuses a reused invoice number for the supplier, checks the PO/contract
  backing and the PO lines (part, UOM, line number), and the buyer's own requirements; answers with
  Coupa's codes and texts inside a cXML Response.
- `POST /oauth2/token` and `GET /api/v1/invoices`: the supplier REST API (OAuth 2.0 client credentials,
  `updated-at[gt]`, `invoice-number`, `status[in]`, `offset`/`limit` paging, JSON or XML).
- Invoices move pending_approval -> approved -> paid, or -> disputed with a reason, on a clock the
  caller controls; statuses are computed from that clock, so nothing runs in the background.
- `/_sandbox/...`: control and inspection for tests and the demo (advance the clock, inject faults,
  list everything the portal holds, and every invoice document it received with its answer).
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import itertools
import json
import secrets as token_generator
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.config import load_sandbox_config
from connectors.sandbox.cxml import (
    DtdLibrary,
    OrderReference,
    ReceivedInvoice,
    UnreadableDocument,
    UnreadableInvoice,
    read_document,
    read_invoice,
    render_response,
)
from connectors.sandbox.server import FaultPlan, Reply, Request, SandboxServer


class PoLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: int
    part: str
    uom: str
    unit_price: Decimal
    quantity: Decimal


class PurchaseOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    #: The payloadID of the OrderRequest Coupa sent: an invoice may name its PO only by it
    #: (OrderReference/DocumentReference without an orderID).
    payload_id: str | None = None
    currency: str = "USD"
    lines: list[PoLine]


class CoupaBuyer(BaseModel):
    """One customer's Coupa instance, with the supplier's relationship to it."""

    model_config = ConfigDict(extra="forbid")
    instance: str
    name: str
    to: dict[str, str]  # {domain, identity} of the buyer
    supplier: dict[str, str]  # {domain, identity} the supplier must send as From
    shared_secret: str = Field(repr=False)
    cxml_enabled: bool = True
    purchase_orders: list[PurchaseOrder] = Field(default_factory=list)
    contracts: list[str] = Field(default_factory=list)
    # The buyer's own requirements (beyond Coupa's), checked when the invoice is created:
    max_backdate_days: int | None = None
    require_supplier_tax_id: bool = False
    required_extrinsics: list[str] = Field(default_factory=list)
    # How its AP team handles invoices, in portal time:
    approve_after_hours: float = 24
    pay_after_hours: float = 120
    dispute_after_hours: float = 48


class ExistingInvoice(BaseModel):
    """An invoice the portal already holds before the hub sends anything (keyed in by hand, say)."""

    model_config = ConfigDict(extra="forbid")
    instance: str
    number: str
    status: str = "approved"
    # What the API shows of its content (the hub compares it with what it sent under the number).
    total: Decimal = Decimal(0)
    currency: str = "USD"
    invoice_date: str | None = None  # YYYY-MM-DD
    po_number: str | None = None
    line_amounts: list[Decimal] = Field(default_factory=list)


class CoupaSandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    buyers: list[CoupaBuyer]
    existing_invoices: list[ExistingInvoice] = Field(default_factory=list)
    api_clients: dict[str, str] = Field(default_factory=dict, repr=False)  # client_id -> client_secret
    duplicate_text: str = "Invoice number {number} has already been used for this supplier."
    #: The folder of official cXML DTDs (`<version>/InvoiceDetail.dtd`); else $PORTALHUB_CXML_REFS.
    cxml_refs: str | None = None


@dataclass
class PortalInvoice:
    id: int
    instance: str
    number: str
    payload_id: str
    purpose: str
    created_at: datetime
    total: Decimal
    currency: str
    timeline: list[tuple[datetime, str]]
    dispute: tuple[str, str] | None = None  # (code, description)
    attachments: int = 0
    document: bytes = field(default=b"", repr=False)
    parsed: ReceivedInvoice | None = field(default=None, repr=False)  # what the portal read
    #: invoice-date, PO and line totals as the API shows them; read from `document` on first listing.
    content: dict[str, Any] | None = None

    def status_at(self, now: datetime) -> tuple[str, datetime]:
        current = self.timeline[0]
        for entry in self.timeline:
            if entry[0] <= now:
                current = entry
        return current[1], current[0]


class _Refusal(Exception):
    def __init__(self, code: int, text: str, detail: str = "", duplicate: bool = False):
        super().__init__(text)
        self.code, self.text, self.detail = code, text, detail
        self.duplicate = duplicate  # the number is already used: the receipt log says refused-duplicate

    @property
    def outcome(self) -> str:
        if self.duplicate:
            return "refused-duplicate"
        return "refused-access" if self.code in (401, 403) else "refused-content"


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
            root = read_document(_split_multipart(request)[0]).root
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
            xml, attachments = _split_multipart(request)
            invoice = self._check(buyer, xml, now)
            invoice.attachments = attachments
            text = f"Successful - invoice id: {invoice.id}"
            reply = _cxml_reply(render_response(200, "OK", payload, now, detail=text))
            # A new invoice holds this very document; a cancel answers with the invoice it voided.
            reply.outcome = "created" if invoice.document is xml else "cancelled"
            return reply
        except _Refusal as refusal:
            reply = _cxml_reply(
                render_response(refusal.code, refusal.text, payload, now, detail=refusal.detail)
            )
            reply.outcome = refusal.outcome
            return reply

    def _check(self, buyer: CoupaBuyer, xml: bytes, now: datetime) -> PortalInvoice:
        invoice = self._read(xml)
        envelope = invoice.envelope
        if not (
            (envelope.from_.domain, envelope.from_.identity)
            == (buyer.supplier["domain"], buyer.supplier["identity"])
            and (envelope.to.domain, envelope.to.identity) == (buyer.to["domain"], buyer.to["identity"])
            and envelope.shared_secret == buyer.shared_secret
        ):
            raise _Refusal(401, "Invalid credentials.")
        if not buyer.cxml_enabled:
            raise _Refusal(403, "cXML invoicing not allowed for supplier.")
        number = invoice.number
        if invoice.operation == "delete":
            return self._cancel(buyer, number, now)
        with self._lock:
            if self._number_taken(buyer, number, now):
                raise _Refusal(
                    417,
                    "Invalid attributes in document.",
                    self.config.duplicate_text.format(number=number),
                    duplicate=True,
                )
        if not invoice.orders or not all(o.names_a_po or o.names_a_contract for o in invoice.orders):
            raise _Refusal(
                417,
                "Invalid order/document reference.",
                "Every Coupa invoice must be backed by a PO or a contract.",
            )
        dispute = self._check_lines(buyer, invoice)
        self._check_buyer_requirements(buyer, invoice, now)
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
                raise _Refusal(
                    417,
                    "Invalid attributes in document.",
                    self.config.duplicate_text.format(number=number),
                    duplicate=True,
                )
            self.invoices.append(held)
        return held

    def _read(self, xml: bytes) -> ReceivedInvoice:
        """The document as Coupa reads it: parse (406), version (450), DTD (406), values (406).

        Parse and DTD refusals carry Coupa's published texts only; why the DTD refused is kept in
        `last_dtd_problems` for tests and the demo."""
        try:
            document = read_document(xml)
        except UnreadableDocument:
            raise _Refusal(406, "Could not parse cXML document.") from None
        if document.root.tag != "cXML" or document.root.find("Request/InvoiceDetailRequest") is None:
            raise _Refusal(406, "Could not parse cXML document.")
        if document.version and not document.version.startswith("1.2"):
            raise _Refusal(450, "cXML Version of document is not supported.")
        if self.dtds is not None:
            choice = self.dtds.choose(document)
            problems = [choice] if isinstance(choice, str) else self.dtds.problems(document, choice)
            if problems:
                self.last_dtd_problems = [str(choice), *problems]
                raise _Refusal(406, "Request did not validate successfully with DTD.")
        try:
            return read_invoice(document.root)
        except UnreadableInvoice as exc:
            # No published text for a value Coupa cannot read: its parse refusal, saying which value.
            raise _Refusal(406, "Could not parse cXML document.", str(exc)) from None

    def _number_taken(self, buyer: CoupaBuyer, number: str, now: datetime) -> bool:
        """Coupa refuses a number the supplier already used at this customer, unless that invoice was voided."""
        return any(
            i.instance == buyer.instance
            and i.number == number
            and i.status_at(now)[0] not in ("voided", "abandoned")
            for i in self.invoices
        )

    @staticmethod
    def _find_po(buyer: CoupaBuyer, order: OrderReference) -> PurchaseOrder:
        """The PO an order reference names: by number, or by the payloadID of the order Coupa sent."""
        if order.order_id is not None:
            found = next((p for p in buyer.purchase_orders if p.number == order.order_id), None)
            named = order.order_id
        else:
            found = next(
                (p for p in buyer.purchase_orders if p.payload_id and p.payload_id == order.order_payload_id),
                None,
            )
            named = f"with payloadID {order.order_payload_id}"
        if found is None:
            raise _Refusal(
                500, "Server could not create invoice.", f"PO number {named} was not found for this supplier."
            )
        return found

    def _check_lines(self, buyer: CoupaBuyer, invoice: ReceivedInvoice) -> tuple[str, str] | None:
        """Coupa's PO matching (500 when it fails); returns a dispute the buyer's AP team will raise."""
        pos: dict[int, PurchaseOrder] = {}
        for index, order in enumerate(invoice.orders):
            if order.names_a_po:
                pos[index] = self._find_po(buyer, order)
            elif order.agreement_id not in buyer.contracts:
                raise _Refusal(
                    500,
                    "Server could not create invoice.",
                    f"Contract {order.agreement_id or order.agreement_payload_id} was not found.",
                )
        dispute = None
        for line in invoice.lines:
            po = pos.get(line.order)
            if po is None:
                continue  # a contract-backed line: no PO line to match
            if not line.part or not line.uom:
                raise _Refusal(
                    500,
                    "Server could not create invoice.",
                    f"Line {line.number}: supplier part number and UOM are required on PO-backed lines.",
                )
            if line.po_line:
                po_line = next((pl for pl in po.lines if str(pl.line) == line.po_line), None)
                if po_line is None:
                    raise _Refusal(
                        500,
                        "Server could not create invoice.",
                        f"Line {line.number}: PO line number {line.po_line} is not on PO {po.number}.",
                    )
            else:  # Coupa matches on part number and UOM when the PO line number is blank
                po_line = next((pl for pl in po.lines if pl.part == line.part and pl.uom == line.uom), None)
                if po_line is None:
                    raise _Refusal(
                        500,
                        "Server could not create invoice.",
                        f"Line {line.number}: no line of PO {po.number} has part {line.part} in {line.uom}.",
                    )
            if po_line.part != line.part:
                raise _Refusal(
                    500,
                    "Server could not create invoice.",
                    f"Line {line.number}: part {line.part} does not match PO line {po_line.line} ({po_line.part}).",
                )
            if po_line.uom != line.uom:
                raise _Refusal(
                    500,
                    "Server could not create invoice.",
                    f"Line {line.number}: UOM {line.uom} does not match PO line {po_line.line} ({po_line.uom}).",
                )
            price = line.unit_price or Decimal(0)
            quantity = line.quantity or Decimal(0)
            if dispute is None and price > po_line.unit_price:
                dispute = (
                    "INCORRECT-PRICE",
                    f"Line {line.number}: unit price {price} is above the PO price {po_line.unit_price}.",
                )
            if dispute is None and quantity > po_line.quantity:
                dispute = (
                    "INCORRECT-QUANTITY",
                    f"Line {line.number}: quantity {quantity} is more than the {po_line.quantity} ordered.",
                )
        return dispute

    def _check_buyer_requirements(self, buyer: CoupaBuyer, invoice: ReceivedInvoice, now: datetime) -> None:
        if buyer.max_backdate_days is not None:
            limit = now.date() - timedelta(days=buyer.max_backdate_days)
            if invoice.invoice_date < limit:
                raise _Refusal(
                    500,
                    "Server could not create invoice.",
                    f"Invoice date {invoice.invoice_date} is back-dated more than {buyer.max_backdate_days} days.",
                )
        if buyer.require_supplier_tax_id and not invoice.supplier_tax_id:
            raise _Refusal(
                500, "Server could not create invoice.", "Supplier tax ID is required by this customer."
            )
        for required in buyer.required_extrinsics:
            if not invoice.extrinsics.get(required):
                raise _Refusal(
                    500,
                    "Server could not create invoice.",
                    f"Missing tags: Extrinsic {required} is required by this customer.",
                )

    def _cancel(self, buyer: CoupaBuyer, number: str, now: datetime) -> PortalInvoice:
        with self._lock:
            held = [i for i in self.invoices if i.instance == buyer.instance and i.number == number]
            # A voided number can be used again: the cancel is for the live invoice, the newest otherwise.
            live = [i for i in held if i.status_at(now)[0] not in ("voided", "abandoned")]
            found = (live or held)[-1] if held else None
            if found is None:
                raise _Refusal(417, "Invalid order/document reference.", f"No invoice {number} to cancel.")
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
        return [{**_record(i, now), "customer": self._customer(i.instance)} for i in invoices]

    def _customer(self, instance: str) -> dict[str, str]:
        buyer = self.buyers.get(instance)
        return {"id": instance, "name": buyer.name if buyer else instance}

    def _list(self, request: Request) -> Reply:
        if not self._authorised(request):
            return Reply(401, json.dumps({"errors": ["unauthorized"]}).encode(), "application/json")
        rows = self.records()
        for name, values in request.query.items():
            rows = _filter(rows, name, values[0])
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
        return Reply(200, _xml_listing(page), "application/xml")

    # --- control -------------------------------------------------------------------------------------
    def _control(self, request: Request, parts: list[str]) -> Reply:
        if parts == ["invoices"]:
            body = [
                {
                    **_record(i, self.clock.now()),
                    "instance": i.instance,
                    "payload-id": i.payload_id,
                    "attachments": i.attachments,
                }
                for i in list(self.invoices)
            ]
            return Reply(200, json.dumps(body).encode(), "application/json")
        if parts == ["received"] and self.server is not None:
            log = [{**vars(r), "at": r.at.isoformat(), "created": r.created} for r in self.server.receipts()]
            return Reply(200, json.dumps(log).encode(), "application/json")
        if parts == ["clock"] and request.method == "POST":
            hours = float(json.loads(request.body or b"{}").get("hours", 0))
            return Reply(
                200,
                json.dumps({"now": self.clock.advance(hours=hours).isoformat()}).encode(),
                "application/json",
            )
        if parts == ["faults"] and request.method == "POST" and self.server is not None:
            spec = json.loads(request.body or b"{}")
            if spec.get("clear"):
                self.server.faults.clear()
            if spec.get("rates"):
                self.server.faults.set_rates(spec["rates"], spec.get("path_prefix", ""))
            for kind in spec.get("queue", []):
                self.server.faults.queue(kind, path_prefix=spec.get("path_prefix", ""))
            return Reply(200, b"{}", "application/json")
        return Reply(404, b"no such control")


def load_config(path: Path, secrets: Mapping[str, str]) -> CoupaSandboxConfig:
    """A sandbox YAML file whose `secret:name` values are taken from `secrets`."""
    return load_sandbox_config(path, secrets, CoupaSandboxConfig)


def _cxml_reply(body: bytes) -> Reply:
    # Coupa answers HTTP 200 and puts the outcome in the cXML Status.
    return Reply(200, body, "text/xml; charset=UTF-8")


def _split_multipart(request: Request) -> tuple[bytes, int]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/"):
        return request.body, 0
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    parts = list(message.iter_parts()) if isinstance(message, email.message.EmailMessage) else []
    if not parts:
        raise _Refusal(406, "Could not parse cXML document.")
    xml = parts[0].get_payload(decode=True)
    return (xml if isinstance(xml, bytes) else b""), len(parts) - 1


def _form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode("utf-8", errors="replace"))


_READ_BACK = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _content(invoice: PortalInvoice) -> dict[str, Any]:
    """What Coupa shows of an invoice it created from cXML: its date, PO and line totals."""
    if invoice.content is None:
        content: dict[str, Any] = {"invoice_date": None, "po_number": None, "lines": []}
        if invoice.document:
            root = etree.fromstring(invoice.document, _READ_BACK)
            request = root.find("Request/InvoiceDetailRequest")
            head = request.find("InvoiceDetailRequestHeader") if request is not None else None
            if request is not None and head is not None:
                content["invoice_date"] = head.get("invoiceDate", "")[:10] or None
                order = request.find("InvoiceDetailOrder/InvoiceDetailOrderInfo/OrderReference")
                content["po_number"] = order.get("orderID") if order is not None else None
                items = request.findall("InvoiceDetailOrder/InvoiceDetailItem") + request.findall(
                    "InvoiceDetailOrder/InvoiceDetailServiceItem"
                )
                content["lines"] = [
                    (item.get("invoiceLineNumber"), item.findtext("SubtotalAmount/Money") or "0")
                    for item in items
                ]
        invoice.content = content
    return invoice.content


def _record(invoice: PortalInvoice, now: datetime) -> dict[str, Any]:
    status, since = invoice.status_at(now)
    content = _content(invoice)
    paid = status == "paid"
    record: dict[str, Any] = {
        "id": invoice.id,
        "invoice-number": invoice.number,
        "status": "approved" if paid else status,
        "created-at": invoice.created_at.isoformat(),
        "updated-at": since.isoformat(),
        "dispute-reason": {"code": invoice.dispute[0], "description": invoice.dispute[1]}
        if status == "disputed" and invoice.dispute
        else None,
        "invoice-date": f"{content['invoice_date']}T00:00:00+00:00" if content["invoice_date"] else None,
        "gross-total": str(invoice.total),
        "currency": {"code": invoice.currency},
        "invoice-lines": [
            {"line-num": number, "total": str(amount), "po-number": content["po_number"]}
            for number, amount in content["lines"]
        ],
        "paid": paid,
        "payment-date": since.date().isoformat() if paid else None,
        "payments": [
            {"amount-paid": str(invoice.total), "payment-date": since.date().isoformat(), "notes": "ACH"}
        ]
        if paid
        else [],
    }
    return record


_OPERATORS = {
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "gt_or_eq": lambda a, b: a >= b,
    "lt_or_eq": lambda a, b: a <= b,
    "not_eq": lambda a, b: a != b,
}


def _filter(rows: list[dict[str, Any]], name: str, value: str) -> list[dict[str, Any]]:
    if name in ("offset", "limit", "order_by", "dir", "fields"):
        return rows
    attribute, _, operator = name.partition("[")
    operator = operator.rstrip("]")
    if attribute == "customer":  # customer[name]=..., customer[id]=...
        return [r for r in rows if str((r.get("customer") or {}).get(operator)) == value]
    if attribute not in ("id", "invoice-number", "status", "updated-at", "created-at"):
        return rows
    if operator == "in":
        wanted = set(value.split(","))
        return [r for r in rows if str(r.get(attribute)) in wanted]
    if operator in ("contains", "starts_with"):
        test = (lambda s: value in s) if operator == "contains" else (lambda s: s.startswith(value))
        return [r for r in rows if test(str(r.get(attribute)))]
    if attribute.endswith("-at"):
        bound = (
            datetime.fromisoformat(value)
            if "T" in value
            else datetime.fromisoformat(value + "T00:00:00+00:00")
        )
        compare = _OPERATORS.get(operator or "gt_or_eq", _OPERATORS["gt_or_eq"])
        return [r for r in rows if compare(datetime.fromisoformat(r[attribute]), bound)]
    if operator in _OPERATORS:
        return [r for r in rows if _OPERATORS[operator](str(r.get(attribute)), value)]
    return [r for r in rows if str(r.get(attribute)) == value]


def _xml_listing(page: list[dict[str, Any]]) -> bytes:
    root = etree.Element("invoice-headers", type="array")
    for record in page:
        header = etree.SubElement(root, "invoice-header")
        for key, value in record.items():
            node = etree.SubElement(header, key)
            if isinstance(value, dict):
                for inner_key, inner in value.items():
                    etree.SubElement(node, inner_key).text = str(inner)
            elif isinstance(value, list):
                node.set("type", "array")
                for item in value:
                    entry = etree.SubElement(node, "payment")
                    for inner_key, inner in item.items():
                        etree.SubElement(entry, inner_key).text = str(inner)
            elif value is not None:
                node.text = str(value).lower() if isinstance(value, bool) else str(value)
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return result
