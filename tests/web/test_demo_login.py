"""`make demo` ends with a login for the web pages of its workspace: that login opens the worklist."""

from __future__ import annotations

import httpx

from hub.demo.workspace import demo_login
from tests.web.conftest import Served, csrf_of


def test_the_demo_login_opens_the_worklist_of_the_demo_workspace(served: Served) -> None:
    name, password = demo_login(served.workspace)
    assert name == "demo" and len(password) >= 12
    with httpx.Client(base_url=served.url, timeout=60) as browser:
        token = csrf_of(browser.get("/login").text)
        assert (
            browser.post("/login", data={"csrf": token, "name": name, "password": password}).status_code
            == 303
        )
        worklist = browser.get("/worklist")
    assert worklist.status_code == 200
    assert "INV-24015" in worklist.text and "demo (collector)" in worklist.text
