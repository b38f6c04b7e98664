"""A portal's one request at a time, on a thread of its own (step 2 of hub/pipeline/submit.py).

While a request is on the wire, the submitter records the answer before it and claims the invoice
after it (one transaction, committed before that invoice's request leaves). The wire sends the claimed
invoice the moment the portal's answer allows it, from the thread that read the answer: the store's
work of a send is done while the portal thinks, not between its answer and the next request.

An answer allows the next request when it says the portal took the document or read it and refused it
(`chains`): anything else (a portal down, throttling, refusing our credentials, no usable answer, a
duplicate whose evidence must be looked up first) stops the flow, and the submitter decides with the
answer recorded. Still one request at a time, and never a request without its committed attempt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from connectors.base import Receipt
from hub.errors import ConfigError, InDoubtError, PermanentPortalError, PortalError, ProfileUnavailableError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """What came back for one request: the receipt, or the error that stands for the answer."""

    result: Receipt | BaseException
    elapsed_ms: int
    #: Whether the invoice offered with `Wire.exchange` went out right after this answer.
    chained: bool


def chains(result: Receipt | BaseException) -> bool:
    """Whether the next claimed invoice may go right after this answer, before it is recorded."""
    if isinstance(result, Receipt):
        return True
    return isinstance(result, PermanentPortalError) and not result.duplicate


def transmit(send: Callable[[], Receipt], what: str) -> tuple[Receipt | BaseException, int]:
    """Run one send; an error stands for its answer. A bug must not leave the invoice SUBMITTING forever,
    nor resend it blind: it is an in-doubt answer."""
    started = time.monotonic()
    result: Receipt | BaseException
    try:
        result = send()
    except (ProfileUnavailableError, PortalError, InDoubtError, ConfigError) as exc:
        result = exc
    except Exception as exc:
        log.exception("unexpected error while sending %s", what)
        result = InDoubtError(
            f"internal error while sending ({type(exc).__name__}: {exc}); the portal may have it"
        )
    return result, int((time.monotonic() - started) * 1000)


class Wire(Generic[T]):
    """The thread that sends one item at a time with `send(item)`; see the module docstring."""

    def __init__(
        self,
        send: Callable[[T], tuple[Receipt | BaseException, int]],
        may_go: Callable[[], bool],
        name: str,
    ):
        self._send = send
        self._may_go = may_go  # asked at each answer before the next item goes (a stop asked meanwhile)
        self._ready = threading.Condition()
        self._sending: T | None = None  # handed over, its answer not yet published
        self._offered: T | None = None  # to go right after the current answer, if it chains
        # Published, not yet taken: two at most (an answer, and that of the item chained after it).
        self._answers: deque[Answer] = deque()
        self._crash: BaseException | None = None  # not an Exception (KeyboardInterrupt...): re-raised
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """A request is out, or its answer has not been taken yet."""
        with self._ready:
            return self._sending is not None or bool(self._answers)

    def go(self, item: T) -> None:
        """Send `item` now (the wire must be idle: its last answer taken)."""
        with self._ready:
            assert self._sending is None and not self._answers, "one request at a time"
            self._sending = item
            self._ready.notify_all()

    def exchange(self, after: T | None) -> Answer:
        """Wait for the current request's answer and take it. `after` goes out right after that answer
        if the answer `chains`, `may_go()` still says so, and the answer has not already come
        (`Answer.chained` says whether it went; if not, it stays the caller's)."""
        with self._ready:
            if not self._answers and self._sending is None and self._crash is None:
                raise RuntimeError("nothing is on the wire")
            if not self._answers:  # the current request is still out
                self._offered = after
            while not self._answers and self._crash is None:
                self._ready.wait()
            self._offered = None
            if not self._answers:
                crash, self._crash = self._crash, None
                assert crash is not None
                raise crash
            return self._answers.popleft()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._ready:
                while self._sending is None and not self._closed:
                    self._ready.wait()
                if self._sending is None:
                    return
                item = self._sending
            try:
                result, elapsed_ms = self._send(item)
            except BaseException as exc:  # the caller's to raise: the send's fate is unknown
                with self._ready:
                    self._sending = None
                    self._crash = exc
                    self._ready.notify_all()
                return
            with self._ready:
                after, self._offered = self._offered, None
                chained = after is not None and chains(result) and self._may_go()
                self._answers.append(Answer(result, elapsed_ms, chained))
                self._sending = after if chained else None
                self._ready.notify_all()
