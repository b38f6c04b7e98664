"""Signing in (user, password, TOTP second factor) and opening pages of a signed-in session.

The session (cookies) lives in the owner thread's browser context, so it is kept between invoices; a
page that turns out to be the sign-in page means it ended, and the connector signs in again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

import pyotp

from connectors.webportal.browser import Browsing
from connectors.webportal.errors import RecipeMismatch
from connectors.webportal.evidence import Evidence, describe
from connectors.webportal.flow import Observer, StepRunner, Values
from connectors.webportal.recipe import Recipe, Target
from connectors.webportal.steps import PortalPage
from hub.errors import InDoubtError, PortalAuthError, PortalError


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
        secret_inputs = [
            self.page.locate(step.fill)
            for step in self.portal.recipe.sign_in.steps
            if step.fill is not None and step.value is not None and "{" in step.value
        ]
        return describe(self.portal.evidence.capture(self.page.page, self.subject, label, secret_inputs))

    def open(self, path: str, step: str) -> None:
        """Go to a page of the portal, signing in first if the session has ended."""
        self.page.goto(path, step, check=False)
        if self.page.on_sign_in_page():
            self.sign_in()
            self.page.goto(path, step, check=False)
            if self.page.on_sign_in_page():
                self.page.mismatch(step, "a signed-in page, and the portal is still on its sign-in page")
        self.page.check_loaded(step)

    def sign_in(self, observer: Observer | None = None) -> None:
        """The recipe's `sign_in` steps; the portal's refusal is a `PortalAuthError` with its words."""
        spec = self.portal.recipe.sign_in
        credentials = self.portal.credentials
        runner: StepRunner

        def code() -> str:
            if credentials.totp_seed is None:
                note = self.keep("code-asked")
                raise PortalAuthError(
                    f"{self.portal.name} asks for an authentication code, but the profile has no "
                    "connection.totp_seed",
                    response_body=note,
                )
            # Codes follow real time, not the hub's clock: the portal checks them against its own.
            return pyotp.TOTP(credentials.totp_seed).now()

        def refused(step: str, words: list[str]) -> NoReturn:
            text = "; ".join(words)
            if "one_time_code" in runner.typed:
                note = self.keep("code-refused")
                raise PortalAuthError(
                    f"{self.portal.name} refused the authentication code: {text} (check the TOTP seed and "
                    "this machine's clock)",
                    portal_text=text,
                    response_body=note,
                )
            note = self.keep("sign-in-refused")
            raise PortalAuthError(
                f"{self.portal.name} refused the user name or password: {text}",
                portal_text=text,
                response_body=note,
            )

        runner = StepRunner(self, spec.refused, refused, observer=observer)
        values = Values(
            placeholders={
                "username": lambda: credentials.username,
                "password": lambda: credentials.password,
                "one_time_code": code,
            }
        )
        runner.run("sign_in", spec.steps, values)
        outcome = self.page.wait_for_one(
            {"refused": spec.refused, "signed_in": spec.signed_in},
            "sign_in: signed in",
            sign_in_expected=True,
        )
        if outcome == "refused":
            refused("sign_in: signed in", self.page.texts(spec.refused))


def keep_evidence(session: PortalSession, error: PortalError | InDoubtError | RecipeMismatch) -> None:
    """Every failure leaves evidence: what the page showed when it happened (once per failure)."""
    if isinstance(error, RecipeMismatch):
        if error.evidence is None:
            try:
                error.evidence = session.keep(f"failed-{error.operation or 'step'}-{error.index + 1}")
            except Exception:
                return
        return
    if error.response_body and "evidence: " in error.response_body:
        return
    label = getattr(error, "step", None) or type(error).__name__
    try:
        note = session.keep(f"failed-{label}")
    except Exception:  # the page is gone with the browser; the error itself says what happened
        return
    if note:
        error.response_body = f"{error.response_body}\n{note}" if error.response_body else note
