"""Signing in (user, password, TOTP second factor) and opening pages of a signed-in session.

The session (cookies) lives in the owner thread's browser context, so it is kept between invoices; a
page that turns out to be the sign-in page means it ended, and the connector signs in again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyotp

from connectors.webportal.browser import Browsing
from connectors.webportal.evidence import Evidence, describe
from connectors.webportal.recipe import Recipe, Target
from connectors.webportal.steps import PortalPage
from hub.errors import InDoubtError, PortalAuthError, PortalError, TransientPortalError


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    totp_seed: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.totp_seed) if s]


@dataclass(frozen=True)
class Portal:
    """Everything a task needs about one profile's portal (built by the connector, used in the owner
    thread)."""

    name: str  # the profile id, in messages
    base_url: str
    recipe: Recipe
    credentials: Credentials
    evidence: Evidence
    step_timeout_ms: float
    navigation_timeout_ms: float
    max_pages: int


class PortalSession:
    """One task's view of the portal's tab."""

    def __init__(self, browsing: Browsing, portal: Portal, subject: str):
        self.portal = portal
        self.subject = subject  # the invoice number (or "_poll") the evidence is filed under
        self.page = PortalPage(browsing, portal.recipe, portal.base_url, portal.step_timeout_ms)

    def press(self, target: Target, step: str) -> None:
        self.page.press(target, step, self.portal.navigation_timeout_ms)

    def keep(self, label: str) -> str | None:
        """Evidence of the page as it is now; returns the note for the attempt record."""
        login = self.portal.recipe.login
        secret_inputs = [self.page.locate(login.password)]
        if login.mfa is not None:
            secret_inputs.append(self.page.locate(login.mfa.code))
        return describe(self.portal.evidence.capture(self.page.page, self.subject, label, secret_inputs))

    def open(self, path: str, step: str) -> None:
        """Go to a page of the portal, signing in first if the session has ended."""
        self.page.goto(path, step, check=False)
        if self.page.on_sign_in_page():
            self.sign_in()
            self.page.goto(path, step, check=False)
            if self.page.on_sign_in_page():
                self.page.layout_changed(step, "still on the sign-in page after signing in")
        self.page.check_loaded(step)

    def sign_in(self) -> None:
        login = self.portal.recipe.login
        credentials = self.portal.credentials
        page = self.page
        page.goto(login.page, "sign in: open the sign-in page", check=False)
        status = page.browsing.last_document_status
        if status is not None and status >= 500:
            raise TransientPortalError(
                f"the portal's sign-in page answered HTTP {status}", http_status=status
            )
        page.fill(login.username, credentials.username, "sign in: user name")
        page.fill(login.password, credentials.password, "sign in: password")
        self.press(login.submit, "sign in: submit the password")
        expected = {"refused": login.error, "signed_in": login.signed_in}
        if login.mfa is not None:
            expected["code"] = login.mfa.code
        outcome = page.wait_for_one(expected, "sign in: after the password", sign_in_expected=True)
        if outcome == "refused":
            words = "; ".join(page.texts(login.error))
            note = self.keep("sign-in-refused")
            raise PortalAuthError(
                f"{self.portal.name} refused the user name or password: {words}",
                portal_text=words,
                response_body=note,
            )
        if outcome == "code":
            assert login.mfa is not None
            if credentials.totp_seed is None:
                note = self.keep("code-asked")
                raise PortalAuthError(
                    f"{self.portal.name} asks for an authentication code, but the profile has no "
                    "connection.totp_seed",
                    response_body=note,
                )
            # Codes follow real time, not the hub's clock: the portal checks them against its own.
            code = pyotp.TOTP(credentials.totp_seed).now()
            page.fill(login.mfa.code, code, "sign in: authentication code")
            self.press(login.mfa.submit, "sign in: submit the code")
            refused = login.mfa.error or login.error
            outcome = page.wait_for_one(
                {"refused": refused, "signed_in": login.signed_in},
                "sign in: after the code",
                sign_in_expected=True,
            )
            if outcome == "refused":
                words = "; ".join(page.texts(refused))
                note = self.keep("code-refused")
                raise PortalAuthError(
                    f"{self.portal.name} refused the authentication code: {words} (check the TOTP seed and "
                    "this machine's clock)",
                    portal_text=words,
                    response_body=note,
                )


def keep_evidence(session: PortalSession, error: PortalError | InDoubtError) -> None:
    """Every failure leaves evidence: what the page showed when it happened (once per failure)."""
    if error.response_body and "evidence: " in error.response_body:
        return
    label = getattr(error, "step", None) or type(error).__name__
    try:
        note = session.keep(f"failed-{label}")
    except Exception:  # the page is gone with the browser; the error itself says what happened
        return
    if note:
        error.response_body = f"{error.response_body}\n{note}" if error.response_body else note
