"""Submitting one invoice through the portal's form, and reading what the portal answered.

1. Reconcile first: the invoice number is searched in the portal's list. A number the portal already
   lists is a duplicate and is never typed again. This is also what makes a "duplicate" answer to our
   own submit click unambiguous: browsers may silently resend a form whose connection dropped, and the
   portal then refuses the resend as a duplicate of the invoice our first send created.
2. Open the form, fill the header, look the PO up, add the lines one at a time, attach the PDF; the
   portal's own messages at any of these steps refuse the invoice with its words.
3. Keep evidence of the filled form, press submit (the point of no return), read the confirmation
   (the portal's invoice id) or the errors. What cannot be read after the click is IN_DOUBT.

A session that ends in the middle is signed in again and the form started over; if it ended at the
submit click itself, the list is searched before anything is typed again.
"""

from __future__ import annotations

import re
from typing import NoReturn

from connectors.base import PortalRecord, Receipt
from connectors.webportal.browser import Browsing
from connectors.webportal.errors import BrowserGone, PortalLayoutChangedError, SessionExpired
from connectors.webportal.form import WebForm
from connectors.webportal.reading import lookup
from connectors.webportal.session import Portal, PortalSession, keep_evidence
from hub.errors import InDoubtError, PermanentPortalError, PortalError, PortalhubError, TransientPortalError
from hub.model import RejectionCategory
from mappings.rejection_words import categorize

_GATEWAY = frozenset({429, 502, 503, 504})
_ATTEMPTS = 3  # form started over after a session ended this many times at most


class Submission:
    def __init__(self, browsing: Browsing, portal: Portal, form: WebForm):
        self.browsing = browsing
        self.portal = portal
        self.form = form
        self.number = form.invoice_number
        self.session = PortalSession(browsing, portal, self.number)
        self.recipe = portal.recipe
        self.sent = False  # the submit button was pressed: from here on, failures are in doubt

    def run(self) -> Receipt:
        try:
            return self._attempts()
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
        self._fill()
        note = self.session.keep("filled")
        if self.browsing.cancelled.is_set():
            raise TransientPortalError("the caller stopped waiting before the invoice was submitted")
        self.sent = True
        return self._submit(note)

    def _fill(self) -> None:
        spec, page, form = self.recipe.invoice_form, self.session.page, self.form
        self.session.open(spec.page, "open the invoice form")
        self._header()
        if spec.po_lookup is not None and form.header.get("po_number"):
            self.session.press(spec.po_lookup.button, "look up the PO")
            page.check_loaded("look up the PO")
            if (
                page.wait_for_one({"errors": spec.errors, "found": spec.po_lookup.found}, "look up the PO")
                == "errors"
            ):
                self._refuse("look up the PO")
        for n, line in enumerate(form.lines, 1):
            step, added = f"add line {n}", spec.lines.added.for_line(n)
            if spec.lines.mode == "in_page":
                page.click(spec.lines.add, step)
                page.wait_for_one({"added": added}, step)
                self._line(n, line)
                continue
            self._line(n, line)
            self.session.press(spec.lines.add, step)
            page.check_loaded(step)
            if page.wait_for_one({"errors": spec.errors, "added": added}, step) == "errors":
                self._refuse(step)
        if spec.refill_header:
            self._header()  # a portal that re-renders the form without the header values typed before
        if form.files:
            if spec.attachment is None:
                page.layout_changed("attach the PDF", "the recipe has no attachment input")
            upload = form.files[0]
            try:
                page.locate(spec.attachment).set_input_files(
                    {"name": upload.filename, "mimeType": upload.content_type, "buffer": upload.content},
                    timeout=page.step_timeout_ms,
                )
            except page.timeout_error:
                page.layout_changed("attach the PDF", f"no {spec.attachment.describe()}")

    def _line(self, n: int, line: dict[str, str]) -> None:
        for key, field in self.recipe.invoice_form.lines.fields:
            if field is not None and line.get(key):
                self.session.page.fill(field.for_line(n), line[key], f"line {n}: {key}")

    def _header(self) -> None:
        for key, field in self.recipe.invoice_form.header:
            value = self.form.header.get(key)
            if field is not None and value:
                self.session.page.fill(field, value, f"fill the header: {key}")

    def _submit(self, filled_note: str | None) -> Receipt:
        spec, page = self.recipe.invoice_form, self.session.page
        step = "submit the invoice"
        try:
            self.session.press(spec.submit, step)
        except TransientPortalError as exc:
            raise InDoubtError(f"{exc}; the portal may have the invoice") from exc
        except PortalLayoutChangedError:
            self.sent = False  # there was no submit button to press: nothing left
            raise
        status = self.browsing.last_document_status
        if page.page.url.startswith("chrome-error://"):
            note = self.session.keep("connection-lost")
            raise InDoubtError(
                "the connection to the portal broke after the invoice was submitted; the portal may have it",
                response_body=note,
            )
        if status in _GATEWAY:
            # A gateway's answer: the portal behind it did not process the form.
            note = self.session.keep(f"http-{status}")
            raise TransientPortalError(
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
        if page.on_sign_in_page():
            raise SessionExpired("the portal asked to sign in again when the invoice was submitted")
        try:
            outcome = page.wait_for_one(
                {"errors": spec.errors, "confirmation": spec.confirmation.target}, "read the confirmation"
            )
        except PortalLayoutChangedError as exc:
            note = self.session.keep("no-confirmation")
            raise InDoubtError(f"{exc}; the portal may have the invoice", response_body=note) from exc
        if outcome == "errors":
            words = "; ".join(page.texts(spec.errors))
            if categorize(words) is RejectionCategory.DUPLICATE:
                # Not there a moment ago (step 1): the browser resent our own submission.
                record = self._listed(f"the portal answered the submission with {words!r}")
                if record is not None:
                    return Receipt(
                        portal_invoice_id=record.portal_invoice_id,
                        portal_text=words,
                        already_submitted=True,
                        response_body=filled_note,
                    )
            self._refuse(step)
        text = page.texts(spec.confirmation.target)
        found = next((m for t in text if (m := re.search(spec.confirmation.pattern, t))), None)
        note = self.session.keep("submitted")
        if found is None:
            raise InDoubtError(
                f"{self.portal.name}'s confirmation does not show the invoice id ({'; '.join(text)!r} does not "
                f"match {spec.confirmation.pattern!r}); the portal may have the invoice",
                response_body=note,
            )
        return Receipt(
            portal_invoice_id=found.group(1),
            portal_text="; ".join(text),
            response_body="\n".join(n for n in (filled_note, note) if n),
        )

    def _listed(self, what_happened: str) -> PortalRecord | None:
        """The portal's record of our number after the submit click; unreadable means in doubt."""
        try:
            return lookup(self.browsing, self.portal, self.number)
        except (PortalError, SessionExpired) as exc:
            raise InDoubtError(
                f"{what_happened}, and its invoice list could not be read ({exc}); the portal may have the invoice"
            ) from exc

    def _refuse(self, step: str) -> NoReturn:
        page = self.session.page
        words = (
            "; ".join(page.texts(self.recipe.invoice_form.errors)) or "(the portal showed an empty message)"
        )
        note = self.session.keep("refused")
        category = categorize(words)
        raise PermanentPortalError(
            f"{self.portal.name} refused the invoice at step '{step}': {words}",
            category=category,
            duplicate=category is RejectionCategory.DUPLICATE,
            portal_text=words,
            response_body=note,
        )


def submit(browsing: Browsing, portal: Portal, form: WebForm) -> Receipt:
    """Runs in the browser's owner thread."""
    return Submission(browsing, portal, form).run()
