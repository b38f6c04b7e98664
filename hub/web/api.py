"""The HTTP API (JSON) on the same services as the pages: invoices and problems with paging, one
invoice with its timeline, the actions, the report's figures, the hub's status, the quarantine.

Authenticated by bearer token only (`Authorization: Bearer phub_...`, see `portalhub users token`);
errors are application/problem+json; `/api/openapi.json` describes it all (hub/web/openapi.py).
Invoices are named by their AR invoice number, which never changes (a renumbered send keeps it).
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub import services
from hub.model import InvoiceState
from hub.web import accounts, views
from hub.web.accounts import Principal
from hub.web.app import Refused, Web, perform
from hub.web.filters import BadFilter, parse_filters, parse_paging
from hub.web.openapi import openapi_document


def routes(web: Web) -> list[Route]:
    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def invoices(request: Request) -> Response:
        await api_user(web, request)
        params = request.query_params
        state = params.get("state") or None
        if state is not None and state not in {s.value for s in InvoiceState}:
            raise Refused(
                400,
                "Bad filter",
                f"unknown state {state!r}; use one of {', '.join(s.value for s in InvoiceState)}",
            )
        try:
            limit, after = parse_paging(params)
        except BadFilter as exc:
            raise Refused(400, "Bad filter", str(exc)) from exc
        rows, cursor = await run_in_threadpool(
            lambda: views.invoices(
                web.hub,
                state=state,
                customer=params.get("customer") or None,
                portal=params.get("portal") or None,
                limit=limit,
                after=after,
            )
        )
        return JSONResponse({"items": rows, "next_cursor": str(cursor) if cursor is not None else None})

    async def problems(request: Request) -> Response:
        await api_user(web, request)
        params = request.query_params
        try:
            filters = parse_filters(params, params.getlist("category"))
            limit, offset = parse_paging(params)
        except BadFilter as exc:
            raise Refused(400, "Bad filter", str(exc)) from exc
        page = await run_in_threadpool(views.problems, web.hub, filters, limit, offset, web.worklists)
        return JSONResponse(
            {
                "items": page.rows,
                "total": page.total,
                "totals": page.totals,
                "next_cursor": str(page.next_offset) if page.next_offset is not None else None,
            }
        )

    async def invoice(request: Request) -> Response:
        await api_user(web, request)
        number = request.path_params["number"]
        try:
            data = await run_in_threadpool(views.invoice, web.hub, number)
        except services.NotFound as exc:
            raise Refused(404, "Not found", str(exc)) from exc
        data["id"] = data["invoice"]["invoice_number"]
        return JSONResponse(data)

    async def act(request: Request) -> Response:
        who = await api_user(web, request)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise Refused(400, "Bad request", f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise Refused(400, "Bad request", "the body is a JSON object of the action's fields")
        done = await run_in_threadpool(
            perform, web, who, request.path_params["number"], request.path_params["action"], body
        )
        return JSONResponse(done)

    async def report(request: Request) -> Response:
        await api_user(web, request)
        assert web.reports is not None
        data = await run_in_threadpool(web.reports.get)
        return JSONResponse(json.loads(json.dumps(views.report_json(data), default=str)))

    async def status(request: Request) -> Response:
        await api_user(web, request)
        return JSONResponse(await run_in_threadpool(services.status_summary, web.hub))

    async def quarantine(request: Request) -> Response:
        await api_user(web, request)
        return JSONResponse({"items": await run_in_threadpool(views.quarantined, web.hub)})

    return [
        Route("/api/openapi.json", openapi),
        Route("/api/invoices", invoices),
        Route("/api/invoices/{number}", invoice),
        Route("/api/invoices/{number}/actions/{action}", act, methods=["POST"]),
        Route("/api/problems", problems),
        Route("/api/report", report),
        Route("/api/status", status),
        Route("/api/quarantine", quarantine),
    ]


async def api_user(web: Web, request: Request) -> Principal:
    """The token's principal; 401 without a valid token, 403 for one without a role."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    who = None
    if scheme.lower() == "bearer" and token.strip():
        who = await run_in_threadpool(
            accounts.token_principal, web.hub.store, token.strip(), web.hub.clock.now()
        )
    if who is None:
        raise Refused(
            401,
            "Unauthorized",
            "send a valid API token: Authorization: Bearer <token> (portalhub users token)",
        )
    if not who.can_read:
        raise Refused(403, "Forbidden", f"token {who.name} has no role")
    return who
