"""One Chromium per portal, owned by one thread.

Playwright's sync API may only be used from the thread that started it, while the daemon calls
connectors from APScheduler's worker threads (and tests from theirs). So each portal profile gets a
`BrowserWorker`: a dedicated owner thread that starts Playwright and Chromium, keeps the signed-in
session (a browser context and its page) between invoices, and runs the tasks handed to it through
a queue, one at a time. Callers block on the task's future with a bounded timeout. A task that
outlives its caller's patience is told so (`Browsing.cancelled`) and must not pass its point of no
return; tasks queued behind it wait, which also keeps a reconciliation `lookup` from overtaking the
submission it reconciles. A Chromium that died is noticed after the task that met it and replaced
before the next one; a worker idle for a while closes its browser (and its thread) to free memory.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from hub.errors import PortalhubError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Response

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Chromium on a closed network: without the background-networking flags it keeps trying (and failing)
#: to reach Google's services at every start.
LAUNCH_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
_DEAD_WORDS = ("has been closed", "crashed", "connection closed", "disconnected", "target closed")


class BrowserUnavailable(PortalhubError):
    """Chromium (or Playwright) is not installed, or would not start."""


class TaskTimeout(PortalhubError):
    """The owner thread did not finish the task within the caller's bound."""


@dataclass(frozen=True)
class LaunchOptions:
    executable: str = "/usr/bin/chromium"
    extra_args: tuple[str, ...] = ()
    step_timeout_ms: float = 15_000
    navigation_timeout_ms: float = 30_000


class Browsing:
    """What a task sees, in the owner thread: this portal's page (its session kept between tasks)."""

    def __init__(self, worker: BrowserWorker, cancelled: threading.Event):
        self._worker = worker
        self.cancelled = cancelled

    @property
    def page(self) -> Page:
        return self._worker._current_page()

    @property
    def last_document_status(self) -> int | None:
        """The HTTP status of the newest page the tab loaded (None: none, or a network error)."""
        return self._worker._document_status


@dataclass
class _Job(Generic[T]):
    task: Callable[[Browsing], T]
    future: Future[T] = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)


_STOP = object()


