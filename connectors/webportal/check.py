"""Trying a recipe without sending (`portalhub recipe check PROFILE --connect`): sign in, fill the form
with a chosen invoice up to (not including) the submit click, read the invoice list; every step listed
with a screenshot. A step that does not match stops the walk, naming the step and what was expected,
with the evidence. The submit click is pressed only when the caller asks (against a sandbox)."""

from __future__ import annotations

from connectors.base import CheckedStep, PageWalk
from connectors.webportal.browser import Browsing
from connectors.webportal.errors import RecipeMismatch, SessionExpired
from connectors.webportal.evidence import step_screenshot
from connectors.webportal.form import WebForm
from connectors.webportal.reading import InvoiceList
from connectors.webportal.session import Portal, PortalSession, keep_evidence
from connectors.webportal.submitting import Submission
from hub.errors import InDoubtError, PortalError

SUBJECT = "_recipe_check"


class _Walk:
    def __init__(self, browsing: Browsing, portal: Portal, form: WebForm):
        self.browsing = browsing
        self.portal = portal
        self.form = form
        self.session = PortalSession(browsing, portal, SUBJECT)
        self.report = PageWalk()
        self.operation = "sign_in"

    def saw(self, step: str, did: str) -> None:
        """After each step: a screenshot, listed with the step."""
        shot = None
        if "(secret)" not in did:  # a password or code on the screen is never kept
            path = step_screenshot(self.portal.evidence, self.session.page.page, SUBJECT, step)
            shot = str(path) if path else None
        self.report.steps.append(CheckedStep(step.split(" ", 1)[0], step, did, shot))

    def failed(self, step: str, problem: str, evidence: str | None) -> None:
        self.report.steps.append(CheckedStep(self.operation, step, problem, evidence, ok=False))
        self.report.problem = f"{problem}" + (f" ({evidence})" if evidence else "")

    def run(self, submit: bool) -> PageWalk:
        submission = Submission(self.browsing, self.portal, self.form, observer=self.saw)
        submission.session = self.session
        try:
            self.session.sign_in(observer=self.saw)
            self.operation = "submit_invoice"
            submission.fill()
            if submit:
                self.report.submitted = submission.submit_filled()
            self.operation = "invoice_list"
            listing = InvoiceList(self.session, observer=self.saw)
            rows, unreadable = listing.search(number=self.form.invoice_number)
            self.report.steps.append(
                CheckedStep(
                    "invoice_list",
                    "invoice_list: read the table",
                    f"{len(rows)} row(s) on {listing.pages_read} page(s)"
                    + (f"; unreadable: {'; '.join(unreadable)}" if unreadable else ""),
                    ok=not unreadable,
                )
            )
        except RecipeMismatch as exc:
            keep_evidence(self.session, exc)
            self.failed(
                exc.step, f"expected {exc.expected}" + (f" at {exc.where}" if exc.where else ""), exc.evidence
            )
        except (PortalError, InDoubtError) as exc:
            keep_evidence(self.session, exc)
            self.failed(self.operation, f"{type(exc).__name__}: {exc}", exc.response_body)
        except SessionExpired as exc:
            self.failed(self.operation, f"the portal ended the session: {exc}", None)
        return self.report


def walk(browsing: Browsing, portal: Portal, form: WebForm, submit: bool) -> PageWalk:
    """Runs in the browser's owner thread."""
    return _Walk(browsing, portal, form).run(submit)
