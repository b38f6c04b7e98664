"""Submitting through the sandbox web portal in real headless Chromium: sign-in with TOTP, the form
filled line by line, the PDF uploaded, the confirmation read, and what the portal says when it says no."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import MASK
from connectors.webportal.browser import BrowserPool, Browsing, LaunchOptions
from connectors.webportal.evidence import Evidence
from hub.errors import PermanentPortalError, PortalAuthError
from hub.model import Attachment, RejectionCategory
from tests.connectors.contract.webportal_harness import (
    PASSWORD,
    TOTP_SEED,
    USERNAME,
    WebPortalCase,
    assert_no_secrets,
    pdf_invoice,
)


@pytest.fixture
def portal(tmp_path: Path, pool: BrowserPool) -> Iterator[WebPortalCase]:
    case = WebPortalCase(tmp_path, pool)
    yield case
    case.close()


def test_an_invoice_goes_through_the_form_with_its_pdf_and_the_portal_id_comes_back(
    portal: WebPortalCase,
) -> None:
    invoice = pdf_invoice(
        "INV-1", lines=(("BRG-6205", "10", "EA", "12.50"), ("SEAL-22", "5", "EA", "4.20")), tax_rate="8.25"
    )
    receipt = portal.submit(invoice)
    [received] = portal.sandbox.received()
    assert receipt.portal_invoice_id == received.reference and not receipt.already_submitted
    assert received.reference in (receipt.portal_text or "")
    assert (
        received.number == "INV-1" and received.po_number == "PO-100001" and received.submitted_by == USERNAME
    )
    assert [(line.po_line, line.part, line.quantity) for line in received.lines] == [
        (1, "BRG-6205", 10),
        (2, "SEAL-22", 5),
    ]
    assert received.total == invoice.total and received.tax == invoice.tax_total
    # The PDF really went up, byte for byte, through the file input.
    assert received.pdf == invoice.attachments[0].content and received.pdf_name == "INV-1.pdf"
    assert portal.sandbox.posts == {"lookup_po": 1, "add_line": 2, "submit": 1}  # lines one at a time
    assert portal.sandbox.logins["acme"] == 1


def test_the_session_is_kept_between_invoices(portal: WebPortalCase) -> None:
    for number in ("INV-1", "INV-2", "INV-3"):
        portal.submit(pdf_invoice(number))
    assert [i.number for i in portal.sandbox.received()] == ["INV-1", "INV-2", "INV-3"]
    assert portal.sandbox.logins["acme"] == 1


def test_every_submission_leaves_evidence_without_secrets(portal: WebPortalCase) -> None:
    receipt = portal.submit(pdf_invoice("INV-1"))
    folder = portal.evidence / "acme-webportal" / "INV-1"
    shots, pages = sorted(folder.glob("*.png")), sorted(folder.glob("*.html"))
    assert [p.stem.rsplit("-", 1)[1] for p in shots] == ["filled", "submitted"]
    assert all(p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 1000 for p in shots)
    assert "Invoice INV-1 was submitted" in pages[-1].read_text(encoding="utf-8")
    assert str(shots[-1]) in (receipt.response_body or "")
    assert_no_secrets(portal.evidence_files())


def test_evidence_of_a_page_that_shows_secrets_keeps_none_of_them(tmp_path: Path, pool: BrowserPool) -> None:
    """A careless portal echoes the password into the form and the seed into its text; a typed code is
    on screen. Neither the saved HTML nor the screenshot (taken of the masked page) keeps any of them."""
    page_html = (
        "<form><label for=u>User name</label><input id=u value=bluebonnet-ar>"
        f"<label for=p>Password</label><input id=p type=password value='{PASSWORD}'>"
        "<label for=c>Authentication code</label><input id=c>"
        f"<input type=hidden name=seed value='{TOTP_SEED}'></form><p>Your seed is {TOTP_SEED}</p>"
    )
    evidence = Evidence(tmp_path, "acme-webportal", [PASSWORD, TOTP_SEED])

    def capture(browsing: Browsing) -> tuple[list[Path], list[str]]:
        page = browsing.page
        page.set_content(page_html)
        page.get_by_label("Authentication code").fill("492817")
        paths = evidence.capture(page, "INV-1", "sign-in", [page.get_by_label("Authentication code")])
        shown = [page.get_by_label(label).input_value() for label in ("Password", "Authentication code")]
        return paths, shown

    paths, shown = pool.worker("evidence", LaunchOptions()).run(capture, timeout=60)
    assert shown == [MASK, MASK]  # what the screenshot saw
    [html] = [p for p in paths if p.suffix == ".html"]
    text = html.read_text(encoding="utf-8")
    assert "bluebonnet-ar" in text and "492817" not in text and text.count(MASK) >= 3
    assert_no_secrets(paths)


def test_a_wrong_password_is_an_auth_error_with_the_portals_words(tmp_path: Path, pool: BrowserPool) -> None:
    case = WebPortalCase(
        tmp_path,
        pool,
        secrets={"secret:portal_password": "not-the-password", "secret:portal_totp": TOTP_SEED},
    )
    try:
        with pytest.raises(PortalAuthError) as raised:
            case.submit(pdf_invoice("INV-1"))
        assert raised.value.portal_text == "The user name or password is incorrect."
        assert case.sandbox.refused == {"password": 1} and not case.sandbox.received()
        files = case.evidence_files()
        assert any("sign-in-refused" in p.name for p in files)
        assert_no_secrets(files, ("not-the-password", PASSWORD, TOTP_SEED))
    finally:
        case.close()


def test_a_wrong_totp_seed_is_an_auth_error_and_no_code_is_kept(tmp_path: Path, pool: BrowserPool) -> None:
    wrong_seed = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
    case = WebPortalCase(
        tmp_path, pool, secrets={"secret:portal_password": PASSWORD, "secret:portal_totp": wrong_seed}
    )
    try:
        with pytest.raises(PortalAuthError, match="refused the authentication code") as raised:
            case.submit(pdf_invoice("INV-1"))
        assert "incorrect or has expired" in (raised.value.portal_text or "")
        assert case.sandbox.refused == {"code": 1} and case.sandbox.logins["acme"] == 0
        pages = case.evidence_files(".html")
        assert pages and all('value="********"' in p.read_text(encoding="utf-8") for p in pages)
        assert_no_secrets(case.evidence_files(), (PASSWORD, wrong_seed))
    finally:
        case.close()


def test_an_expired_session_is_signed_in_again_and_the_invoice_goes_through_once(
    portal: WebPortalCase,
) -> None:
    portal.submit(pdf_invoice("INV-1"))
    portal.sandbox.expire_sessions()
    portal.submit(pdf_invoice("INV-2"))
    assert portal.sandbox.logins["acme"] == 2
    assert [i.number for i in portal.sandbox.received()] == ["INV-1", "INV-2"]


@pytest.mark.parametrize("action", ["add_line", "submit"])
def test_a_session_that_ends_in_the_middle_of_the_form_starts_over_and_sends_once(
    portal: WebPortalCase, action: str
) -> None:
    portal.submit(pdf_invoice("INV-1"))
    portal.sandbox.expire_session_on(action)
    receipt = portal.submit(pdf_invoice("INV-2"))
    assert portal.sandbox.logins["acme"] == 2
    assert [i.number for i in portal.sandbox.received()] == ["INV-1", "INV-2"]
    assert receipt.portal_invoice_id == portal.sandbox.received()[1].reference
    assert portal.sandbox.posts[action] == 3  # INV-1's, the one the portal bounced, the one after sign-in


@pytest.mark.parametrize(
    ("invoice", "buyer", "words", "category"),
    [
        (
            pdf_invoice("INV-5", po="PO-999999"),
            {},
            "Purchase order PO-999999 does not exist.",
            RejectionCategory.PO,
        ),
        (
            pdf_invoice("INV-5"),
            {"require_afe": True},
            "AFE number is required on every line by ACME Manufacturing.",
            RejectionCategory.MISSING_FIELD,
        ),
        (pdf_invoice("INV-5", po=None), {}, "A purchase order number is required.", RejectionCategory.PO),
        (
            pdf_invoice("INV-5", currency="EUR"),
            {},
            "'EUR' is not among the portal's choices for label 'Currency' (USD)",
            RejectionCategory.OTHER,
        ),
    ],
    ids=["unknown-po", "afe-required", "no-po", "currency"],
)
def test_the_portals_own_form_messages_become_a_rejection_with_its_words(
    tmp_path: Path,
    pool: BrowserPool,
    invoice: object,
    buyer: dict[str, object],
    words: str,
    category: RejectionCategory,
) -> None:
    case = WebPortalCase(tmp_path, pool, buyer=buyer, pdf="required")
    try:
        with pytest.raises(PermanentPortalError) as raised:
            case.submit(invoice)  # type: ignore[arg-type]
        assert words in (raised.value.portal_text or "") and words in str(raised.value)
        assert raised.value.category is category and not raised.value.duplicate
        assert not case.sandbox.received()
        assert case.evidence_files(".png")
    finally:
        case.close()


def test_a_file_that_is_not_a_pdf_is_refused_by_the_portal(portal: WebPortalCase) -> None:
    fake = Attachment(filename="INV-6.pdf", content=b"GIF89a not a pdf at all")
    with pytest.raises(PermanentPortalError) as raised:
        portal.submit(pdf_invoice("INV-6").model_copy(update={"attachments": [fake]}))
    assert raised.value.portal_text and "not a PDF document" in raised.value.portal_text
    assert raised.value.category is RejectionCategory.ATTACHMENTS and not portal.sandbox.received()


def test_a_portal_that_takes_no_pdf_gets_none(tmp_path: Path, pool: BrowserPool) -> None:
    case = WebPortalCase(tmp_path, pool, buyer={"require_pdf": False}, pdf="none")
    try:
        case.submit(pdf_invoice("INV-1"))
        assert case.sandbox.received()[0].pdf is None
    finally:
        case.close()


def test_a_number_the_portal_already_lists_is_a_duplicate_and_is_not_typed_again(
    tmp_path: Path, pool: BrowserPool
) -> None:
    case = WebPortalCase(
        tmp_path, pool, buyer={"existing_invoices": [{"number": "INV-OLD", "status": "Paid"}]}
    )
    try:
        with pytest.raises(PermanentPortalError) as raised:
            case.submit(pdf_invoice("INV-OLD"))
        assert raised.value.duplicate and raised.value.category is RejectionCategory.DUPLICATE
        assert "already lists invoice INV-OLD" in (raised.value.portal_text or "") and "status Paid" in str(
            raised.value
        )
        assert case.sandbox.posts == {}  # nothing was keyed
    finally:
        case.close()


def test_a_duplicate_answer_to_our_own_resent_submission_is_a_receipt(portal: WebPortalCase) -> None:
    """Browsers resend a form whose connection dropped; the portal then refuses the resend as a duplicate
    of the invoice the first send created. Absent from the list a moment before, it is ours."""
    portal.sandbox.resend_next_submit()
    receipt = portal.submit(pdf_invoice("INV-9"))
    [received] = portal.sandbox.received()
    assert receipt.already_submitted and receipt.portal_invoice_id == received.reference
    assert "has already been submitted" in (receipt.portal_text or "")
    assert portal.sandbox.posts["submit"] == 2
