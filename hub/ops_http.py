"""The daemon's HTTP listener: `/healthz` and `/metrics` for whoever watches it, beside the inbound
status receiver when one is configured (one listener per daemon, on 127.0.0.1 by default).

`/healthz` answers 200 only when the store answers and every job ticked within three times its
interval (503 otherwise, with the reasons as JSON); `/metrics` is the Prometheus text format
(hub/metrics.py). Neither needs credentials: keep the listener on 127.0.0.1 or behind the proxy that
guards it. Neither shows an invoice's content or a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from hub.heartbeat import JobClock, health
from hub.metrics import CONTENT_TYPE, HubCollector, render
from hub.store.database import Store


def listener_app(
    store: Store,
    jobs: JobClock,
    now: Callable[[], datetime],
    *,
    receiver: Any = None,
    profile_health: Callable[[], dict[str, str | None]] | None = None,
) -> Starlette:
    """`/healthz`, `/metrics`, and the receiver's own app (an ASGI app) mounted under everything else."""
    collector = HubCollector(store, now, jobs, profile_health)

    async def healthz(request: Request) -> Response:
        healthy, details = await run_in_threadpool(health, store, jobs, now())
        return JSONResponse(details, status_code=200 if healthy else 503)

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(render, collector)
        return Response(body, media_type=CONTENT_TYPE)

    routes: list[Any] = [Route("/healthz", healthz), Route("/metrics", metrics)]
    if receiver is not None:
        routes.append(Mount("/", app=receiver))
    return Starlette(routes=routes)
