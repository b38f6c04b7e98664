"""How the Ariba sandbox pushes statuses: cXML StatusUpdateRequests POSTed to the supplier's endpoint,
each kept until the endpoint answers 2xx and retried on the network's schedule when it is down.

As the network does: the same document (same payloadID and timestamp) is sent again on a retry, so
a receiver that recorded it already must answer 200 and record nothing new. A 4xx answer is final
(the receiver refused the document: retrying will not change that); connection failures and 5xx
are retried every `retry` until `max_attempts`. One invoice's statuses leave in order.
"""

from __future__ import annotations

import secrets as token_generator
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
from lxml import etree

from connectors.sandbox.cxml.response import XML_LANG, read_response_code, with_doctype


@dataclass(frozen=True)
class StatusMessage:
    """One status of one invoice, as the network reports it (pushed, or shown in the listing)."""

    kind: str  # InvoiceStatus or DocumentStatus
    type: str  # processing, approved, rejected, paid, ... or a buyer's own word
    at: datetime
    comments: tuple[str, ...] = ()
    amount: Decimal | None = None  # paid amount, with `currency`
    currency: str = "USD"


@dataclass(frozen=True)
class Party:
    domain: str
    identity: str


def render_status_update(
    message: StatusMessage,
    *,
    payload_id: str,
    document_payload_id: str | None,
    invoice_number: str,
    invoice_date: str | None,
    buyer: Party,
    supplier: Party,
    sender: Party,
    shared_secret: str,
    deployment_mode: str = "production",
) -> bytes:
    """A cXML StatusUpdateRequest (cXML.dtd 1.2.063) for one invoice status, built by the network's own
    code: DocumentReference to the invoice's payloadID, Status, then InvoiceStatus (InvoiceIDInfo,
    PartialAmount, Comments) or DocumentStatus (DocumentInfo, Comments) as the DTD orders them."""
    root = etree.Element("cXML", payloadID=payload_id, timestamp=message.at.isoformat())
    root.set(XML_LANG, "en-US")
    header = etree.SubElement(root, "Header")
    for role, party in (("From", buyer), ("To", supplier), ("Sender", sender)):
        holder = etree.SubElement(header, role)
        credential = etree.SubElement(holder, "Credential", domain=party.domain)
        etree.SubElement(credential, "Identity").text = party.identity
        if role == "Sender":
            etree.SubElement(credential, "SharedSecret").text = shared_secret
            etree.SubElement(holder, "UserAgent").text = "Ariba Network sandbox"
    request = etree.SubElement(root, "Request", deploymentMode=deployment_mode)
    update = etree.SubElement(request, "StatusUpdateRequest")
    if document_payload_id:
        etree.SubElement(update, "DocumentReference", payloadID=document_payload_id)
    etree.SubElement(update, "Status", code="200", text="OK")
    status = etree.SubElement(update, message.kind, type=message.type)
    if message.kind == "InvoiceStatus":
        info = etree.SubElement(status, "InvoiceIDInfo", invoiceID=invoice_number)
        if invoice_date:
            info.set("invoiceDate", invoice_date)
        if message.amount is not None:
            partial = etree.SubElement(status, "PartialAmount")
            etree.SubElement(partial, "Money", currency=message.currency).text = format(message.amount, "f")
    else:
        etree.SubElement(
            status, "DocumentInfo", documentID=invoice_number, documentType="InvoiceDetailRequest"
        )
    for text in message.comments:
        comment = etree.SubElement(status, "Comments")
        comment.set(XML_LANG, "en-US")
        comment.text = text
    return with_doctype(root)


def new_payload_id(now: datetime) -> str:
    return f"{int(now.timestamp())}.{token_generator.token_hex(6)}@sandbox.ariba.test"


@dataclass
class Delivery:
    """One StatusUpdateRequest on its way to the supplier."""

    invoice_key: str  # the network's document id of the invoice
    url: str
    body: bytes = field(repr=False)
    message: StatusMessage
    due: datetime
    attempts: int = 0
    delivered_at: datetime | None = None
    gave_up: bool = False
    answers: list[str] = field(default_factory=list)  # what each attempt got, for tests and the demo

    @property
    def pending(self) -> bool:
        return self.delivered_at is None and not self.gave_up


class Pusher:
    """The network's outbound queue of status documents."""

    def __init__(self, *, retry: timedelta, max_attempts: int, timeout: float = 5.0):
        self.retry = retry
        self.max_attempts = max_attempts
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=httpx.Timeout(timeout))

    def enqueue(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def deliver_due(self, now: datetime) -> int:
        """Try every delivery that is due, oldest status first; returns how many were delivered."""
        with self._lock:
            queue = sorted((d for d in self.deliveries if d.pending), key=lambda d: d.message.at)
        delivered = 0
        blocked: set[str] = set()
        for delivery in queue:
            # An invoice's later status waits for its earlier one: the buyer's order is kept.
            if delivery.invoice_key in blocked or delivery.due > now:
                blocked.add(delivery.invoice_key)
                continue
            if self._attempt(delivery, now):
                delivered += 1
            else:
                blocked.add(delivery.invoice_key)
        return delivered

    def _attempt(self, delivery: Delivery, now: datetime) -> bool:
        delivery.attempts += 1
        try:
            response = self._http.post(
                delivery.url, content=delivery.body, headers={"Content-Type": "text/xml; charset=UTF-8"}
            )
        except httpx.HTTPError as exc:
            return self._failed(delivery, now, f"{type(exc).__name__}", final=False)
        # A receiver that answers without cXML is judged by its HTTP status.
        code = read_response_code(response.content) or response.status_code
        if 200 <= code < 300 and response.is_success:
            delivery.delivered_at = now
            delivery.answers.append(str(code))
            return True
        return self._failed(delivery, now, f"HTTP {response.status_code} / cXML {code}", final=code < 500)

    def _failed(self, delivery: Delivery, now: datetime, answer: str, *, final: bool) -> bool:
        delivery.answers.append(answer)
        if final or delivery.attempts >= self.max_attempts:
            delivery.gave_up = True
        else:
            delivery.due = now + self.retry
        return False

    def close(self) -> None:
        self._http.close()
