"""The collectors' web pages and the hub's HTTP API (docs/web.md), on the services the CLI uses.

`create_app(hub)` is the Starlette app; `WebServer` serves it in a background thread (the daemon, when
`web:` is configured) and `portalhub web` in the foreground.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.http_listener import HttpListener
    from hub.runtime import Hub


def session_secret(hub: Hub) -> str | None:
    """The configured secret that signs session cookies (None: a random one per process)."""
    settings = hub.config.web
    if settings is None or settings.session_secret is None:
        return None
    return hub.secrets.resolve(settings.session_secret)


def start_web(hub: Hub, *, host: str | None = None, port: int | None = None) -> HttpListener:
    """Serve the pages and the API in a background thread (uvicorn, as the status receiver is served)."""
    from hub.config import WebConfig
    from hub.http_listener import HttpListener
    from hub.web.app import create_app

    settings = hub.config.web or WebConfig()
    app = create_app(hub, secret_key=session_secret(hub), secure_cookies=settings.secure_cookies)
    return HttpListener(app, host or settings.host, settings.port if port is None else port, "/").start()
