from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors.coupa import CoupaConnector
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import SandboxServer
from connectors.webportal.browser import BrowserPool
from rules.schema import Profile
from tests.connectors.support import ScriptedPortal, make_connector, write_profile


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    client = httpx.Client(timeout=httpx.Timeout(2.0))
    yield client
    client.close()


@pytest.fixture
def connector(http: httpx.Client) -> CoupaConnector:
    return make_connector(http)


@pytest.fixture
def profile(tmp_path: Path, coupa: CoupaSandbox) -> Profile:
    assert coupa.server is not None
    return write_profile(tmp_path, coupa.server.url)


@pytest.fixture(scope="module")
def _scripted_server() -> Iterator[tuple[ScriptedPortal, SandboxServer]]:
    # One server per module: stopping a server takes a poll interval, and the cases are many.
    portal = ScriptedPortal()
    with SandboxServer(portal) as server:
        yield portal, server


@pytest.fixture
def scripted(_scripted_server: tuple[ScriptedPortal, SandboxServer]) -> tuple[ScriptedPortal, SandboxServer]:
    """A portal on a real socket that answers whatever the test scripts (`portal.reply = ...`)."""
    portal, server = _scripted_server
    portal.received.clear()
    portal.reply = ScriptedPortal().reply
    server.requests.clear()
    return portal, server


@pytest.fixture(scope="module")
def pool(chromium: str) -> Iterator[BrowserPool]:
    """The browser connector's tests: one Chromium per module and profile; each test has its own
    portal, profile and evidence folder."""
    browsers = BrowserPool()
    yield browsers
    browsers.close()
