"""The browser connector: portals with no API, driven in a real headless Chromium by a recipe.

`render` turns the invoice into web-form fields (and its PDF); `submit`, `poll` and `lookup` hand a
task to the profile's browser owner thread (browser.py) and wait for it, within bounds. Outcomes in
the hub's terms: the portal's own form messages are a rejection with its words; a refused sign-in is
`PortalAuthError`; an unreachable portal, a 5xx before the submit click or a browser that will not
start is transient; anything unreadable after the submit click is IN_DOUBT (reconciled by `lookup`);
a page that does not match the recipe before the submit click is a recipe gap, never a rejection:
`RecipeGapError` (a `ProfileUnavailableError` of kind `recipe`, naming the step, what was expected and
the evidence), on which the hub holds the profile; a recipe file that does not load is the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field

from connectors.base import (
    Connector,
    Envelope,
    OutboundDocument,
    PageWalk,
    PollResult,
    PortalRecord,
    Receipt,
)
from connectors.settings import COMMON_HELP, OverlapSeconds
from connectors.webportal import form as webform
from connectors.webportal import reading, submitting
from connectors.webportal.browser import (
    BrowserPool,
    BrowserUnavailable,
    Browsing,
    LaunchOptions,
    TaskTimeout,
    default_pool,
)
from connectors.webportal.errors import BrowserGone, RecipeGapError, RecipeMismatch, SessionExpired
from connectors.webportal.evidence import Evidence
from connectors.webportal.recipe import Recipe, RecipeCache, RecipeError, recipe_schema
from connectors.webportal.session import Credentials, Portal, PortalSession, keep_evidence
from connectors.webportal.values import portal_value
from hub.errors import (
    InDoubtError,
    MappingError,
    PortalError,
    PortalhubError,
    ProfileUnavailableError,
    TransientPortalError,
)
from hub.model import Invoice, InvoicePurpose
from hub.profile import PortalProfile, Strict
from hub.secrets import SecretRef

T = TypeVar("T")
#: A browser that cannot start is a machine problem: look again in a while, not in a tight loop.
BROWSER_RETRY_SECONDS = 900.0
#: How often a task waiting for another daemon's browser to finish asks the store again.
LEASE_POLL_SECONDS = 0.5
_RECIPES = RecipeCache()


class BrowserSettings(Strict):
    executable: str = "/usr/bin/chromium"  # Debian's chromium; Playwright's own download is not used
    extra_args: list[str] = Field(default_factory=list)


class WebPortalConnection(Strict):
    """The `connection:` block of a web-portal profile."""

    base_url: str = Field(pattern=r"^https?://")  # the recipe's page paths are relative to it
    recipe: str = Field(min_length=1)  # the recipe file, relative to the rules file
    username: str = Field(min_length=1)
    password: SecretRef
    totp_seed: SecretRef | None = None  # base32, as the portal showed it when MFA was set up
    pdf: Literal["required", "optional", "none"] = "required"  # the invoice PDF, uploaded with the form
    step_timeout_seconds: float = Field(default=15, gt=0, le=120)  # one element to appear
    navigation_timeout_seconds: float = Field(default=30, gt=0, le=300)  # one page to load
    task_timeout_seconds: float = Field(default=300, gt=0, le=1800)  # one whole submit, poll or lookup
    #: How long a task waits while another daemon's browser works in this portal, before giving up as
    #: "not started" (transient); at most half of `task_timeout_seconds`, see `_exclusive`.
    lease_wait_seconds: float = Field(default=60, gt=0, le=600)
    overlap_seconds: OverlapSeconds = 60
    max_pages: int = Field(default=50, ge=1, le=1000)  # of the invoice list, per poll
    browser: BrowserSettings = Field(default_factory=BrowserSettings)


class WebPortalConnector(Connector):
    name = "webportal"
    document_format = webform.FORMAT
    connection_model = WebPortalConnection
    connection_help = {
        **COMMON_HELP,
        "base_url": (
            "The portal's address; the recipe's page paths are relative to it.",
            "https://suppliers.northwind.example",
        ),
        "recipe": (
            "The recipe file (pages, fields, buttons), relative to the rules file.",
            "recipes/northwind.yaml",
        ),
        "totp_seed": (
            "The base32 TOTP seed shown when MFA was set up, by reference only.",
            "secret:northwind_totp_seed",
        ),
        "pdf": ("Whether the invoice PDF is uploaded with the form.", "required"),
        "step_timeout_seconds": ("How long one element may take to appear.", 15),
        "navigation_timeout_seconds": ("How long one page may take to load.", 30),
        "task_timeout_seconds": ("How long one whole submit, poll or lookup may take.", 300),
        "lease_wait_seconds": ("How long to wait while another daemon's browser works in this portal.", 60),
        "max_pages": ("How many pages of the invoice list one poll reads.", 50),
        "browser": ("The browser to drive.", {"executable": "/usr/bin/chromium"}),
        "executable": ("The browser program.", "/usr/bin/chromium"),
        "extra_args": ("Extra command-line arguments for the browser.", ["--lang=en-US"]),
    }
    transports = ("browser (Chromium)",)
    supports_poll = True
    supports_lookup = True
    supports_attachments = True
    # A portal that has an invoice number refuses it again, whatever became of the first one.
    renumber_after_dispute = True

    # --- the recipe -----------------------------------------------------------------------------------
    @classmethod
    def file_schemas(cls) -> dict[str, dict[str, Any]]:
        return {"recipe": recipe_schema()}

    def recipe_path(self, profile: PortalProfile) -> Path:
        settings: WebPortalConnection = self.settings(profile)
        path = Path(settings.recipe)
        if not path.is_absolute():
            path = Path(profile.sources[0]).parent / path if profile.sources else path.resolve()
        return path

    def recipe(self, profile: PortalProfile) -> Recipe:
        """The profile's recipe (ConfigError with file:line and field when it does not load)."""
        return _RECIPES.get(self.recipe_path(profile))

    # --- the contract ---------------------------------------------------------------------------------
    def render(self, invoice: Invoice, profile: PortalProfile, envelope: Envelope) -> OutboundDocument:
        settings: WebPortalConnection = self.settings(profile)
        if invoice.purpose is not InvoicePurpose.INVOICE:
            raise MappingError(
                f"the {profile.id} web form takes invoices only, not a {invoice.purpose.value.replace('_', ' ')}"
            )
        form = webform.build_form(invoice, envelope.invoice_number, with_pdf=settings.pdf != "none")
        self._check_values(form, profile)
        if settings.pdf == "required" and not form.files:
            raise MappingError(
                f"{profile.id} requires the invoice PDF, and the invoice has no PDF attachment"
            )
        content_type, body = webform.encode(form, envelope.payload_id)
        return OutboundDocument(
            payload_id=envelope.payload_id,
            invoice_number=envelope.invoice_number,
            format=self.document_format,
            content_type=content_type,
            body=body,
        )

    def _check_values(self, form: webform.WebForm, profile: PortalProfile) -> None:
        """Values the recipe's maps cannot write for the portal block the invoice before sending (a
        recipe that does not load is left to `submit`, which holds the profile)."""
        try:
            recipe = self.recipe(profile)
        except RecipeError:
            return
        for values in (form.header, *form.lines):
            for key, text in values.items():
                portal_value(recipe, key, text)

    def submit(self, document: OutboundDocument, profile: PortalProfile) -> Receipt:
        form = webform.decode(document.content_type, document.body)
        portal = self._portal(profile, holding=True)

        def task(browsing: Browsing) -> Receipt:
            return submitting.submit(browsing, portal, form)

        for attempt in (1, 2):
            try:
                return self._run(profile, task, sending=True)
            except RecipeMismatch as exc:
                raise RecipeGapError(profile.id, exc) from exc
            except BrowserGone as exc:
                # Died before the submit click: nothing was sent; once more on a new browser.
                if attempt == 2:
                    raise TransientPortalError(str(exc)) from exc
        raise AssertionError("unreachable")

    def walk(self, profile: PortalProfile, document: OutboundDocument, submit: bool = False) -> PageWalk:
        """Sign in, fill the form up to the submit click (through it only with `submit`), read the
        list; each step with a screenshot (see check.py)."""
        from connectors.webportal import check

        form = webform.decode(document.content_type, document.body)
        portal = self._portal(profile)
        return self._run(profile, lambda browsing: check.walk(browsing, portal, form, submit), sending=submit)

    def poll(self, profile: PortalProfile, cursor: str | None) -> PollResult:
        settings: WebPortalConnection = self.settings(profile)
        portal = self._portal(profile)
        return self._read(
            profile,
            portal,
            "_poll",
            lambda browsing: reading.poll(browsing, portal, cursor, settings.overlap_seconds),
        )

    def lookup(self, profile: PortalProfile, invoice_number: str) -> PortalRecord | None:
        portal = self._portal(profile)
        return self._read(
            profile, portal, invoice_number, lambda browsing: reading.lookup(browsing, portal, invoice_number)
        )

    # --- plumbing -------------------------------------------------------------------------------------
    def _portal(self, profile: PortalProfile, holding: bool = False) -> Portal:
        """What a task needs; `holding`: a recipe that does not load holds the profile (for `submit`)."""
        settings: WebPortalConnection = self.settings(profile)
        try:
            recipe = self.recipe(profile)
        except RecipeError as exc:
            if holding:
                raise ProfileUnavailableError(
                    f"{profile.id}: the portal's recipe does not load, nothing was submitted: {exc}",
                    kind="recipe",
                ) from exc
            raise
        credentials = Credentials(
            username=settings.username,
            password=self.secret(settings.password),
            totp_seed=self.secret(settings.totp_seed) if settings.totp_seed else None,
        )
        return Portal(
            name=profile.id,
            base_url=settings.base_url,
            recipe=recipe,
            credentials=credentials,
            evidence=Evidence(self.context.evidence_dir, profile.id, credentials.secrets),
            step_timeout_ms=settings.step_timeout_seconds * 1000,
            navigation_timeout_ms=settings.navigation_timeout_seconds * 1000,
            max_pages=settings.max_pages,
        )

    def pool(self) -> BrowserPool:
        """The hub's browser pool (`ConnectorContext.browser_pool`), or the process's own."""
        pool = self.context.browser_pool
        return pool if isinstance(pool, BrowserPool) else default_pool()

    def _run(self, profile: PortalProfile, task: Callable[[Browsing], T], sending: bool = False) -> T:
        settings: WebPortalConnection = self.settings(profile)
        options = LaunchOptions(
            executable=settings.browser.executable,
            extra_args=tuple(settings.browser.extra_args),
            step_timeout_ms=settings.step_timeout_seconds * 1000,
            navigation_timeout_ms=settings.navigation_timeout_seconds * 1000,
        )
        worker = self.pool().worker(profile.id, options)
        try:
            return worker.run(self._exclusive(profile, settings, task), timeout=settings.task_timeout_seconds)
        except BrowserUnavailable as exc:
            raise TransientPortalError(
                f"the browser for web portals is not available: {exc}", retry_after=BROWSER_RETRY_SECONDS
            ) from exc
        except TaskTimeout as exc:
            if sending:
                # The task is told to stop before its submit click; it may be past it already.
                raise InDoubtError(f"{exc}; the portal may have the invoice") from exc
            raise TransientPortalError(str(exc)) from exc

    def _exclusive(
        self, profile: PortalProfile, settings: WebPortalConnection, task: Callable[[Browsing], T]
    ) -> Callable[[Browsing], T]:
        """`task` under the profile's `browser:<profile>` lease, so that only one browser at a time, in
        all the daemons on the store, works in the portal as the supplier's user: portals end a user's
        other sessions at sign-in, or refuse the second one. (Within a process, the profile's one
        browser thread already runs one task at a time; the `submit:` and `poll:` leases do not exclude
        each other.) Taken in the browser's thread around each task, and only for the task: a daemon
        that merely keeps an idle browser does not hold the portal."""
        leases = self.context.leases
        if leases is None:
            return task
        name = f"browser:{profile.id}"
        # Held past the caller's bound: a task is told to stop then, and finishes its current step.
        hold = settings.task_timeout_seconds + settings.navigation_timeout_seconds
        # Gives up before the caller does: a submission that never started must come back as "not
        # sent" (transient), not as the caller's timeout, which would leave the invoice in doubt.
        patience = min(settings.lease_wait_seconds, settings.task_timeout_seconds / 2)

        def exclusive(browsing: Browsing) -> T:
            deadline = time.monotonic() + patience
            while not leases.acquire(name, hold):
                if time.monotonic() >= deadline or browsing.cancelled.is_set():
                    raise TransientPortalError(
                        f"not started: another hub process has been using the browser for {profile.id} "
                        f"for over {patience:.0f} s (lease {name})"
                    )
                time.sleep(LEASE_POLL_SECONDS)
            try:
                return task(browsing)
            finally:
                leases.release(name)

        return exclusive

    def _read(self, profile: PortalProfile, portal: Portal, subject: str, work: Callable[[Browsing], T]) -> T:
        """Run a reading task (poll, lookup): read-only, so a session that ended or a browser that died
        under it is simply tried once more."""

        def task(browsing: Browsing) -> T:
            try:
                try:
                    return work(browsing)
                except SessionExpired:
                    return work(browsing)  # `open` signs in again on the way
            except SessionExpired as exc:
                raise TransientPortalError(f"{profile.id} keeps ending the session: {exc}") from exc
            except (PortalError, RecipeMismatch) as exc:
                keep_evidence(PortalSession(browsing, portal, subject), exc)
                raise
            except PortalhubError:
                raise
            except Exception as exc:
                if type(exc).__module__.startswith("playwright"):
                    raise BrowserGone(f"the browser failed while reading {profile.id}: {exc}") from exc
                raise

        for attempt in (1, 2):
            try:
                return self._run(profile, task)
            except RecipeMismatch as exc:
                # Reading changes nothing at the portal: the cursor stays, the in-doubt invoice waits.
                raise TransientPortalError(
                    f"{profile.id}: {exc}; update the portal's recipe"
                    + (f" ({exc.evidence})" if exc.evidence else ""),
                    retry_after=BROWSER_RETRY_SECONDS,
                ) from exc
            except BrowserGone as exc:
                if attempt == 2:
                    raise TransientPortalError(str(exc)) from exc
        raise AssertionError("unreachable")
