"""With `web:` in portalhub.yaml the daemon serves the pages and the API beside its jobs; without it,
none."""

from __future__ import annotations

import httpx
import pytest

from hub.config import WebConfig
from hub.daemon import Daemon
from tests.web.conftest import Served


def test_the_daemon_serves_the_web_only_when_configured(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = served.workspace.hub
    assert Daemon(hub)._start_web() is None
    monkeypatch.setattr(hub, "config", hub.config.model_copy(update={"web": WebConfig(port=0)}))
    server = Daemon(hub)._start_web()
    assert server is not None
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(base + "/login", timeout=30).status_code == 200
        answer = httpx.get(base + "/api/problems", timeout=30)
        assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
    finally:
        server.stop()
