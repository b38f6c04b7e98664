"""The sandbox web portal over plain HTTP (no browser): what it refuses without a full sign-in, what it
does with an expired session, and how it reads a multipart form with a file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pyotp
import pytest

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.webportal import WebPortalSandbox
from tests.connectors.contract.webportal_harness import (
    PASSWORD,
    TOTP_SEED,
    USERNAME,
    make_pdf,
    sandbox_config,
)
from tests.factories import T0


@pytest.fixture
def portal() -> Iterator[tuple[WebPortalSandbox, httpx.Client]]:
    sandbox = WebPortalSandbox(sandbox_config(), SandboxClock(start=T0))
    server = sandbox.serve()
    with httpx.Client(base_url=f"{server.url}/acme", follow_redirects=True, timeout=5) as client:
        yield sandbox, client
    server.stop()


def _sign_in(client: httpx.Client, code: str | None = None) -> httpx.Response:
    client.post("/login", data={"username": USERNAME, "password": PASSWORD})
    return client.post("/mfa", data={"code": code or pyotp.TOTP(TOTP_SEED).now()})


def test_the_password_alone_opens_nothing(portal: tuple[WebPortalSandbox, httpx.Client]) -> None:
    sandbox, client = portal
    after_password = client.post("/login", data={"username": USERNAME, "password": PASSWORD})
    assert "Authentication code" in after_password.text
    assert "Sign in" in client.get("/invoices").text and sandbox.logins["acme"] == 0
    wrong = client.post("/mfa", data={"code": "000000"})
    assert 'role="alert"' in wrong.text and sandbox.refused["code"] == 1
    assert "Sign out" in _sign_in(client).text and sandbox.logins["acme"] == 1


def test_a_post_without_a_session_is_not_processed(portal: tuple[WebPortalSandbox, httpx.Client]) -> None:
    sandbox, client = portal
    reply = client.post("/invoices/submit", data={"invoice_number": "INV-1"})
    assert reply.url.path == "/acme/login" and not sandbox.received() and sandbox.posts["submit"] == 1


def test_a_session_ends_after_its_idle_time_in_portal_time(
    portal: tuple[WebPortalSandbox, httpx.Client],
) -> None:
    sandbox, client = portal
    _sign_in(client)
    sandbox.clock.advance(timedelta(minutes=29))
    assert "Sign out" in client.get("/invoices").text
    sandbox.clock.advance(timedelta(minutes=31))
    expired = client.get("/invoices")
    assert expired.url.path == "/acme/login" and "Your session has expired" in expired.text


def test_the_form_takes_lines_one_at_a_time_and_a_real_pdf(
    portal: tuple[WebPortalSandbox, httpx.Client],
) -> None:
    sandbox, client = portal
    _sign_in(client)
    header = {
        "invoice_number": "INV-1",
        "invoice_date": "2026-11-20",
        "currency": "USD",
        "po_number": "PO-100001",
    }
    client.get("/invoices/new")
    line = {
        "line_po_line": "1",
        "line_description": "Bearing",
        "line_quantity": "2",
        "line_uom": "EA",
        "line_unit_price": "12.50",
    }
    added = client.post(
        "/invoices/new", data={**header, **line, "action": "add_line"}, files={"pdf": ("", b"")}
    )
    assert "Line 1 added." in added.text
    not_pdf = client.post(
        "/invoices/submit",
        data={**header, "total": "25.00"},
        files={"pdf": ("x.pdf", b"GIF89a", "application/pdf")},
    )
    assert "The attached file is not a PDF document." in not_pdf.text and not sandbox.received()
    pdf = make_pdf("INV-1")
    done = client.post(
        "/invoices/submit",
        data={**header, "total": "25.00"},
        files={"pdf": ("INV-1.pdf", pdf, "application/pdf")},
    )
    [received] = sandbox.received()
    assert re.search(rf"Reference: {received.reference}", done.text) and received.pdf == pdf
    listing = client.get("/invoices", params={"updated_since": "yesterday"})
    assert "Updated since must look like YYYY-MM-DD HH:MM:SS." in listing.text
