"""Page work in terms of a recipe: find, fill, press, wait, read, each as a named step.

Every failure comes out in the hub's terms: the portal unreachable or answering 5xx is transient; an
element the recipe names that is not on a page that did load is `PortalLayoutChangedError` naming
the step; the sign-in page shown in the middle of a task is `SessionExpired`. Runs in the browser's
owner thread only.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn, cast
from urllib.parse import urljoin, urlsplit

from connectors.webportal.browser import Browsing
from connectors.webportal.errors import PortalLayoutChangedError, SessionExpired
from connectors.webportal.recipe import FormField, Recipe, Target
from hub.errors import PermanentPortalError, TransientPortalError
from mappings.rejection_words import categorize

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

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
    """The portal's tab, driven by a recipe, relative to the profile's base URL."""

    def __init__(self, browsing: Browsing, recipe: Recipe, base_url: str, step_timeout_ms: float):
        self.browsing = browsing
        self.recipe = recipe
        self.base_url = base_url.rstrip("/") + "/"
        self.step_timeout_ms = step_timeout_ms
        self.error, self.timeout_error = playwright_errors()

    @property
    def page(self) -> Page:
        return self.browsing.page

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    # --- finding ---------------------------------------------------------------------------------------
    def locate(self, target: Target) -> Locator:
        page: Page | Locator = self.page if target.within is None else self.locate(target.within).first
        if target.label is not None:
            return page.get_by_label(target.label, exact=target.exact)
        if target.role is not None:
            role = cast(Any, target.role)
            if target.name is not None:
                return page.get_by_role(role, name=target.name, exact=target.exact)
            return page.get_by_role(role)
        if target.text is not None:
            return page.get_by_text(target.text, exact=target.exact)
        if target.test_id is not None:
            return page.get_by_test_id(target.test_id)
        if target.term is not None:
            return page.locator(
                f"xpath=.//dt[normalize-space()={_xpath_literal(target.term)}]/following-sibling::dd[1]"
            )
        assert target.css is not None
        return page.locator(target.css)

    def visible(self, target: Target) -> bool:
        try:
            return self.locate(target).first.is_visible()
        except self.error:
            return False

    def texts(self, target: Target) -> list[str]:
        """Every matching element's text (the portal's messages), without waiting."""
        try:
            texts = self.locate(target).all_inner_texts()
        except self.error:
            return []
        # One line per message: a portal's list of errors reads "Please correct: A. B."
        flat = (" ".join(line.strip() for line in text.splitlines() if line.strip()) for text in texts)
        return [text for text in flat if text]

    # --- failing clearly -------------------------------------------------------------------------------
    def layout_changed(self, step: str, detail: str) -> NoReturn:
        where = urlsplit(self.page.url).path or self.page.url
        raise PortalLayoutChangedError(step, f"{detail} (at {where})")

    def on_sign_in_page(self) -> bool:
        login = self.recipe.login
        path = urlsplit(self.page.url).path
        return path.rstrip("/") == urlsplit(self.url(login.page)).path.rstrip("/") or self.visible(
            login.password
        )

    def check_loaded(self, step: str) -> None:
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
            self.layout_changed(step, f"the portal answered HTTP {status}: the page moved")
        if self.on_sign_in_page():
            raise SessionExpired(f"the portal asked to sign in again at step '{step}'")

    # --- moving ----------------------------------------------------------------------------------------
    def goto(self, path: str, step: str, check: bool = True) -> None:
        target = self.url(path)
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
            self.layout_changed(step, f"no {target.describe()} to press")
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
            self.layout_changed(step, f"no {target.describe()} to press")

    def fill(self, spec: FormField, value: str, step: str) -> None:
        locator = self.locate(spec)
        try:
            if spec.kind == "select":
                locator.wait_for(state="attached", timeout=self.step_timeout_ms)
                choices: list[list[str]] = locator.locator("option").evaluate_all(
                    "(options) => options.map((o) => [o.value, o.label])"
                )
                if not any(value in choice for choice in choices):
                    offered = ", ".join(label or code for code, label in choices)
                    words = f"{value!r} is not one of the portal's choices for {spec.describe()} ({offered})"
                    raise PermanentPortalError(
                        f"the portal cannot take the invoice: {words}",
                        category=categorize(words),
                        portal_text=words,
                    )
                locator.select_option(value, timeout=self.step_timeout_ms)
            elif spec.kind == "date":
                locator.fill(date.fromisoformat(value).strftime(spec.format), timeout=self.step_timeout_ms)
            else:
                locator.fill(value, timeout=self.step_timeout_ms)
        except self.timeout_error:
            self.layout_changed(step, f"no {spec.describe()} to fill")
        except self.error as exc:
            # Several elements with that label, or an option the select does not have.
            self.layout_changed(step, f"cannot fill {spec.describe()}: {str(exc).splitlines()[0]}")

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
            self.layout_changed(step, f"none of {wanted} appeared")
        for name, locator in locators.items():
            try:
                if locator.first.is_visible():
                    return name
            except self.error:
                continue
        return next(iter(targets))  # it showed and went; the first is the one we wait for
