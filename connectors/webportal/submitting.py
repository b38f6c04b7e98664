"""Submitting one invoice through the portal's pages, following the recipe's `submit_invoice` steps.

1. Reconcile first: the invoice number is searched in the portal's list. A number the portal already
   lists is a duplicate and is never typed again. This is also what makes a "duplicate" answer to our
   own submit click unambiguous: browsers may silently resend a form whose connection dropped, and the
   portal then refuses the resend as a duplicate of the invoice our first send created.
2. Open the form, fill the header, fill the lines, attach the PDF; the portal's own messages at any of
   these steps refuse the invoice with its words. A page that does not match the recipe here is a
   recipe gap (`RecipeMismatch`): nothing was sent, and the invoice is not refused.
3. Keep evidence of the filled form, run the `submit` steps (the first is the point of no return),
   read the confirmation (the portal's invoice id) or the errors. What cannot be read after the click
   is IN_DOUBT.

A session that ends in the middle is signed in again and the form started over; if it ended at the
submit click itself, the list is searched before anything is typed again.
"""

from __future__ import annotations

from typing import NoReturn

from connectors.base import PortalRecord, Receipt
from connectors.webportal.browser import Browsing
from connectors.webportal.errors import BrowserGone, RecipeMismatch, SessionExpired
from connectors.webportal.flow import Observer, StepRunner, Values
from connectors.webportal.form import WebForm
from connectors.webportal.reading import lookup
from connectors.webportal.session import Portal, PortalSession, keep_evidence
from hub.errors import InDoubtError, PermanentPortalError, PortalError, PortalhubError, TransientPortalError
from hub.model import RejectionCategory
from mappings.rejection_words import categorize

_GATEWAY = frozenset({429, 502, 503, 504})
_ATTEMPTS = 3  # form started over after a session ended this many times at most


class _NotProcessed(TransientPortalError):
    """A gateway answered the submit click: the portal behind it did not process the form."""


