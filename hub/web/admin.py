"""The admin's pages: who may use the web pages and the API. The same operations as `portalhub users`
(add a user, disable one, create and revoke API tokens), for admins only, each form with the session's
CSRF token. A new token is shown once, on the page that answers the form (never put in the session
cookie or a redirect), and the page is marked not to be cached."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.web import accounts
from hub.web.accounts import ROLES, AccountError, Principal
from hub.web.app import Refused, Web
from hub.web.pages import page_user, render
from hub.web.security import csrf_ok

USERS_PAGE = "/admin/users"
P = ParamSpec("P")
T = TypeVar("T")


def routes(web: Web) -> list[Route]:
    async def users(request: Request) -> Response:
        return await _page(web, request, await _admin(web, request))

    async def add_user(request: Request) -> Response:
        who, form = await _admin_form(web, request)
        customers = tuple(str(form.get("customers") or "").replace(",", " ").split())
        name = str(form.get("name") or "").strip()
        await _do(
            accounts.add_user,
            web.hub.store,
            name,
            str(form.get("password") or ""),
            str(form.get("role") or ""),
            customers=customers,
            by=who.actor,
            now=web.hub.clock.now(),
        )
        return _done(request, f"user {name} added")

    async def disable_user(request: Request) -> Response:
        who, form = await _admin_form(web, request)
        name = str(form.get("name") or "")
        if name == who.name:
            # An admin locking themselves out leaves nobody to undo it from the web.
            raise Refused(409, "Conflict", "you cannot disable your own account: ask another admin")
        await _do(accounts.disable_user, web.hub.store, name, web.hub.clock.now())
        return _done(request, f"user {name} disabled: no login, sessions and tokens refused")

    async def create_token(request: Request) -> Response:
        who, form = await _admin_form(web, request)
        name = str(form.get("name") or "").strip()
        owner = str(form.get("user") or "").strip() or None
        role = None if owner else (str(form.get("role") or "").strip() or None)
        token = await _do(
            accounts.create_token,
            web.hub.store,
            name,
            user=owner,
            role=role,
            by=who.actor,
            now=web.hub.clock.now(),
        )
        return await _page(web, request, who, new_token=(name, token))

    async def revoke_token(request: Request) -> Response:
        _who, form = await _admin_form(web, request)
        name = str(form.get("name") or "")
        await _do(accounts.revoke_token, web.hub.store, name, web.hub.clock.now())
        return _done(request, f"token {name} revoked")

    return [
        Route(USERS_PAGE, users, methods=["GET"]),
        Route(f"{USERS_PAGE}/add", add_user, methods=["POST"]),
        Route(f"{USERS_PAGE}/disable", disable_user, methods=["POST"]),
        Route("/admin/tokens/create", create_token, methods=["POST"]),
        Route("/admin/tokens/revoke", revoke_token, methods=["POST"]),
    ]


async def _admin(web: Web, request: Request) -> Principal:
    who = await page_user(web, request)
    if not who.is_admin:
        raise Refused(403, "Forbidden", f"{who.name} ({who.role}) is not an admin: only admins manage users")
    return who


async def _admin_form(web: Web, request: Request) -> tuple[Principal, dict[str, object]]:
    who = await _admin(web, request)
    form = await request.form()
    if not csrf_ok(request.session, form.get("csrf")):
        raise Refused(403, "Forbidden", "the form expired or did not come from this site: reload the page")
    return who, dict(form.items())


async def _do(operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an account operation off the event loop; a refusal (name taken, short password) is a 422."""
    try:
        return await run_in_threadpool(operation, *args, **kwargs)
    except AccountError as exc:
        raise Refused(422, "Cannot be done", str(exc)) from exc


def _done(request: Request, message: str) -> Response:
    request.session["flash"] = {"ok": True, "text": message}
    return RedirectResponse(USERS_PAGE, status_code=303)


async def _page(
    web: Web, request: Request, who: Principal, new_token: tuple[str, str] | None = None
) -> Response:
    users = await run_in_threadpool(accounts.list_users, web.hub.store)
    tokens = await run_in_threadpool(accounts.list_tokens, web.hub.store)
    response = render(
        web, request, "users.html", who, users=users, tokens=tokens, roles=ROLES, new_token=new_token
    )
    response.headers["Cache-Control"] = "no-store"  # a new token is on this page, once
    return response
