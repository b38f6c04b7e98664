"""The sandbox's receipt log: every invoice document that reaches the Coupa sandbox is kept with its
number, payloadID, arrival and the portal's answer, including what it refused and what a fault hid from
the sender. The reliability verdict counts *received* from this log (bench/verdict.py)."""

from __future__ import annotations

import itertools

import httpx
import pytest

from connectors.coupa import CoupaConnector
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import FaultPlan, Received
from rules.schema import Profile
from tests.connectors.support import envelope
from tests.factories import make_invoice


def _post(
    coupa: CoupaSandbox,
    connector: CoupaConnector,
    profile: Profile,
    number: str,
    payload_id: str,
    **changes: str,
) -> httpx.Response:
    invoice = make_invoice(number)
    if changes:
        invoice = invoice.model_copy(update=changes)
    document = connector.render(invoice, profile, envelope(number, payload_id))
    body = document.body
    assert coupa.server is not None
    return httpx.post(
        f"{coupa.server.url}/acme/cxml/invoices",
        content=body,
        headers={"Content-Type": document.content_type},
    )


def _log(coupa: CoupaSandbox) -> list[tuple[str, str, str, str, str | None]]:
    assert coupa.server is not None
    return [(r.number, r.payload_id, r.outcome, r.processed, r.fault) for r in coupa.server.receipts()]


def test_each_document_received_is_logged_with_the_portals_answer(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile, faults: FaultPlan
) -> None:
    assert _post(coupa, connector, profile, "INV-1", "p1@test").status_code == 200
    _post(coupa, connector, profile, "INV-1", "p2@test")  # the number again: refused, but received
    _post(coupa, connector, profile, "INV-2", "p3@test", po_number="PO-NOT-THERE")
    faults.queue("error_500")
    _post(coupa, connector, profile, "INV-3", "p4@test")
    faults.queue("drop_after")
    with pytest.raises(httpx.TransportError):
        _post(coupa, connector, profile, "INV-4", "p5@test")
    assert coupa.server is not None
    httpx.get(f"{coupa.server.url}/api/v1/invoices")  # not a document: not in the log

    assert _log(coupa) == [
        ("INV-1", "p1@test", "created", "created", None),
        ("INV-1", "p2@test", "refused-duplicate", "refused-duplicate", None),
        ("INV-2", "p3@test", "refused-content", "refused-content", None),
        ("INV-3", "p4@test", "fault-injected-before", "", "error_500"),
        ("INV-4", "p5@test", "fault-injected-after", "created", "drop_after"),
    ]
    receipts = coupa.server.receipts()
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]
    assert all(a.at <= b.at for a, b in itertools.pairwise(receipts))
    # What the portal holds shows two invoices; what it received shows five documents.
    assert sorted(i.number for i in coupa.invoices) == ["INV-1", "INV-4"]
    assert sum(1 for r in receipts if r.created) == 2


def test_wrong_credentials_and_unreadable_documents_are_received_too(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    invoice = make_invoice("INV-9")
    document = connector.render(invoice, profile, envelope("INV-9", "p9@test"))
    assert coupa.server is not None
    wrong = document.body.replace(b"<SharedSecret>", b"<SharedSecret>wrong")
    httpx.post(f"{coupa.server.url}/acme/cxml/invoices", content=wrong, headers={"Content-Type": "text/xml"})
    httpx.post(
        f"{coupa.server.url}/acme/cxml/invoices", content=b"<cXML", headers={"Content-Type": "text/xml"}
    )
    assert _log(coupa) == [
        ("INV-9", "p9@test", "refused-access", "refused-access", None),
        ("", "", "refused-content", "refused-content", None),
    ]


def test_the_log_is_served_for_the_demo_and_tools(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    _post(coupa, connector, profile, "INV-1", "p1@test")
    assert coupa.server is not None
    listed = httpx.get(f"{coupa.server.url}/_sandbox/received").json()
    assert [(r["number"], r["payload_id"], r["outcome"], r["created"]) for r in listed] == [
        ("INV-1", "p1@test", "created", True)
    ]
    assert isinstance(coupa.server.receipts()[0], Received)