class Submission:
    def __init__(self, browsing: Browsing, portal: Portal, form: WebForm, observer: Observer | None = None):
        self.browsing = browsing
        self.portal = portal
        self.form = form
        self.number = form.invoice_number
        self.session = PortalSession(browsing, portal, self.number)
        self.recipe = portal.recipe
        self.observer = observer
        self.sent = False  # the submit click was dispatched: from here on, failures are in doubt

    def run(self) -> Receipt:
        try:
            return self._attempts()
        except RecipeMismatch as exc:
            keep_evidence(self.session, exc)
            if self.sent:
                raise InDoubtError(
                    f"{exc} after the invoice was submitted; the portal may have the invoice",
                    response_body=exc.evidence,
                ) from exc
            raise  # nothing was sent: a recipe gap, for the connector to report as such
        except (PortalError, InDoubtError) as exc:
            keep_evidence(self.session, exc)
            raise
        except (PortalhubError, BrowserGone):
            raise
        except Exception as exc:  # Playwright's own errors: the browser or the page died under us
            if self.sent:
                raise InDoubtError(
                    f"the browser failed after the invoice was submitted ({type(exc).__name__}: {exc}); "
                    "the portal may have it"
                ) from exc
            raise BrowserGone(f"the browser failed before the invoice was submitted: {exc}") from exc

    def _attempts(self) -> Receipt:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return self._once()
            except SessionExpired:
                if self.sent:
                    # The portal sent the submit click to its sign-in page; whether it kept the invoice
                    # first is for its list to say, never for a second send to find out.
                    record = self._listed("the portal asked to sign in again at the submit click")
                    self.sent = False
                    if record is not None:
                        return Receipt(
                            portal_invoice_id=record.portal_invoice_id,
                            portal_text=f"{self.portal.name} lists {self.number} (status {record.raw_status})",
                            already_submitted=True,
                        )
                if attempt == _ATTEMPTS:
                    raise TransientPortalError(
                        f"{self.portal.name} ended the session {attempt} times while the invoice was keyed"
                    ) from None
        raise AssertionError("unreachable")

    def _once(self) -> Receipt:
        existing = lookup(self.browsing, self.portal, self.number)
        if existing is not None:
            words = (
                f"{self.portal.name} already lists invoice {self.number} "
                f"(portal id {existing.portal_invoice_id or '?'}, status {existing.raw_status})"
            )
            raise PermanentPortalError(
                words, category=RejectionCategory.DUPLICATE, duplicate=True, portal_text=words
            )
        self.fill()
        note = self.session.keep("filled")
        if self.browsing.cancelled.is_set():
            raise TransientPortalError("the caller stopped waiting before the invoice was submitted")
        return self._submit(note)

    def fill(self) -> None:
        """Everything up to (not including) the submit click."""
        spec, form = self.recipe.submit_invoice, self.form
        runner = StepRunner(self.session, spec.errors, self._refuse, observer=self.observer)
        runner.run("open_form", spec.open_form, Values(fields=form.header))
        runner.run("fill_header", spec.fill_header, Values(fields=form.header))
        for n, line in enumerate(form.lines, 1):
            runner.run(f"fill_lines (line {n})", spec.fill_lines.each, Values(fields=line), n=n)
        files = [(f.filename, f.content_type, f.content) for f in form.files]
        runner.run("attach", spec.attach, Values(fields=form.header, files=files))

    def submit_filled(self) -> Receipt:
        """The submit steps and the confirmation, on a form `fill` filled (`recipe check` on a sandbox)."""
        return self._submit(self.session.keep("filled"))

    def _submit(self, filled_note: str | None) -> Receipt:
        spec = self.recipe.submit_invoice
        runner = StepRunner(
            self.session, spec.errors, self._refused_after_click, self._after_click, observer=self.observer
        )
        self.sent = True
        try:
            runner.run("submit", spec.submit, Values())
        except RecipeMismatch as exc:
            if exc.index == 0:
                self.sent = False  # there was no submit button to press: nothing left
            raise
        except _NotProcessed:
            self.sent = False
            raise
        except TransientPortalError as exc:
            raise InDoubtError(f"{exc}; the portal may have the invoice") from exc
        self.filled_note = filled_note
        reads = runner.run("read_confirmation", spec.read_confirmation, Values())
        note = self.session.keep("submitted")
        return Receipt(
            portal_invoice_id=reads.get("portal_invoice_id"),
            portal_text=reads.get("confirmation") or f"portal id {reads.get('portal_invoice_id')}",
            response_body="\n".join(n for n in (filled_note, note) if n),
        )

    def _after_click(self, step: str) -> None:
        """The page the submit click loaded: the portal's answer, a gateway's, or none."""
        status = self.browsing.last_document_status
        if self.session.page.page.url.startswith("chrome-error://"):
            note = self.session.keep("connection-lost")
            raise InDoubtError(
                "the connection to the portal broke after the invoice was submitted; the portal may have it",
                response_body=note,
            )
        if status in _GATEWAY:
            note = self.session.keep(f"http-{status}")
            raise _NotProcessed(
                f"{self.portal.name} answered HTTP {status} to the submission",
                http_status=status,
                response_body=note,
            )
        if status is not None and status >= 500:
            note = self.session.keep(f"http-{status}")
            raise InDoubtError(
                f"{self.portal.name} answered HTTP {status} to the submission; it may have the invoice",
                http_status=status,
                response_body=note,
            )
        if self.session.page.on_sign_in_page():
            raise SessionExpired("the portal asked to sign in again when the invoice was submitted")

    def _refused_after_click(self, step: str, words: list[str]) -> NoReturn:
        text = "; ".join(words)
        if categorize(text) is RejectionCategory.DUPLICATE:
            # Not there a moment ago (step 1): the browser resent our own submission.
            record = self._listed(f"the portal answered the submission with {text!r}")
            if record is not None:
                raise _AlreadyThere(
                    Receipt(
                        portal_invoice_id=record.portal_invoice_id,
                        portal_text=text,
                        already_submitted=True,
                        response_body=getattr(self, "filled_note", None),
                    )
                )
        self._refuse(step, words)

    def _listed(self, what_happened: str) -> PortalRecord | None:
        """The portal's record of our number after the submit click; unreadable means in doubt."""
        try:
            return lookup(self.browsing, self.portal, self.number)
        except (PortalError, SessionExpired, RecipeMismatch) as exc:
            raise InDoubtError(
                f"{what_happened}, and its invoice list could not be read ({exc}); the portal may have the invoice"
            ) from exc

    def _refuse(self, step: str, words: list[str]) -> NoReturn:
        text = "; ".join(words) or "(the portal showed an empty message)"
        note = self.session.keep("refused")
        category = categorize(text)
        raise PermanentPortalError(
            text,
            category=category,
            duplicate=category is RejectionCategory.DUPLICATE,
            portal_text=text,
            response_body=note,
        )


class _AlreadyThere(PortalhubError):
    """Carries the receipt of an invoice our own resent submission had already created."""

    def __init__(self, receipt: Receipt):
        super().__init__("already there")
        self.receipt = receipt


def submit(browsing: Browsing, portal: Portal, form: WebForm) -> Receipt:
    """Runs in the browser's owner thread."""
    try:
        return Submission(browsing, portal, form).run()
    except _AlreadyThere as there:
        return there.receipt
