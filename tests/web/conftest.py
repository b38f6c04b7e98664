"""One demo workspace (the Coupa sandbox, settled, then INV-24017/24018 corrected in AR but not yet
resent) served by the web app on a real socket, with a user and a token of every role."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.demo import DemoWorkspace, prepare, run_until_settled
from hub.http_listener import HttpListener
from hub.web import start_web
from hub.web.accounts import add_user, create_token

PASSWORD = "correct horse battery"
USERS = {
    "ada": "admin",
    "cole": "collector",  # every customer
    "nina": "collector",  # only C-9999, a customer the demo does not have
    "vic": "viewer",
    "nobody": "",  # no role
}


@dataclass
class Served:
    workspace: DemoWorkspace
    server: HttpListener
    tokens: dict[str, str]
    corrected: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def api(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    @contextmanager
    def login(self, who: str) -> Iterator[httpx.Client]:
        """A browser-like client logged in as `who` (cookies kept, redirects not followed)."""
        with httpx.Client(base_url=self.url, timeout=60) as client:
            page = client.get("/login")
            answer = client.post(
                "/login", data={"csrf": csrf_of(page.text), "name": who, "password": PASSWORD}
            )
            assert answer.status_code == 303, answer.text
            yield client


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    ws = prepare(tmp_path_factory.mktemp("web"), families=["coupa"], faults=False)
    try:
        run_until_settled(ws)
        corrected = ws.portal("coupa").correct(ws.ar_path)
        now = ws.hub.clock.now()
        tokens = {}
        for name, role in USERS.items():
            add_user(
                ws.hub.store,
                name,
                PASSWORD,
                role or "viewer",
                customers=("C-9999",) if name == "nina" else (),
                by="test",
                now=now,
            )
            tokens[name] = create_token(
                ws.hub.store, f"{name}-token", user=name, role=None, by="test", now=now
            )
        _strip_role(ws, "nobody")
        tokens["erp"] = create_token(ws.hub.store, "erp", user=None, role="viewer", by="test", now=now)
        server = start_web(ws.hub, port=0)
        try:
            yield Served(ws, server, tokens, corrected)
        finally:
            server.stop()
    finally:
        ws.close()


def _strip_role(ws: DemoWorkspace, name: str) -> None:
    from sqlmodel import col, select

    from hub.store.accounts import UserRow

    with ws.hub.store.session() as session:
        row = session.exec(select(UserRow).where(col(UserRow.name) == name)).one()
        row.role = ""
        session.add(row)


def secrets_of(ws: DemoWorkspace) -> list[str]:
    return [value for value in ws.secrets.values() if value]


#: Where the browser tests write the worklist and invoice screenshots: build/screenshots (ignored by git)
#: unless PORTALHUB_SCREENSHOTS_DIR says otherwise (`=docs/screenshots` refreshes the ones the docs show).
SCREENSHOTS = Path(
    os.environ.get("PORTALHUB_SCREENSHOTS_DIR")
    or Path(__file__).resolve().parents[2] / "build" / "screenshots"
).resolve()
