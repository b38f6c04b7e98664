"""The second sandbox portal over plain HTTP (no browser): it judges with its own parsing — nothing
opens on the password alone, the wizard's steps come in order, its checks print each message beside
its field or line, its list shows an empty-state row and 12-hour local times."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.supplierportal import SupplierPortalSandbox
from tests.connectors.contract.supplierportal_harness import EMAIL, supplier_config
from tests.connectors.contract.webportal_harness import PASSWORD, TOTP_SEED, make_pdf
from tests.factories import T0


@pytest.fixture
def portal() -> Iterator[tuple[SupplierPortalSandbox, httpx.Client]]:
    sandbox = SupplierPortalSandbox(supplier_config(), SandboxClock(start=T0))
    server = sandbox.serve()
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=5) as client:
        yield sandbox, client
    server.stop()


def _sign_in(client: httpx.Client) -> httpx.Response:
    client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    return client.post("/verify", data={"otp": pyotp.TOTP(TOTP_SEED).now()})


def _draft(client: httpx.Client) -> str:
    made = client.post("/drafts")
    found = re.search(r"/drafts/(\w+)/details$", str(made.url))
    assert found, made.url
    return found[1]


def test_the_password_alone_opens_nothing(portal: tuple[SupplierPortalSandbox, httpx.Client]) -> None:
    sandbox, client = portal
    after_password = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert after_password.url.path == "/verify" and "One-time code" in after_password.text
    assert client.get("/dashboard").url.path == "/login" and client.post("/drafts").url.path == "/login"
    assert not sandbox.drafts and sandbox.logins == 0
    assert "Dashboard" in _sign_in(client).text and sandbox.logins == 1


def test_the_wizard_takes_its_steps_in_order_with_messages_beside_each_field(
    portal: tuple[SupplierPortalSandbox, httpx.Client],
) -> None:
    sandbox, client = portal
    _sign_in(client)
    draft = _draft(client)
    assert client.get(f"/drafts/{draft}/lines").url.path == f"/drafts/{draft}/details"  # step 1 first
    searched = client.get(f"/drafts/{draft}/details", params={"q": "PO-100001"})
    assert (
        '<option value="PO-100001">PO-100001 - Bearings, seals and field service - USD</option>'
        in searched.text
    )
    nothing = client.get(f"/drafts/{draft}/details", params={"q": "PO-9"})
    assert 'id="q-error">No open purchase order matches “PO-9”.</span>' in nothing.text
    wrong = client.post(
        f"/drafts/{draft}/details",
        data={"po": "PO-100001", "invoice_number": "", "invoice_date": "2026-11-20", "currency": "CAD"},
    )
    assert wrong.status_code == 422
    assert 'id="invoice_number-error">Enter your invoice number.</span>' in wrong.text
    assert 'id="invoice_date-error">Enter the invoice date as MM/DD/YYYY.</span>' in wrong.text
    assert 'id="currency-error">This purchase order is in USD.</span>' in wrong.text
    good = {"po": "PO-100001", "invoice_number": "INV-1", "invoice_date": "11/20/2026", "currency": "USD"}
    assert client.post(f"/drafts/{draft}/details", data=good).url.path == f"/drafts/{draft}/lines"
    rows = {
        "lines-1-po_line": "1",
        "lines-1-description": "Bearing",
        "lines-1-quantity": "10",
        "lines-1-uom": "EA",  # AR's code, not the portal's
        "lines-1-unit_price": "12.50",
        "lines-2-po_line": "7",
        "lines-2-description": "Seal",
        "lines-2-quantity": "0",
        "lines-2-uom": "EACH",
        "lines-2-unit_price": "x",
        "total": "125.00",
    }
    refused = client.post(
        f"/submit/{draft}", data=rows, files={"pdf": ("i.pdf", b"not a pdf", "application/pdf")}
    )
    messages = re.findall(r'class="field-error"[^>]*>([^<]+)<', refused.text)
    assert messages == [
        "Line 1: Choose a unit of measure.",
        "Line 2: Quantity must be more than zero.",
        "Line 2: Unit price must be a number.",
        "Line 2: PO line 7 is not on this purchase order.",
        "The file is not a PDF.",
    ]
    assert not sandbox.received()
    rows.update({"lines-1-uom": "EACH"})
    for key in [k for k in rows if k.startswith("lines-2-")]:
        del rows[key]
    accepted = client.post(
        f"/submit/{draft}", data=rows, files={"pdf": ("i.pdf", make_pdf("INV-1"), "application/pdf")}
    )
    [invoice] = sandbox.received()
    assert f"Confirmation number: {invoice.id}" in accepted.text and invoice.invoice_date == "2026-11-20"
    again = client.post(
        f"/submit/{draft}", data=rows, files={"pdf": ("i.pdf", make_pdf("INV-1"), "application/pdf")}
    )
    assert again.status_code == 409 and "This draft was already submitted as invoice INV-1." in again.text
    assert len(sandbox.received()) == 1


def test_the_list_shows_an_empty_state_row_and_12_hour_local_times(
    portal: tuple[SupplierPortalSandbox, httpx.Client],
) -> None:
    _, client = portal
    _sign_in(client)
    empty = client.get("/invoices", params={"q": "INV-404"})
    assert '<td colspan="6" class="empty">No invoices match your search.</td>' in empty.text
    draft = _draft(client)
    client.post(
        f"/drafts/{draft}/details",
        data={"po": "PO-100001", "invoice_number": "INV-7", "invoice_date": "11/20/2026", "currency": "USD"},
    )
    row = {
        "lines-1-description": "Bearing",
        "lines-1-quantity": "1",
        "lines-1-uom": "EACH",
        "lines-1-unit_price": "2",
    }
    client.post(
        f"/submit/{draft}",
        data={**row, "total": "2"},
        files={"pdf": ("i.pdf", make_pdf("x"), "application/pdf")},
    )
    listed = client.get("/invoices", params={"q": "INV-7"}).text
    # T0 is 15:00 UTC: 08:00 AM in Denver (MST, UTC-7).
    assert (
        ">INV-7</a></td>" in listed
        and "<td>11/20/2026 08:00 AM</td>" in listed
        and "Pending review" in listed
    )
