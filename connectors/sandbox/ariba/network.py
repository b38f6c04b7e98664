"""The Ariba Network sandbox: invoices in, statuses out (pushed and listed), on a controllable clock."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.sandbox.ariba.checks import (
    Refusal,
    account_mode,
    authenticate,
    bad,
    buyer_rules,
    check_mode,
    duplicate,
    price_complaint,
    split_multipart,
)
from connectors.sandbox.ariba.config import AribaBuyer, AribaSandboxConfig
from connectors.sandbox.ariba.push import Delivery, Party, Pusher, StatusMessage, new_payload_id
from connectors.sandbox.ariba.push import render_status_update as render_push
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.control import control_reply
from connectors.sandbox.cxml import (
    DtdLibrary,
    ReceivedInvoice,
    UnreadableDocument,
    UnreadableInvoice,
    read_document,
    read_invoice,
    render_response,
)
from connectors.sandbox.server import FaultPlan, Reply, Request, SandboxServer

INVOICE_PATH = "/service/transaction/cxml.asp"
LISTING_PATH = "/api/supplier-invoices/v1/invoices"
CLOSED = frozenset({"rejected", "failed", "canceled"})  # a number in these states may be used again


@dataclass
class NetworkInvoice:
    document_id: str
    buyer: AribaBuyer
    supplier: str
    number: str
    payload_id: str
    invoice_date: str | None
    created_at: datetime
    total: Decimal
    currency: str
    timeline: list[StatusMessage]
    attachments: int = 0
    pushed: int = 0  # how many timeline entries were queued for push
    document: bytes = field(default=b"", repr=False)
    parsed: ReceivedInvoice | None = field(default=None, repr=False)  # what the network read

    def status_at(self, now: datetime) -> StatusMessage:
        current = self.timeline[0]
        for entry in self.timeline:
            if entry.at <= now:
                current = entry
        return current


class AribaSandbox:
    """The network's behaviour; `serve()` puts it on a socket."""

    def __init__(
        self, config: AribaSandboxConfig, clock: SandboxClock | None = None, cxml_refs: Path | None = None
    ):
        """`cxml_refs`: the folder of official cXML DTDs; without it (nor config nor environment), the
        network checks no DTD."""
        self.config = config
        self.clock = clock or SandboxClock()
        self.buyers = {b.network_id: b for b in config.buyers}
        self.dtds = DtdLibrary.configured(cxml_refs or config.cxml_refs)
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.invoices: list[NetworkInvoice] = []
        self.received = 0  # every invoice POST that reached the handler
        self.pusher = Pusher(
            retry=timedelta(minutes=config.push_retry_minutes), max_attempts=config.push_max_attempts
        )
        self.server: SandboxServer | None = None
        now = self.clock.now()
        by_key = {b.key: b for b in config.buyers}
        for held in config.existing_invoices:
            long_ago = now - timedelta(days=200)
            self.invoices.append(
                NetworkInvoice(
                    document_id=self._document_id(),
                    buyer=by_key[held.buyer],
                    supplier=held.supplier,
                    number=held.number,
                    payload_id="",
                    invoice_date=None,
                    created_at=long_ago,
                    total=Decimal(0),
                    currency="USD",
                    timeline=[StatusMessage("InvoiceStatus", held.status_type, long_ago)],
                    pushed=1,  # reported long ago
                )
            )

    def _document_id(self) -> str:
        return f"INV{next(self._ids):08d}"

    # --- serving ------------------------------------------------------------------------------------------
    def serve(self, port: int = 0, faults: FaultPlan | None = None, latency: float = 0.0) -> SandboxServer:
        self.server = SandboxServer(self.handle, port=port, faults=faults, latency=latency).start()
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.pusher.close()

    def handle(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == INVOICE_PATH:
            return self._receive(request)
        if request.method == "GET" and request.path == LISTING_PATH:
            return self._list(request)
        if request.path.startswith("/_sandbox/"):
            return self._control(request, request.path.split("/")[2:])
        return Reply(404, b"not found")

    # --- the clock and pushes -----------------------------------------------------------------------------
    def advance(self, hours: float = 0, minutes: float = 0) -> datetime:
        """Move the network's clock, then push whatever became due by then."""
        now = self.clock.advance(timedelta(hours=hours, minutes=minutes))
        self.deliver()
        return now

    def deliver(self) -> int:
        """Queue the due statuses of push buyers' invoices, then try every due delivery; returns how
        many were delivered now."""
        now = self.clock.now()
        sender = Party(self.config.push_sender["domain"], self.config.push_sender["identity"])
        with self._lock:
            for invoice in self.invoices:
                buyer = invoice.buyer
                if buyer.status_delivery == "poll" or not buyer.push_url:
                    continue
                for message in invoice.timeline[invoice.pushed :]:
                    if message.at > now:
                        break
                    body = render_push(
                        message,
                        payload_id=new_payload_id(message.at),
                        document_payload_id=invoice.payload_id or None,
                        invoice_number=invoice.number,
                        invoice_date=invoice.invoice_date,
                        buyer=Party("NetworkID", buyer.network_id),
                        supplier=Party("NetworkID", invoice.supplier),
                        sender=sender,
                        shared_secret=self.config.push_secret,
                        deployment_mode=account_mode(invoice.supplier),
                    )
                    self.pusher.enqueue(Delivery(invoice.document_id, buyer.push_url, body, message, now))
                    invoice.pushed += 1
        return self.pusher.deliver_due(now)

    # --- cXML invoices ------------------------------------------------------------------------------------
    def _receive(self, request: Request) -> Reply:
        with self._lock:
            self.received += 1
        now = self.clock.now()
        payload = new_payload_id(now)
        try:
            xml, attachments = split_multipart(request)
            invoice = self._check(xml, now)
            invoice.attachments = attachments
            detail = f"Invoice {invoice.number} was queued for {invoice.buyer.name}."
            body = render_response(201, "Accepted", payload, now, detail=detail)
        except Refusal as refusal:
            body = render_response(refusal.code, refusal.text, payload, now, detail=refusal.detail)
        # The network answers HTTP 200 and puts the outcome in the cXML Status.
        return Reply(200, body, "text/xml; charset=UTF-8")

    def _read(self, xml: bytes) -> ReceivedInvoice:
        """The document as the network reads it: parse, version, DTD and values (406 / 450)."""
        try:
            document = read_document(xml)
        except UnreadableDocument as exc:
            raise Refusal(406, "Not Acceptable", f"Unable to parse the cXML document: {exc}") from None
        if document.root.tag != "cXML" or document.root.find("Request/InvoiceDetailRequest") is None:
            raise Refusal(406, "Not Acceptable", "The document is not a cXML InvoiceDetailRequest.")
        if not (document.version or "1.2").startswith("1.2"):
            raise Refusal(450, "Not Implemented", "cXML version not supported.")
        if self.dtds is not None:
            choice = self.dtds.choose(document)
            problems = [choice] if isinstance(choice, str) else self.dtds.problems(document, choice)
            if problems:
                where = "" if isinstance(choice, str) else f" {choice}"
                raise Refusal(
                    406,
                    "Not Acceptable",
                    f"The document did not validate against the cXML DTD{where}: " + "; ".join(problems),
                )
        try:
            return read_invoice(document.root)
        except UnreadableInvoice as exc:
            raise Refusal(406, "Not Acceptable", f"Unable to read the invoice: {exc}") from None

    def _check(self, xml: bytes, now: datetime) -> NetworkInvoice:
        parsed = self._read(xml)
        supplier = authenticate(parsed.envelope, self.config.suppliers)
        buyer = self.buyers.get(parsed.envelope.to.identity)
        if buyer is None:
            raise Refusal(403, "Forbidden", "You have no trading relationship with this customer.")
        check_mode(parsed.envelope, supplier)
        number = parsed.number
        if not number:
            raise bad("INVOICE_NO_ID: The invoice has no invoice number.")
        if parsed.operation == "delete":
            return self._cancel(buyer, supplier, number, now)
        with self._lock:
            if self._taken(buyer, supplier, number):
                raise duplicate(number)
        buyer_rules(buyer, parsed, now)
        due = parsed.amount_due
        invoice = NetworkInvoice(
            document_id="",
            buyer=buyer,
            supplier=supplier,
            number=number,
            payload_id=parsed.envelope.payload_id,
            invoice_date=parsed.invoice_date_text,
            created_at=now,
            total=due.amount,
            currency=due.currency or "USD",
            timeline=[],
            document=xml,
            parsed=parsed,
        )
        invoice.timeline = self._timeline(buyer, invoice, parsed, now)
        with self._lock:
            # Again under the lock: two concurrent sends of one number must still make one invoice.
            if self._taken(buyer, supplier, number):
                raise duplicate(number)
            invoice.document_id = self._document_id()
            self.invoices.append(invoice)
        return invoice

    @staticmethod
    def _timeline(
        buyer: AribaBuyer, invoice: NetworkInvoice, parsed: ReceivedInvoice, now: datetime
    ) -> list[StatusMessage]:
        """What the buyer will do with the invoice, in network time: approve and pay, or reject."""
        timeline = [StatusMessage("InvoiceStatus", "processing", now)]
        purpose = parsed.purpose
        complaint = price_complaint(buyer, parsed)
        if complaint is not None:
            rejected = now + timedelta(hours=buyer.reject_after_hours)
            timeline.append(StatusMessage("InvoiceStatus", "rejected", rejected, (complaint,)))
            return timeline
        approved = now + timedelta(hours=buyer.approve_after_hours)
        timeline.append(
            StatusMessage("DocumentStatus", "approved", approved, (f"Approved for payment by {buyer.name}.",))
        )
        if purpose == "standard":
            paid = approved + timedelta(hours=buyer.pay_after_hours)
            words = f"Paid {invoice.total} {invoice.currency} by ACH on {paid.date().isoformat()}."
            timeline.append(
                StatusMessage("InvoiceStatus", "paid", paid, (words,), invoice.total, invoice.currency)
            )
        return timeline

    def _taken(self, buyer: AribaBuyer, supplier: str, number: str) -> bool:
        now = self.clock.now()
        return any(
            i.buyer is buyer
            and i.supplier == supplier
            and i.number == number
            and i.status_at(now).type not in CLOSED
            for i in self.invoices
        )

    def _cancel(self, buyer: AribaBuyer, supplier: str, number: str, now: datetime) -> NetworkInvoice:
        with self._lock:
            live = [
                i
                for i in self.invoices
                if i.buyer is buyer
                and i.supplier == supplier
                and i.number == number
                and i.status_at(now).type not in CLOSED
            ]
            if not live:
                raise bad(f"There is no invoice {number} to cancel.")
            found = live[-1]
            # What the buyer had planned no longer happens; a pushed status stays pushed.
            found.timeline = [m for m in found.timeline if m.at <= now]
            found.timeline.append(
                StatusMessage("InvoiceStatus", "canceled", now, ("Canceled by the supplier.",))
            )
            return found

    # --- status listing -----------------------------------------------------------------------------------
    def record(self, invoice: NetworkInvoice, now: datetime) -> dict[str, Any]:
        """An invoice as the listing shows it at `now`: its latest status, in the push's own words."""
        status = invoice.status_at(now)
        return {
            "documentId": invoice.document_id,
            "invoiceNumber": invoice.number,
            "payloadId": invoice.payload_id or None,
            "buyer": invoice.buyer.network_id,
            "statusKind": status.kind,
            "statusType": status.type,
            "comments": list(status.comments),
            "paidAmount": str(status.amount) if status.amount is not None else None,
            "currency": invoice.currency,
            "invoiceTotal": str(invoice.total),
            "invoiceDate": invoice.invoice_date,
            "updatedAt": status.at.isoformat(),
        }

    def _list(self, request: Request) -> Reply:
        supplier = request.headers.get("x-ariba-network-id", "")
        key = self.config.api_keys.get(supplier)
        if key is None or request.headers.get("apikey") != key:
            return Reply(401, json.dumps({"error": "invalid apiKey"}).encode(), "application/json")
        now = self.clock.now()
        with self._lock:
            # An invoice is "queued" (out of the listing) until the network has routed it.
            visible = [
                i
                for i in self.invoices
                if i.supplier == supplier
                and i.created_at + timedelta(minutes=i.buyer.listing_delay_minutes) <= now
            ]
        rows = [self.record(i, now) for i in visible]
        for name in ("buyer", "invoiceNumber"):
            wanted = request.param(name)
            if wanted:
                rows = [r for r in rows if r[name] == wanted]
        rows.sort(key=lambda r: (datetime.fromisoformat(r["updatedAt"]), r["documentId"]))
        since = request.param("updatedFrom")
        if since:
            bound, after = datetime.fromisoformat(since), request.param("afterId")
            rows = [r for r in rows if _after(r, bound, after)]
        limit = min(int(request.param("limit", "100") or 100), 500)
        return Reply(200, json.dumps({"invoices": rows[:limit]}).encode(), "application/json")

    # --- control ------------------------------------------------------------------------------------------
    def _control(self, request: Request, parts: list[str]) -> Reply:
        return control_reply(
            request,
            parts,
            invoices=self._held,
            advance=lambda hours: self.advance(hours=hours),
            server=self.server,
            fault_path=INVOICE_PATH,
            extra={"deliveries": self._deliveries},
        )

    def _held(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [{**self.record(i, now), "attachments": i.attachments} for i in list(self.invoices)]

    def _deliveries(self) -> list[dict[str, Any]]:
        return [
            {
                "invoice": d.invoice_key,
                "type": d.message.type,
                "attempts": d.attempts,
                "answers": d.answers,
                "delivered": d.delivered_at.isoformat() if d.delivered_at else None,
                "gave_up": d.gave_up,
            }
            for d in list(self.pusher.deliveries)
        ]


def _after(row: dict[str, Any], bound: datetime, after_id: str | None) -> bool:
    """Keyset paging: changes at `bound` itself are included, unless they sort before `after_id`."""
    at = datetime.fromisoformat(row["updatedAt"])
    return at > bound or (at == bound and (after_id is None or row["documentId"] > after_id))
