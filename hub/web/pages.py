"""The collectors' pages: log in, the worklist, one invoice and its actions, the hub's status, the
quarantined AR records. Server-rendered HTML that reads without JavaScript; every form posts with the
session's CSRF token and redirects back (303) with a message."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from hub import services
from hub.web import accounts, views
from hub.web.accounts import Principal
from hub.web.app import ACTIONS, Refused, Web, client_address, perform, problem
from hub.web.filters import BadFilter, parse_filters, parse_paging
from hub.web.security import csrf_ok, csrf_token
from hub.worklist import CATEGORY_LABELS, said

PAGE_ROWS = 100


class LoginNeeded(Exception):
    """No valid session: the person is sent to the login page, and back afterwards."""


def routes(web: Web) -> list[Route]:
    async def home(request: Request) -> Response:
        return RedirectResponse("/worklist", status_code=303)

    async def login_form(request: Request) -> Response:
        return render(web, request, "login.html", None, next=_next(request), error=None)

    async def login(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request.session, form.get("csrf")):
            raise Refused(403, "Forbidden", "the form expired or did not come from this site: log in again")
        name, password = str(form.get("name") or ""), str(form.get("password") or "")
        keys = (f"user:{name.lower()}", f"ip:{client_address(request)}")
        wait = web.throttle.retry_after(*keys)
        if wait:
            response = render(
                web,
                request,
                "login.html",
                None,
                next=_next(request, form.get("next")),
                error=f"Too many failed logins: try again in {wait} seconds.",
                status_code=429,
            )
            response.headers["Retry-After"] = str(wait)
            return response
        who = await run_in_threadpool(accounts.login, web.hub.store, name, password)
        if who is None:
            web.throttle.failed(*keys)
            return render(
                web,
                request,
                "login.html",
                None,
                next=_next(request, form.get("next")),
                error="Wrong user name or password.",
                status_code=401,
            )
        web.throttle.succeeded(keys[0])
        request.session.clear()  # a new session at login: no fixation
        request.session["user"] = who.name
        csrf_token(request.session)
        return RedirectResponse(_next(request, form.get("next")), status_code=303)

    async def logout(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request.session, form.get("csrf")):
            raise Refused(403, "Forbidden", "the form did not come from this site")
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def worklist(request: Request) -> Response:
        who = await page_user(web, request)
        params = request.query_params
        try:
            filters = parse_filters(params, params.getlist("category"))
            limit, offset = parse_paging(params, default=PAGE_ROWS)
        except BadFilter as exc:
            raise Refused(400, "Bad filter", str(exc)) from exc
        page = await run_in_threadpool(views.problems, web.hub, filters, limit, offset, web.worklists)
        query = filters.as_query()
        return render(
            web,
            request,
            "worklist.html",
            who,
            page=page,
            filters=filters,
            categories=CATEGORY_LABELS,
            said=said,
            next_link=(
                f"/worklist?{urlencode([*query, ('offset', str(page.next_offset))])}"
                if page.next_offset is not None
                else None
            ),
            prev_link=(
                f"/worklist?{urlencode([*query, ('offset', str(max(0, offset - limit)))])}"
                if offset
                else None
            ),
        )

    async def invoice(request: Request) -> Response:
        who = await page_user(web, request)
        number = request.path_params["number"]
        data = await _invoice(web, number)
        return render(
            web,
            request,
            "invoice.html",
            who,
            data=data,
            may_act=who.can_act_on(data["invoice"]["customer_id"]),
            said=said,
        )

    async def confirm_cancel(request: Request) -> Response:
        who = await page_user(web, request)
        data = await _invoice(web, request.path_params["number"])
        if not who.can_act_on(data["invoice"]["customer_id"]):
            raise Refused(
                403, "Forbidden", f"{who.name} ({who.role}) may not cancel invoices of this customer"
            )
        return render(web, request, "cancel.html", who, data=data)

    async def act(request: Request) -> Response:
        who = await page_user(web, request)
        number, action = request.path_params["number"], request.path_params["action"]
        form = await request.form()
        if not csrf_ok(request.session, form.get("csrf")):
            raise Refused(
                403, "Forbidden", "the form expired or did not come from this site: reload the page"
            )
        fields = {k: str(v) for k, v in form.items() if k != "csrf"}
        done = await run_in_threadpool(perform, web, who, number, action, fields)
        request.session["flash"] = {"ok": bool(done["ok"]), "text": done["message"]}
        return RedirectResponse(f"/invoices/{number}", status_code=303)

    async def evidence(request: Request) -> Response:
        await page_user(web, request)
        data = await _invoice(web, request.path_params["number"])
        name = request.path_params["name"]
        for path in views.evidence_files(web.hub, data):
            if path.name == name:  # only files the invoice's own evidence folders hold
                return FileResponse(path, media_type="image/png")
        raise Refused(404, "Not found", f"no evidence {name!r} for this invoice")

    async def status(request: Request) -> Response:
        who = await page_user(web, request)
        summary = await run_in_threadpool(services.status_summary, web.hub)
        assert web.reports is not None
        report = await run_in_threadpool(web.reports.get)
        from hub.web.charts import report_charts

        return render(
            web,
            request,
            "status.html",
            who,
            summary=summary,
            polls={p["profile_id"]: p for p in summary["polls"]},
            report=report,
            charts=report_charts(report),
        )

    async def quarantine(request: Request) -> Response:
        who = await page_user(web, request)
        rows = await run_in_threadpool(views.quarantined, web.hub)
        return render(web, request, "quarantine.html", who, rows=rows)

    return [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/worklist", worklist),
        Route("/invoices/{number}", invoice),
        Route("/invoices/{number}/cancel", confirm_cancel, methods=["GET"]),
        Route("/invoices/{number}/actions/{action}", act, methods=["POST"]),
        Route("/invoices/{number}/evidence/{name}", evidence),
        Route("/status", status),
        Route("/quarantine", quarantine),
    ]


async def _invoice(web: Web, number: str) -> dict[str, Any]:
    try:
        return await run_in_threadpool(views.invoice, web.hub, number)
    except services.NotFound as exc:
        raise Refused(404, "Not found", str(exc)) from exc


async def page_user(web: Web, request: Request) -> Principal:
    """The logged-in user, or LoginNeeded; a user without a role gets 403 and nothing else."""
    name = request.session.get("user")
    who = (
        await run_in_threadpool(accounts.session_user, web.hub.store, name) if isinstance(name, str) else None
    )
    if who is None:
        request.session.pop("user", None)
        raise LoginNeeded()
    if not who.can_read:
        raise Refused(403, "Forbidden", f"{who.name} has no role: ask an admin to give you one")
    return who


def _next(request: Request, sent: object = None) -> str:
    """Where to go after login: a path on this site only (never another host)."""
    target = sent if isinstance(sent, str) else request.query_params.get("next", "/worklist")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/worklist"
    return target


def render(
    web: Web, request: Request, template: str, who: Principal | None, status_code: int = 200, **context: Any
) -> Response:
    flash = request.session.pop("flash", None)
    return web.templates.TemplateResponse(
        request,
        template,
        {"who": who, "csrf": csrf_token(request.session), "flash": flash, "actions": ACTIONS, **context},
        status_code=status_code,
    )


def exception_handlers(web: Web) -> dict[Any, Any]:
    def _error(request: Request, status: int, title: str, detail: str) -> Response:
        if request.url.path.startswith("/api/"):
            return problem(status, title, detail)
        return render(web, request, "error.html", None, status_code=status, title=title, detail=detail)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return _error(request, exc.status, exc.title, exc.detail)

    async def login_needed(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(
            request, exc.status_code, "Not found" if exc.status_code == 404 else "Error", str(exc.detail)
        )

    return {Refused: refused, LoginNeeded: login_needed, HTTPException: http_error}
