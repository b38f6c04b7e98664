"""Bad input from outside, generated: every AR record becomes an invoice or a quarantine reason, every
portal reply becomes a receipt or one of the hub's errors; none crashes the daemon or loses the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.sandbox.server import Reply, SandboxServer
from hub.ar import ArRecord
from hub.ar.sql import SqlArAdapter
from hub.config import ArConfig
from hub.errors import InDoubtError, PortalError
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from hub.services import timeline
from mappings.cxml_response import render_response
from tests.factories import SUPPLIER, T0, ListAr, make_hub, make_invoice

GOOD = render_response(200, "OK", "r.1@portal", T0, detail="Successful - invoice id: 9532")
junk_values = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=20),
    st.sampled_from(
        ["", " ", "1e999", "NaN", "12,50", "2026-13-45", "\x00", "USD", "\uff35\uff33\uff24", "-0", "12.5.1"]
    ),
)
HEADER_COLUMNS = [
    "invoice_number",
    "customer_id",
    "doc_type",
    "invoice_date",
    "due_date",
    "currency",
    "po_number",
    "subtotal",
    "tax_total",
    "total",
    "shipping",
    "discount",
    "payment_terms_days",
    "discount_percent",
]
LINE_COLUMNS = [
    "line_no",
    "po_line",
    "part_number",
    "description",
    "quantity",
    "uom",
    "unit_price",
    "amount",
    "tax_rate",
    "tax_amount",
    "service_start",
    "service_end",
]


@settings(max_examples=300, deadline=None)
@given(
    header=st.fixed_dictionaries({c: junk_values for c in HEADER_COLUMNS}),
    lines=st.lists(st.fixed_dictionaries({c: junk_values for c in LINE_COLUMNS}), max_size=3),
)
def test_any_ar_record_is_an_invoice_or_a_reason(header: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    adapter = SqlArAdapter(ArConfig(url="sqlite://"), SUPPLIER)
    record = adapter._record(
        {**header, "invoice_id": 1, "customer_name": "ACME"}, [{**line, "invoice_id": 1} for line in lines]
    )
    assert (record.invoice is None) != (record.error is None)
    if record.error is not None:
        assert record.error.strip() and len(record.error) < 5000  # a sentence a person can read


def test_bad_records_are_quarantined_and_the_others_go_through(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    ar = ListAr()
    ar.add(make_invoice("INV-1"))
    ar.records.append(
        ArRecord(
            key="bad-1", raw={"total": "NaN"}, error="total 'NaN' is not a number", invoice_number="INV-2"
        )
    )
    ar.add(make_invoice("INV-3"))
    hub = make_hub(tmp_path, coupa.server.url, ar=ar)
    report = ingest(hub)
    assert report.counts["new"] == 2 and report.counts["quarantined"] == 1
    submit_profile(hub, hub.profile("acme-coupa"))
    assert {timeline(hub, n)["invoice"]["state"] for n in ("INV-1", "INV-3")} == {"SUBMITTED"}
    hub.close()


def _mutations() -> st.SearchStrategy[tuple[int, bytes, str]]:
    """(HTTP status, body, content type) a portal could answer with, most of them broken."""
    body = st.one_of(
        st.binary(max_size=400),
        st.integers(0, len(GOOD)).map(lambda n: GOOD[:n]),  # truncated
        st.just(GOOD.decode().encode("utf-16")),  # wrong encoding
        st.just(GOOD.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"') + "é".encode("latin-1")),
        st.just(
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><cXML><Response><Status code="200" text="&c;"/></Response></cXML>'
        ),
        st.just(
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<cXML><Response><Status code="200" text="&e;"/></Response></cXML>'
        ),
        st.just(
            b"<cXML><Response><Status code='200' text='OK'>" + b"x" * 300_000 + b"</Status></Response></cXML>"
        ),
        st.just(GOOD),
    )
    return st.tuples(
        st.sampled_from([200, 201, 400, 404, 429, 500, 502, 503]),
        body,
        st.sampled_from(["text/xml", "text/html", "application/json"]),
    )


@pytest.fixture(scope="module")
def scripted() -> Any:
    state: dict[str, Any] = {"reply": Reply(200, GOOD, "text/xml")}
    server = SandboxServer(lambda request: state["reply"]).start()
    yield state, server
    server.stop()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=_mutations())
def test_any_portal_reply_is_a_receipt_or_a_hub_error(
    reply: tuple[int, bytes, str], scripted: Any, tmp_path_factory: Any
) -> None:
    from tests.connectors.support import make_connector, write_profile

    state, server = scripted
    status, body, content_type = reply
    state["reply"] = Reply(status, body, content_type)
    import httpx

    with httpx.Client(timeout=5) as http:
        connector = make_connector(http)
        profile = write_profile(tmp_path_factory.mktemp("p"), server.url)
        document = connector.render(make_invoice("INV-1"), profile, _envelope())
        try:
            receipt = connector.submit(document, profile)
        except (PortalError, InDoubtError) as exc:
            assert "root:" not in str(exc)  # the external entity was never read
        else:
            # A receipt only when the answer, in whatever encoding, is a cXML status 2xx.
            text = body.decode("utf-16") if body.startswith(b"\xff\xfe") else body.decode("utf-8", "replace")
            assert any(f"code={q}{c}{q}" in text for q in "'\"" for c in ("200", "201", "204")), receipt


def _envelope() -> Any:
    from connectors.base import Envelope

    return Envelope(payload_id="p.1@hub", timestamp=T0, invoice_number="INV-1")


def test_a_huge_answer_is_recorded_cut_not_whole(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    huge = b"<html>" + b"x" * 2_000_000 + b"</html>"
    coupa.server.handler = lambda request: (
        Reply(502, huge, "text/html") if request.method == "POST" else Reply(404)
    )
    ar = ListAr()
    ar.add(make_invoice("INV-1"))
    hub = make_hub(tmp_path, coupa.server.url, ar=ar)
    ingest(hub)
    assert submit_profile(hub, hub.profile("acme-coupa")).outcomes == {"transient": 1}
    from sqlmodel import select

    from hub.store.tables import AttemptRow

    with hub.store.session() as session:
        attempt = session.exec(select(AttemptRow)).one()
    assert attempt.response_document is None or len(attempt.response_document) < 70_000
    assert timeline(hub, "INV-1")["invoice"]["state"] == "READY"
    hub.close()