class BrowserWorker:
    """The owner thread of one portal's Chromium (see the module docstring)."""

    def __init__(self, key: str, options: LaunchOptions, idle_seconds: float = 300):
        self.key = key
        self.options = options
        self.idle_seconds = idle_seconds
        self.launches = 0  # how many times Chromium was started (a restart after a crash adds one)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._accepting = False  # the current thread will still take the queued tasks
        # Touched only by the owner thread:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launched_with: LaunchOptions | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._document_status: int | None = None

    def run(self, task: Callable[[Browsing], T], timeout: float) -> T:
        """Run `task` in the owner thread and return its result (or raise its exception)."""
        job: _Job[T] = _Job(task)
        with self._lock:
            self._queue.put(job)
            if not self._accepting or self._thread is None or not self._thread.is_alive():
                previous = self._thread
                self._thread = threading.Thread(
                    target=self._loop, args=(previous,), name=f"browser:{self.key}", daemon=True
                )
                self._accepting = True
                self._thread.start()
        try:
            return job.future.result(timeout=timeout)
        except FutureTimeout:
            job.cancelled.set()
            raise TaskTimeout(f"the browser for {self.key} did not finish within {timeout:.0f} s") from None

    def close(self, timeout: float = 15) -> None:
        """Finish the queued tasks, close Chromium, end the thread."""
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            self._queue.put(_STOP)
        thread.join(timeout)

    # --- the owner thread ----------------------------------------------------------------------------
    def _loop(self, previous: threading.Thread | None) -> None:
        if previous is not None:
            previous.join()  # one browser per portal: the old thread closes its Chromium first
        try:
            while True:
                try:
                    job = self._queue.get(timeout=self.idle_seconds)
                except queue.Empty:
                    job = _STOP  # idle: close the browser, unless a task came in meanwhile
                if job is _STOP:
                    with self._lock:
                        # Decided under the lock that `run` takes: a task queued after this starts a
                        # new thread, which waits for this one to close its Chromium.
                        if self._queue.empty():
                            self._accepting = False
                            return
                    continue
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    self._ensure_browser()
                    result = job.task(Browsing(self, job.cancelled))
                except BaseException as exc:
                    if self._is_dead(exc):
                        log.warning(
                            "browser for %s died (%s); a new one starts for the next task", self.key, exc
                        )
                        self._shutdown()
                    job.future.set_exception(exc)
                else:
                    job.future.set_result(result)
        finally:
            self._shutdown()

    def _ensure_browser(self) -> None:
        if self._browser is not None and self._browser.is_connected() and self._launched_with == self.options:
            return
        self._shutdown()
        options = self.options
        if not Path(options.executable).exists():
            raise BrowserUnavailable(
                f"Chromium is not installed at {options.executable} (on Debian: apt-get install -y chromium)"
            )
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:  # pragma: no cover - playwright is a dependency of portalhub
            raise BrowserUnavailable(f"the playwright package is not installed: {exc}") from exc
        try:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=options.executable,
                headless=True,
                args=[*LAUNCH_FLAGS, *options.extra_args],
                timeout=options.navigation_timeout_ms,
            )
        except Exception as exc:
            self._shutdown()
            raise BrowserUnavailable(f"Chromium at {options.executable} did not start: {exc}") from exc
        self._launched_with = options
        self.launches += 1

    def _current_page(self) -> Page:
        if self._page is not None and not self._page.is_closed():
            return self._page
        self._close_context()
        assert self._browser is not None
        self._context = self._browser.new_context(
            viewport={"width": 1280, "height": 1000}, accept_downloads=False
        )
        self._context.set_default_timeout(self.options.step_timeout_ms)
        self._context.set_default_navigation_timeout(self.options.navigation_timeout_ms)
        page = self._context.new_page()
        page.on("response", self._on_response)
        self._page = page
        return page

    def _on_response(self, response: Response) -> None:
        page = self._page
        if (
            response.request.resource_type == "document"
            and page is not None
            and response.frame == page.main_frame
        ):
            self._document_status = response.status

    def _is_dead(self, exc: BaseException) -> bool:
        if self._browser is None or not self._browser.is_connected():
            return True
        if self._page is not None and self._page.is_closed():
            return True
        text = str(exc).lower()
        return type(exc).__module__.startswith("playwright") and any(word in text for word in _DEAD_WORDS)

    def _close_context(self) -> None:
        context, self._context, self._page = self._context, None, None
        self._document_status = None
        if context is not None:
            with contextlib.suppress(Exception):  # already gone with its browser
                context.close()

    def _shutdown(self) -> None:
        self._close_context()
        browser, self._browser = self._browser, None
        playwright, self._playwright = self._playwright, None
        self._launched_with = None
        for closing in (browser.close if browser else None, playwright.stop if playwright else None):
            if closing is not None:
                with contextlib.suppress(Exception):  # a dead browser cannot be closed politely
                    closing()


class BrowserPool:
    """One `BrowserWorker` per portal profile."""

    def __init__(self, idle_seconds: float = 300):
        self.idle_seconds = idle_seconds
        self._workers: dict[str, BrowserWorker] = {}
        self._lock = threading.Lock()

    def worker(self, key: str, options: LaunchOptions) -> BrowserWorker:
        with self._lock:
            worker = self._workers.get(key)
            if worker is None:
                worker = self._workers[key] = BrowserWorker(key, options, self.idle_seconds)
            worker.options = options  # a changed profile relaunches Chromium before the next task
            return worker

    def close(self) -> None:
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.close()


_default: BrowserPool | None = None
_default_lock = threading.Lock()


def default_pool() -> BrowserPool:
    """The process's pool, for hubs that do not put one in `ConnectorContext.browser_pool`."""
    global _default
    with _default_lock:
        if _default is None:
            _default = BrowserPool()
            atexit.register(_default.close)
        return _default
