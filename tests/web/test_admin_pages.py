"""The admin's Users page over a real socket: an admin adds a user who can then log in, creates a
token shown once that then works on the API, revokes it, disables the user; nobody else may, and no
form works without the session's CSRF token."""

from __future__ import annotations

import httpx

from tests.web.conftest import PASSWORD, Served, csrf_of


def _post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    page = client.get("/admin/users")
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf": csrf_of(page.text), **fields})


def test_an_admin_manages_users_and_tokens_from_the_page(served: Served) -> None:
    with served.login("ada") as admin:
        page = admin.get("/admin/users")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert 'href="/admin/users"' in page.text  # in the admin's menu
        assert "cole" in page.text and "vic-token" in page.text and "phub_" not in page.text

        added = _post(
            admin, "/admin/users/add", name="zoe", password=PASSWORD, role="collector", customers="C-1 C-2"
        )
        assert added.status_code == 303 and added.headers["location"] == "/admin/users"
        assert "user zoe added" in admin.get("/admin/users").text
    with served.login("zoe") as zoe:  # the new user logs in with the password the admin gave
        assert zoe.get("/worklist").status_code == 200
        assert zoe.get("/admin/users").status_code == 403  # a collector, not an admin

    with served.login("ada") as admin:
        created = _post(admin, "/admin/tokens/create", name="zoe-script", user="zoe", role="admin")
        assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
        token = created.text.split("<pre><code>")[1].split("</code></pre>")[0]
        assert token.startswith("phub_") and "zoe-script" in created.text
        assert "set-cookie" not in created.headers or token not in created.headers["set-cookie"]
        assert token not in admin.get("/admin/users").text  # shown once
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/api/status").status_code == 200
            assert _post(admin, "/admin/tokens/revoke", name="zoe-script").status_code == 303
            assert api.get("/api/status").status_code == 401

        assert _post(admin, "/admin/users/disable", name="zoe").status_code == 303
        assert "disabled" in admin.get("/admin/users").text
        myself = _post(admin, "/admin/users/disable", name="ada")
        assert myself.status_code == 409 and "another admin" in myself.text
    with httpx.Client(base_url=served.url) as client:
        form = client.get("/login")
        refused = client.post(
            "/login", data={"csrf": csrf_of(form.text), "name": "zoe", "password": PASSWORD}
        )
        assert refused.status_code == 401


def test_bad_requests_are_refused_with_the_reason(served: Served) -> None:
    with served.login("ada") as admin:
        short = _post(admin, "/admin/users/add", name="yan", password="short", role="viewer")
        assert short.status_code == 422 and "at least 10 characters" in short.text
        taken = _post(admin, "/admin/users/add", name="cole", password=PASSWORD, role="viewer")
        assert taken.status_code == 422 and "exists already" in taken.text
        unknown = _post(admin, "/admin/tokens/revoke", name="no-such-token")
        assert unknown.status_code == 422 and "no token" in unknown.text
        no_csrf = admin.post("/admin/users/add", data={"name": "yan", "password": PASSWORD, "role": "admin"})
        assert no_csrf.status_code == 403
        assert "yan" not in admin.get("/admin/users").text


def test_only_admins_see_or_use_the_users_page(served: Served) -> None:
    for who in ("cole", "vic"):
        with served.login(who) as client:
            assert 'href="/admin/users"' not in client.get("/worklist").text
            assert client.get("/admin/users").status_code == 403
            page = client.get("/worklist")
            grab = client.post(
                "/admin/users/add",
                data={"csrf": csrf_of(page.text), "name": "mallory", "password": PASSWORD, "role": "admin"},
            )
            assert grab.status_code == 403
    with httpx.Client(base_url=served.url) as anonymous:
        assert anonymous.get("/admin/users").status_code == 303  # to the login page
    with served.login("ada") as admin:
        assert "mallory" not in admin.get("/admin/users").text
