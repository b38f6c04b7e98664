"""The web application: the collectors' pages and the HTTP API on one Starlette app.

Who is asking is settled here, once per request: pages need a session (a signed, HTTP-only, SameSite
cookie set at login), the API a bearer token (`Authorization: Bearer phub_...`); the API never reads
the cookie, so a page cannot be made to call it on someone's behalf. Every form carries the
session's CSRF token. The actions (`perform`) are shared by both, and every one is checked against the
principal's role and customers before anything is done.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.corrections import NotApplicable, PortalBusy, ResubmitRefused, cancel, resubmit
from hub.errors import ConfigError, DocumentError
from hub.web import actions
from hub.web.accounts import Principal
from hub.web.security import SECURITY_HEADERS, LoginThrottle
from hub.web.views import ReportCache, WorklistCache

if TYPE_CHECKING:
    from hub.runtime import Hub

HERE = Path(__file__).parent
ACTIONS = ("revalidate", "resubmit", "cancel", "owner", "note", "follow_up")
SESSION_COOKIE = "portalhub_session"
SESSION_SECONDS = 8 * 3600


class Refused(Exception):
    """An answer other than the page or data asked for: its HTTP status and what to tell the person."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class Web:
    """What every handler needs: the hub, the templates, the login throttle, the cached report."""

    hub: Hub
    templates: Jinja2Templates
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    reports: ReportCache | None = None
    worklists: WorklistCache = field(default_factory=WorklistCache)

    def __post_init__(self) -> None:
        self.reports = self.reports or ReportCache(self.hub)


def perform(web: Web, who: Principal, number: str, action: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Do one action on one invoice as `who`; raises Refused when it may not or cannot be done.
    Returns what happened, for the page's message or the API's answer."""
    if action not in ACTIONS:
        raise Refused(404, "Not found", f"there is no action {action!r}; actions: {', '.join(ACTIONS)}")
    customer = actions.customer_of(web.hub, number)
    if customer is None:
        raise Refused(404, "Not found", f"no invoice {number!r} in the store")
    if not who.can_act_on(customer):
        raise Refused(
            403,
            "Forbidden",
            f"{who.name} ({who.role or 'no role'}) may not act on invoices of customer {customer}",
        )
    hub = web.hub
    try:
        if action == "revalidate":
            result = actions.revalidate(hub, number, actor=who.actor)
            errors = [v for v in result["violations"] if v["severity"] == "error"]
            message = (
                f"{number} passes against {result['profile_id']} as the AR system has it now"
                if result["ok"]
                else f"{number} still breaks {len(errors)} rule(s): "
                + "; ".join(f"[{v['rule_id']}] {v['message']}" for v in errors)
            )
            return {"ok": result["ok"], "message": message, "result": result}
        if action == "resubmit":
            done = resubmit(hub, number, force=bool(fields.get("force")), actor=who.actor)
            sent = f", sent as payloadID {done.payload_id}" if done.payload_id else ""
            return {
                "ok": done.ok,
                "message": f"{number} re-read from AR ({done.ar}), now {done.state}{sent}. {done.message}".strip(),
                "result": {
                    "state": done.state,
                    "ar": done.ar,
                    "revision": done.revision,
                    "payload_id": done.payload_id,
                    "portal_invoice_number": done.portal_invoice_number,
                },
            }
        if action == "cancel":
            if not fields.get("confirm"):
                raise Refused(400, "Bad request", "a cancel must be confirmed (confirm=yes)")
            cancelled = cancel(hub, number, reason=(fields.get("reason") or None), actor=who.actor)
            return {
                "ok": cancelled.ok,
                "message": f"{number}: {cancelled.outcome}. {cancelled.message}".strip(),
                "result": {"outcome": cancelled.outcome, "state": cancelled.state},
            }
        if action == "owner":
            actions.assign_owner(hub, number, str(fields.get("owner") or ""), actor=who.actor)
            return {"ok": True, "message": f"owner of {number} saved"}
        if action == "note":
            actions.add_note(hub, number, str(fields.get("text") or ""), actor=who.actor)
            return {"ok": True, "message": f"note added to {number}"}
        day = str(fields.get("follow_up_on") or "").strip()
        try:
            when = date.fromisoformat(day) if day else None
        except ValueError:
            raise Refused(
                400, "Bad request", f"follow_up_on takes a date such as 2026-12-24, not {day!r}"
            ) from None
        actions.set_follow_up(hub, number, when, actor=who.actor)
        return {"ok": True, "message": f"follow-up of {number} saved"}
    except (NotApplicable, ResubmitRefused) as exc:
        raise Refused(409, "Conflict", str(exc)) from exc
    except PortalBusy as exc:
        raise Refused(503, "Portal busy", str(exc)) from exc
    except (ConfigError, DocumentError) as exc:
        raise Refused(422, "Cannot be done", str(exc)) from exc


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every answer (pages, API, static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
            await send(message)

        await self.app(scope, receive, with_headers)


def templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # everything from the store or a portal is text, never markup
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["money"] = lambda value: f"{Decimal(value):,.2f}" if value is not None else ""
    environment.filters["rule_source"] = rule_source
    return Jinja2Templates(env=environment)


def rule_source(source: str | None) -> str:
    """Where a rule is written, as the folder and file and line (`rules.d/acme-coupa.yaml:29`): the
    absolute path says nothing more to a collector, and tells the world where the hub is installed."""
    if not source:
        return ""
    path = Path(source)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def create_app(
    hub: Hub,
    *,
    secret_key: str | None = None,
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
    warm_report: bool = True,
) -> Starlette:
    """The web pages and the API for `hub`. `secret_key` signs session cookies (random when None:
    sessions then end with the process); `secure_cookies` sends them over HTTPS only."""
    from hub.web import admin, api, pages

    web = Web(hub=hub, templates=templates(), throttle=throttle or LoginThrottle())
    if warm_report and web.reports is not None:
        web.reports.warm()
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=secret_key or secrets.token_urlsafe(32),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_SECONDS,
            same_site="strict",
            https_only=secure_cookies,
        ),
    ]
    routes = [
        *api.routes(web),
        *pages.routes(web),
        *admin.routes(web),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=pages.exception_handlers(web))
    app.state.web = web
    return app


def problem(status: int, title: str, detail: str) -> Response:
    """An error as application/problem+json (RFC 9457)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    headers = {"WWW-Authenticate": 'Bearer realm="portalhub"'} if status == 401 else None
    return Response(
        json.dumps(body), status_code=status, media_type="application/problem+json", headers=headers
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
