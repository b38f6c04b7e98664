"""The web's guards, tried as an attacker would, on a real socket: nothing without a session or a
token, CSRF refused, roles enforced, no secret in any answer, injection in filters and notes inert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from hub.store.accounts import TokenRow, UserRow
from hub.store.tables import EventRow, InvoiceRow
from tests.web.conftest import PASSWORD, Served, csrf_of, secrets_of

PAGES = ("/worklist", "/status", "/quarantine", "/invoices/INV-24017", "/invoices/INV-24017/cancel")
API = (
    "/api/invoices",
    "/api/problems",
    "/api/invoices/INV-24017",
    "/api/report",
    "/api/status",
    "/api/quarantine",
)


def _events(served: Served, number: str) -> list[EventRow]:
    with served.workspace.hub.store.session() as session:
        row = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number) == number)).one()
        return list(session.exec(select(EventRow).where(col(EventRow.invoice_id) == row.id)).all())


def test_no_page_answers_without_a_session(served: Served) -> None:
    with served.api(None) as anonymous:
        for path in PAGES:
            answer = anonymous.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next="), path
            assert "INV-" not in answer.text.replace(path, "")
        posted = anonymous.post("/invoices/INV-24017/actions/note", data={"text": "hello"})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
    assert not [e for e in _events(served, "INV-24017") if e.reason and "hello" in e.reason]


def test_no_api_answer_without_a_valid_token(served: Served) -> None:
    for headers in ({}, {"Authorization": "Bearer phub_not-a-token"}, {"Authorization": "Basic YWRhOng="}):
        with served.api(None) as client:
            for path in API:
                answer = client.get(path, headers=headers)
                assert answer.status_code == 401, (path, headers)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["status"] == 401
                assert "INV-24017" not in answer.text
    # A page's session cookie does not open the API (no cross-site request can use the API).
    with served.login("ada") as browser:
        assert browser.get("/api/problems").status_code == 401


def test_a_user_without_a_role_sees_a_403_and_no_data(served: Served) -> None:
    with served.login("nobody") as browser:
        for path in PAGES:
            answer = browser.get(path)
            assert answer.status_code == 403, path
            assert "INV-24015" not in answer.text and "C-1001" not in answer.text
    with served.api("nobody") as client:
        for path in API:
            answer = client.get(path)
            assert answer.status_code == 403 and "INV-24015" not in answer.text


def test_the_session_cookie_is_signed_http_only_and_same_site(served: Served) -> None:
    with served.api(None) as client:
        page = client.get("/login")
        answer = client.post("/login", data={"csrf": csrf_of(page.text), "name": "ada", "password": PASSWORD})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    value = answer.cookies["portalhub_session"]
    # Tampered with, the cookie is worthless: back to the login page.
    with served.api(None) as forged:
        forged.cookies.set(
            "portalhub_session", value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
        )
        assert forged.get("/worklist").status_code == 303


def test_forms_without_the_session_csrf_token_are_refused(served: Served) -> None:
    with served.login("cole") as browser:
        for data in ({"text": "csrf-probe-1"}, {"text": "csrf-probe-2", "csrf": "forged"}):
            answer = browser.post("/invoices/INV-24017/actions/note", data=data)
            assert answer.status_code == 403
        # Another session's token does not do either.
        with served.login("ada") as other:
            foreign = csrf_of(other.get("/worklist").text)
        answer = browser.post(
            "/invoices/INV-24017/actions/note", data={"text": "csrf-probe-3", "csrf": foreign}
        )
        assert answer.status_code == 403
        # And with its own token, the same form works.
        own = csrf_of(browser.get("/invoices/INV-24017").text)
        answer = browser.post("/invoices/INV-24017/actions/note", data={"text": "csrf-probe-4", "csrf": own})
        assert answer.status_code == 303
    said = " ".join(e.reason or "" for e in _events(served, "INV-24017"))
    assert "csrf-probe-4" in said
    assert not any(f"csrf-probe-{n}" in said for n in (1, 2, 3))
    # A login form without the token is refused too (no login CSRF).
    with served.api(None) as client:
        assert client.post("/login", data={"name": "ada", "password": PASSWORD}).status_code == 403


def test_a_viewer_and_a_collector_of_other_customers_cannot_act(served: Served) -> None:
    for who in ("vic", "nina"):
        with served.login(who) as browser:
            page = browser.get("/invoices/INV-24017")
            assert page.status_code == 200 and "Resubmit as correction" not in page.text
            token = csrf_of(page.text)
            for action, data in (
                ("note", {"text": f"by {who}"}),
                ("owner", {"owner": who}),
                ("resubmit", {}),
            ):
                answer = browser.post(f"/invoices/INV-24017/actions/{action}", data={**data, "csrf": token})
                assert answer.status_code == 403, (who, action)
            assert browser.get("/invoices/INV-24017/cancel").status_code == 403
        with served.api(f"{who}") as client:
            answer = client.post("/api/invoices/INV-24017/actions/note", json={"text": f"api by {who}"})
            assert answer.status_code == 403
            assert answer.headers["content-type"] == "application/problem+json"
    with served.api("erp") as client:  # a system's viewer token
        assert client.post("/api/invoices/INV-24017/actions/owner", json={"owner": "x"}).status_code == 403
    said = " ".join(f"{e.actor} {e.reason}" for e in _events(served, "INV-24017"))
    assert "vic" not in said and "nina" not in said and "erp" not in said


def test_no_secret_in_any_page_or_api_answer(served: Served) -> None:
    secrets = secrets_of(served.workspace)
    assert secrets
    with served.workspace.hub.store.session() as session:
        numbers = list(session.exec(select(InvoiceRow.invoice_number)).all())
        hashes = [u.password_hash for u in session.exec(select(UserRow))]
        hashes += [t.token_hash for t in session.exec(select(TokenRow))]
    seen: list[str] = []
    with served.login("ada") as browser:
        seen += [browser.get(p).text for p in ("/worklist", "/status", "/quarantine")]
        seen += [browser.get(f"/invoices/{n}").text for n in numbers]
    pages = "\n".join(seen)
    assert "&lt;cXML" in pages and "<cXML" not in pages  # the documents sent are shown, as text
    with served.api("ada") as client:
        seen += [client.get(p).text for p in API]
        seen += [client.get(f"/api/invoices/{n}").text for n in numbers]
    body = "\n".join(seen)
    assert "INV-24017" in body and "payloadID" in body
    for value in [*secrets, *hashes, *served.tokens.values()]:
        assert value not in body
    assert "argon2" not in body


def test_sql_and_html_in_filters_and_notes_are_inert(served: Served) -> None:
    hostile = "x' OR '1'='1' --"
    with served.workspace.hub.store.session() as session:
        users = session.exec(select(func.count()).select_from(UserRow)).one()
    with served.login("cole") as browser:
        answer = browser.get("/worklist", params={"customer": hostile, "portal": "'; DROP TABLE users; --"})
        assert answer.status_code == 200 and "Nothing to fix" in answer.text
        assert "x&#39; OR &#39;1&#39;=&#39;1&#39; --" in answer.text  # echoed in the filter box, escaped
        script = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
        token = csrf_of(browser.get("/invoices/INV-24016").text)
        assert (
            browser.post("/invoices/INV-24016/actions/note", data={"text": script, "csrf": token}).status_code
            == 303
        )
        assert (
            browser.post(
                "/invoices/INV-24016/actions/owner", data={"owner": "<b>bold</b>", "csrf": token}
            ).status_code
            == 303
        )
        page = browser.get("/invoices/INV-24016").text
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in page
    assert not re.search(r"<script\b", page)
    with served.api("cole") as client:
        answer = client.get("/api/problems", params={"customer": hostile})
        assert answer.status_code == 200 and answer.json()["items"] == []
    with served.workspace.hub.store.session() as session:
        assert session.exec(select(func.count()).select_from(UserRow)).one() == users


def test_evidence_screenshots_are_shown_and_nothing_else_is_served(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = served.workspace.hub
    folder = tmp_path / "acme-coupa" / "INV-24016"
    folder.mkdir(parents=True)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    (folder / "20261206T120000-0001-submitted.png").write_bytes(png)
    (folder / "20261206T120000-0001-submitted.html").write_text("<html>page</html>")
    monkeypatch.setattr(hub, "config", hub.config.model_copy(update={"evidence_dir": tmp_path}))
    with served.login("vic") as browser:
        page = browser.get("/invoices/INV-24016").text
        assert 'alt="Screenshot 20261206T120000-0001-submitted.png"' in page
        image = browser.get("/invoices/INV-24016/evidence/20261206T120000-0001-submitted.png")
        assert image.status_code == 200 and image.content == png
        for name in (
            "20261206T120000-0001-submitted.html",
            "..%2F..%2F..%2Fsecrets.yaml",
            "%2E%2E%2Fportalhub.yaml",
        ):
            assert browser.get(f"/invoices/INV-24016/evidence/{name}").status_code == 404, name
        # Another invoice's evidence is not reachable through this one.
        assert (
            browser.get("/invoices/INV-24015/evidence/20261206T120000-0001-submitted.png").status_code == 404
        )
