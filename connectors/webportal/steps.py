"""Page work in terms of a recipe: find, fill, choose, press, wait, read, each as a named step.

Every failure comes out in the hub's terms: the portal unreachable or answering 5xx is transient; an
element the recipe names that is not on a page that did load is a `RecipeMismatch` naming the step
and what was expected; the sign-in page shown in the middle of a task is `SessionExpired`. Runs in the
browser's owner thread only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NoReturn, cast
from urllib.parse import urljoin, urlsplit

from connectors.webportal.browser import Browsing
from connectors.webportal.errors import RecipeMismatch, SessionExpired
from connectors.webportal.recipe import Recipe, Target
from hub.errors import PermanentPortalError, TransientPortalError
from mappings.rejection_words import categorize

if TYPE_CHECKING:
    from playwright.sync_api import FrameLocator, Locator, Page

_MARK = "() => { window.__portalhubBefore = true; }"
_NEW_DOCUMENT = "() => !window.__portalhubBefore"


def _xpath_literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in text.split("'")) + ")"


def playwright_errors() -> tuple[type[Exception], type[Exception]]:
    """(Error, TimeoutError) of Playwright, imported only where a browser runs."""
    from playwright.sync_api import Error, TimeoutError

    return Error, TimeoutError


class PortalPage:
    """The portal's tab (or the pop-up a step opened), driven by a recipe, relative to the base URL."""

    def __init__(self, browsing: Browsing, recipe: Recipe, base_url: str, step_timeout_ms: float):
        self.browsing = browsing
        self.recipe = recipe
        self.base_url = base_url.rstrip("/") + "/"
        self.step_timeout_ms = step_timeout_ms
        self.error, self.timeout_error = playwright_errors()
        self.popup: Page | None = None  # a window a step opened: the operation's next steps work in it

    @property
    def page(self) -> Page:
        if self.popup is not None and not self.popup.is_closed():
            return self.popup
        return self.browsing.page

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    # --- finding ---------------------------------------------------------------------------------------
    def locate(self, target: Target, root: Page | Locator | FrameLocator | None = None) -> Locator:
        scope: Page | Locator | FrameLocator = self.page if root is None else root
        if target.frame is not None:
            scope = scope.frame_locator(target.frame)
        if target.within is not None:
            scope = self.locate(target.within, scope).first
        if target.label is not None:
            return scope.get_by_label(target.label, exact=target.exact)
        if target.role is not None:
            role = cast(Any, target.role)
            if target.name is not None:
                return scope.get_by_role(role, name=target.name, exact=target.exact)
            return scope.get_by_role(role)
        if target.text is not None:
            return scope.get_by_text(target.text, exact=target.exact)
        if target.placeholder is not None:
            return scope.get_by_placeholder(target.placeholder, exact=target.exact)
        if target.test_id is not None:
            return scope.get_by_test_id(target.test_id)
        if target.term is not None:
            return scope.locator(
                f"xpath=.//dt[normalize-space()={_xpath_literal(target.term)}]/following-sibling::dd[1]"
            )
        assert target.css is not None
        return scope.locator(target.css)

    def visible(self, target: Target) -> bool:
        try:
            return self.locate(target).first.is_visible()
        except self.error:
            return False

    def texts(self, target: Target) -> list[str]:
        """Every matching element's text (the portal's messages), without waiting."""
        try:
            texts = [
                text
                for locator in self.locate(target).all()
                if locator.is_visible() and (text := locator.inner_text())
            ]
        except self.error:
            return []
        # One line per message: a portal's list of errors reads "Please correct: A. B."
        flat = (" ".join(line.strip() for line in text.splitlines() if line.strip()) for text in texts)
        return [text for text in flat if text]

    # --- failing clearly -------------------------------------------------------------------------------
    def where(self) -> str:
        return urlsplit(self.page.url).path or self.page.url

    def mismatch(self, step: str, expected: str) -> NoReturn:
        raise RecipeMismatch(step, expected, self.where())

    def on_sign_in_page(self) -> bool:
        sign_in = self.recipe.sign_in
        path = urlsplit(self.page.url).path
        if path.rstrip("/") == urlsplit(self.url(sign_in.page)).path.rstrip("/"):
            return True
        return any(
            step.fill is not None and step.value == "{password}" and self.visible(step.fill)
            for step in sign_in.steps
        )

    def check_loaded(self, step: str, sign_in_expected: bool = False) -> None:
        """After a navigation: the portal answered, with a page, and it is not the sign-in page."""
        page = self.page
        status = self.browsing.last_document_status
        if page.url.startswith("chrome-error://"):
            raise TransientPortalError(f"the portal could not be reached at step '{step}' (network error)")
        if status is not None and (status >= 500 or status == 429):
            raise TransientPortalError(
                f"the portal answered HTTP {status} at step '{step}'", http_status=status
            )
        if status in (404, 410):
            self.mismatch(step, f"a page, and the portal answered HTTP {status} (the page moved)")
        if not sign_in_expected and self.on_sign_in_page():
            raise SessionExpired(f"the portal asked to sign in again at step '{step}'")

    # --- moving ----------------------------------------------------------------------------------------
    def goto(self, path: str, step: str, check: bool = True) -> None:
        target = self.url(path)
        self.popup = None
        try:
            self.page.goto(target, wait_until="domcontentloaded")
        except self.timeout_error as exc:
            raise TransientPortalError(
                f"{target} did not load at step '{step}': {str(exc).splitlines()[0]}"
            ) from exc
        except self.error as exc:
            if "net::" in str(exc):
                raise TransientPortalError(
                    f"the portal could not be reached at step '{step}': {str(exc).splitlines()[0]}"
                ) from exc
            raise
        if check:
            self.check_loaded(step)

    def press(self, target: Target, step: str, navigation_timeout_ms: float) -> None:
        """Press a button or link that loads a new page, and wait until the new page is there."""
        page = self.page
        page.evaluate(_MARK)
        try:
            # Returns once the click is dispatched: waiting for the page it loads is ours to bound, and a
            # timeout here then only ever means the element was not there to press.
            self.locate(target).click(timeout=self.step_timeout_ms, no_wait_after=True)
        except self.timeout_error:
            self.mismatch(step, f"{target.describe()} to press")
        try:
            page.wait_for_function(_NEW_DOCUMENT, timeout=navigation_timeout_ms, polling=20)
            page.wait_for_load_state("domcontentloaded", timeout=navigation_timeout_ms)
        except self.timeout_error as exc:
            raise TransientPortalError(
                f"the portal did not answer within {navigation_timeout_ms / 1000:.0f} s at step '{step}'"
            ) from exc

    def click(self, target: Target, step: str) -> None:
        """Press a button that changes the page in place (a script's), loading no new page."""
        try:
            self.locate(target).click(timeout=self.step_timeout_ms)
        except self.timeout_error:
            self.mismatch(step, f"{target.describe()} to press")

    def open_popup(self, target: Target, step: str) -> None:
        """Press what opens a pop-up window; the next steps work in that window."""
        try:
            with self.page.context.expect_page(timeout=self.step_timeout_ms) as opened:
                self.locate(target).click(timeout=self.step_timeout_ms)
        except self.timeout_error:
            self.mismatch(step, f"{target.describe()} that opens a window")
        self.popup = opened.value
        self.popup.wait_for_load_state("domcontentloaded")

    def fill(self, target: Target, value: str, step: str, timeout_ms: float | None = None) -> None:
        try:
            self.locate(target).fill(value, timeout=timeout_ms or self.step_timeout_ms)
        except self.timeout_error:
            self.mismatch(step, f"{target.describe()} to fill")
        except self.error as exc:  # several elements with that label, or not an input
            self.mismatch(step, f"one input {target.describe()} ({str(exc).splitlines()[0]})")

    def options(self, target: Target, step: str, timeout_ms: float | None = None) -> list[tuple[str, str]]:
        """(value, label) of each option of a select."""
        locator = self.locate(target)
        try:
            locator.wait_for(state="attached", timeout=timeout_ms or self.step_timeout_ms)
            found: list[list[str]] = locator.locator("option").evaluate_all(
                "(options) => options.map((o) => [o.value, o.label.replace(/\\s+/g, ' ').trim()])"
            )
        except self.timeout_error:
            self.mismatch(step, f"{target.describe()} to choose from")
        except self.error as exc:
            self.mismatch(step, f"one select {target.describe()} ({str(exc).splitlines()[0]})")
        return [(value, label) for value, label in found]

    def choose(self, target: Target, value: str, by: str, step: str, timeout_ms: float | None = None) -> None:
        """Choose the option whose value (`by: value`), label (`label`) or part of its label
        (`label_contains`) is `value`. An option the portal does not offer is its answer about the invoice."""
        choices = self.options(target, step, timeout_ms)
        wanted = value.casefold()
        if by == "value":
            picked = [code for code, _ in choices if code == value]
        elif by == "label":
            picked = [code for code, label in choices if label.casefold() == wanted]
        else:
            pattern = re.compile(rf"(?<!\w){re.escape(wanted)}(?!\w)")
            picked = [code for code, label in choices if pattern.search(label.casefold())]
            if len(picked) > 1:  # "PO-1 - ..." and "PO-2 - for the PO-1 rigs": the one it starts with
                starting = [
                    code for code, label in choices if code in picked and label.casefold().startswith(wanted)
                ]
                picked = starting or picked
        if len(picked) != 1:
            offered = "; ".join(label or code for code, label in choices if code) or "no choices"
            how = "matches" if len(picked) > 1 else "is not among"
            words = f"{value!r} {how} the portal's choices for {target.describe()} ({offered})"
            raise PermanentPortalError(
                f"the portal cannot take the invoice: {words}", category=categorize(words), portal_text=words
            )
        try:
            self.locate(target).select_option(value=picked[0], timeout=timeout_ms or self.step_timeout_ms)
        except self.error as exc:
            self.mismatch(step, f"a select {target.describe()} ({str(exc).splitlines()[0]})")

    def upload(self, target: Target, name: str, content_type: str, content: bytes, step: str) -> None:
        try:
            self.locate(target).set_input_files(
                {"name": name, "mimeType": content_type, "buffer": content}, timeout=self.step_timeout_ms
            )
        except self.timeout_error:
            self.mismatch(step, f"a file input {target.describe()}")
        except self.error as exc:
            self.mismatch(step, f"a file input {target.describe()} ({str(exc).splitlines()[0]})")

    def wait_for_url(self, pattern: str, step: str, timeout_ms: float | None = None) -> None:
        try:
            self.page.wait_for_url(re.compile(pattern), timeout=timeout_ms or self.step_timeout_ms)
        except self.timeout_error:
            self.mismatch(step, f"an address matching {pattern!r}")

    def read(self, target: Target, attribute: str | None, step: str) -> str:
        locator = self.locate(target).first
        try:
            if attribute is not None:
                return (locator.get_attribute(attribute, timeout=self.step_timeout_ms) or "").strip()
            return " ".join(locator.inner_text(timeout=self.step_timeout_ms).split())
        except self.timeout_error:
            self.mismatch(step, f"{target.describe()} to read")

    def wait_for_one(
        self,
        targets: dict[str, Target],
        step: str,
        timeout_ms: float | None = None,
        sign_in_expected: bool = False,
    ) -> str:
        """The name of the first target (in the order given) visible once any of them shows."""
        locators = {name: self.locate(target) for name, target in targets.items()}
        combined = None
        for locator in locators.values():
            combined = locator if combined is None else combined.or_(locator)
        assert combined is not None
        try:
            combined.first.wait_for(state="visible", timeout=timeout_ms or self.step_timeout_ms)
        except self.timeout_error:
            if not sign_in_expected and self.on_sign_in_page():
                raise SessionExpired(f"the portal asked to sign in again at step '{step}'") from None
            wanted = " or ".join(t.describe() for t in targets.values())
            self.mismatch(step, wanted)
        for name, locator in locators.items():
            try:
                if any(item.is_visible() for item in locator.all()):
                    return name
            except self.error:
                continue
        return next(iter(targets))  # it showed and went; the first is the one we wait for
