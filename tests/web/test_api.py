"""The HTTP API on a real socket: the OpenAPI document (valid, and naming exactly the routes served),
paging that visits every invoice once, filters as the CLI's, one invoice, actions recorded as
`api:<token name>`, errors as application/problem+json."""

from __future__ import annotations

from openapi_spec_validator import validate
from sqlmodel import col, func, select
from starlette.routing import Route

from hub.store.tables import EventRow, InvoiceRow
from hub.web.app import create_app
from tests.web.conftest import Served


def test_the_openapi_document_is_valid_and_names_every_api_route(served: Served) -> None:
    with served.api(None) as client:
        document = client.get("/api/openapi.json").json()
    validate(document)
    app = create_app(served.workspace.hub, warm_report=False)
    served_paths = {r.path for r in app.routes if isinstance(r, Route) and r.path.startswith("/api/")}
    assert set(document["paths"]) == served_paths - {"/api/openapi.json"}


def test_invoices_page_through_every_invoice_once(served: Served) -> None:
    seen: list[str] = []
    cursor = None
    with served.api("erp") as client:
        while True:
            answer = client.get(
                "/api/invoices", params={"limit": 7, **({"cursor": cursor} if cursor else {})}
            )
            assert answer.status_code == 200
            page = answer.json()
            assert len(page["items"]) <= 7
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        rejected = client.get("/api/invoices", params={"state": "REJECTED"}).json()["items"]
    with served.workspace.hub.store.session() as session:
        total = session.exec(select(func.count()).select_from(InvoiceRow)).one()
    assert len(seen) == len(set(seen)) == total
    assert rejected and {i["state"] for i in rejected} == {"REJECTED"}


def test_problems_filter_as_the_cli_and_page_by_offset(served: Served) -> None:
    with served.api("vic") as client:
        everything = client.get("/api/problems").json()
        po = client.get("/api/problems", params={"category": "po"}).json()
        big = client.get("/api/problems", params={"min_amount": "1000"}).json()
        first = client.get("/api/problems", params={"limit": 2}).json()
        second = client.get("/api/problems", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert everything["total"] == len(everything["items"]) > 3
    assert (
        po["items"] and all(r["category"] == "po" for r in po["items"]) and po["total"] < everything["total"]
    )
    assert all(abs(float(r["amount"])) >= 1000 for r in big["items"]) and big["total"] < everything["total"]
    assert [r["invoice_number"] for r in first["items"] + second["items"]] == [
        r["invoice_number"] for r in everything["items"][:4]
    ]
    row = next(r for r in everything["items"] if r["state"] == "BLOCKED" and r["rules"])
    assert row["rules"][0]["source"] and ":" in row["rules"][0]["source"]  # the file and line of the rule


def test_one_invoice_with_its_timeline_and_sends(served: Served) -> None:
    with served.api("vic") as client:
        data = client.get("/api/invoices/INV-24016").json()
        missing = client.get("/api/invoices/INV-0000")
    assert data["id"] == "INV-24016" and data["invoice"]["state"] == "REJECTED"
    assert data["events"] and data["attempts"][0]["request_document"].startswith("<?xml")
    assert data["ar_record"]["invoice_number"] == "INV-24016"
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_actions_are_recorded_with_the_token_name(served: Served) -> None:
    with served.api("cole") as client:
        owner = client.post("/api/invoices/INV-24015/actions/owner", json={"owner": "Cole"})
        follow = client.post("/api/invoices/INV-24015/actions/follow_up", json={"follow_up_on": "2026-12-24"})
        bad_day = client.post("/api/invoices/INV-24015/actions/follow_up", json={"follow_up_on": "soon"})
        unknown = client.post("/api/invoices/INV-24015/actions/delete", json={})
        cancel = client.post("/api/invoices/INV-24015/actions/cancel", json={})
        shown = client.get("/api/invoices/INV-24015").json()
        listed = client.get("/api/problems", params={"customer": "C-1001"}).json()["items"]
    assert owner.status_code == 200 and owner.json()["ok"]
    assert follow.status_code == 200
    assert bad_day.status_code == 400 and "2026-12-24" in bad_day.json()["detail"]
    assert unknown.status_code == 404
    assert cancel.status_code == 400 and "confirm" in cancel.json()["detail"]
    assert shown["follow_up"] == {"owner": "Cole", "follow_up_on": "2026-12-24"}
    assert next(r for r in listed if r["invoice_number"] == "INV-24015")["owner"] == "Cole"
    with served.workspace.hub.store.session() as session:
        row = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == "INV-24015")).one()
        actors = {e.actor for e in session.exec(select(EventRow).where(col(EventRow.invoice_id) == row.id))}
    assert "api:cole-token" in actors


def test_revalidate_reads_the_ar_record_afresh(served: Served) -> None:
    with served.api("ada") as client:
        answer = client.post("/api/invoices/INV-24015/actions/revalidate").json()
    assert answer["ok"] is False and answer["result"]["violations"]
    assert "still breaks" in answer["message"]


def test_bad_filters_are_problems_saying_what_to_send(served: Served) -> None:
    with served.api("vic") as client:
        for params, words in (
            ({"category": "nonsense"}, "unknown category"),
            ({"min_amount": "lots"}, "min_amount"),
            ({"limit": "0"}, "limit"),
            ({"older_than_days": "-1"}, "older_than_days"),
        ):
            answer = client.get("/api/problems", params=params)
            assert answer.status_code == 400, params
            assert answer.headers["content-type"] == "application/problem+json"
            assert words in answer.json()["detail"]


def test_report_and_status_figures(served: Served) -> None:
    with served.api("erp") as client:
        report = client.get("/api/report").json()
        status = client.get("/api/status").json()
    assert {a["key"] for a in report["by_portal"]} >= {"acme-coupa"}
    assert 0 <= report["preflight_share"] <= 1
    assert [c["milestone"] for c in report["cycle_times"]] == ["submission", "approval", "payment"]
    assert "acme-coupa" in status["profiles"] and status["quarantined"] >= 1


def test_the_worklist_is_recomputed_as_soon_as_an_event_is_appended(served: Served) -> None:
    from hub.web.actions import add_note
    from hub.web.filters import Filters
    from hub.web.views import WorklistCache

    hub = served.workspace.hub
    cache = WorklistCache()
    first = cache.rows(hub, Filters())
    assert cache.rows(hub, Filters()) is first  # nothing changed: the same rows
    assert cache.rows(hub, Filters(categories=("po",))) is not first  # each filter its own
    add_note(hub, "INV-24016", "a change", actor="test")
    again = cache.rows(hub, Filters())
    assert again is not first and again == first  # recomputed (a note changes no row)
    assert WorklistCache(max_age=0).rows(hub, Filters()) == first
