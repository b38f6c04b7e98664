"""Recipe steps inside an iframe and in a pop-up window, in real Chromium, on a page served over a real
socket; and a missing element there is a recipe mismatch naming the step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sandbox.server import Reply, Request, SandboxServer
from connectors.webportal.browser import BrowserPool, Browsing, LaunchOptions
from connectors.webportal.errors import RecipeMismatch
from connectors.webportal.evidence import Evidence
from connectors.webportal.flow import StepRunner, Values
from connectors.webportal.recipe import Step, parse_recipe
from connectors.webportal.session import Credentials, Portal, PortalSession
from tests.connectors.contract.webportal_harness import RECIPE

PAGES = {
    "/": "<h1>Invoices</h1><iframe title='Entry' src='/frame'></iframe>",
    "/frame": (
        "<label for='ref'>Reference</label><input id='ref' oninput=\"document.getElementById('echo')"
        ".textContent = 'Typed ' + this.value\"><p id='echo'></p>"
        "<button onclick=\"window.open('/receipt')\">Open receipt</button>"
    ),
    "/receipt": "<p role='status'>Receipt R-123 for your invoice</p>",
}


def _page(request: Request) -> Reply:
    body = PAGES.get(request.path)
    if body is None:
        return Reply(404, b"not here", "text/html")
    return Reply(200, f"<!doctype html><html><body>{body}</body></html>".encode(), "text/html; charset=utf-8")


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    served = SandboxServer(_page).start()
    yield served
    served.stop()


def _steps(*steps: dict[str, object]) -> list[Step]:
    return [Step.model_validate(step) for step in steps]


def test_steps_work_inside_an_iframe_and_in_the_window_a_click_opens(
    server: SandboxServer, pool: BrowserPool, tmp_path: Path
) -> None:
    portal = Portal(
        name="frames",
        base_url=server.url,
        recipe=parse_recipe(RECIPE),
        credentials=Credentials("user", "pass"),
        evidence=Evidence(tmp_path, "frames", []),
        step_timeout_ms=3000,
        navigation_timeout_ms=10000,
        max_pages=1,
    )

    def refused(step: str, words: list[str]) -> None:
        raise AssertionError(f"{step}: {words}")

    def task(browsing: Browsing) -> tuple[dict[str, str | None], str]:
        session = PortalSession(browsing, portal, "frames")
        session.page.goto("/", "open", check=False)
        runner = StepRunner(session, None, refused)  # type: ignore[arg-type]
        reads = runner.run(
            "frames",
            _steps(
                {"fill": {"label": "Reference", "frame": "iframe"}, "value": "INV-{n}"},
                {"read": {"css": "#echo", "frame": "iframe"}, "into": "echo"},
                {"click": {"role": "button", "name": "Open receipt", "frame": "iframe"}, "opens_popup": True},
                {"read": {"role": "status"}, "pattern": r"Receipt (\S+)", "into": "receipt"},
            ),
            Values(),
            n=7,
        )
        try:
            runner.run(
                "frames", _steps({"fill": {"label": "Nowhere", "frame": "iframe"}, "value": "x"}), Values()
            )
        except RecipeMismatch as exc:
            return reads, f"{exc.step} | {exc.expected}"
        return reads, "no mismatch"

    worker = pool.worker("frames", LaunchOptions(step_timeout_ms=3000))
    reads, mismatch = worker.run(task, timeout=60)
    assert reads == {"echo": "Typed INV-7", "receipt": "R-123"}
    assert (
        mismatch
        == "frames 1: fill label 'Nowhere' (in frame 'iframe') | label 'Nowhere' (in frame 'iframe') to fill"
    )
