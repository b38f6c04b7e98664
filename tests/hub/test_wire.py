"""The wire: one request at a time on its own thread; the next claimed item goes right after an answer
that allows it, from the thread that read the answer (hub/pipeline/wire.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectors.base import Receipt
from hub.errors import InDoubtError, PermanentPortalError, TransientPortalError
from hub.model import RejectionCategory
from hub.pipeline.wire import Wire, chains, transmit

DUPLICATE = RejectionCategory.DUPLICATE


class Portal:
    """Answers each item when the test lets it; records what was sent, in order, and from which thread."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.threads: set[str] = set()
        self.answers: dict[str, Receipt | BaseException] = {}
        self.release: dict[str, threading.Event] = {}
        self.arrived: dict[str, threading.Event] = {}

    def expect(self, item: str, answer: Receipt | BaseException, *, held: bool = False) -> None:
        self.answers[item] = answer
        self.release[item] = threading.Event()
        self.arrived[item] = threading.Event()
        if not held:
            self.release[item].set()

    def send(self, item: str) -> tuple[Receipt | BaseException, int]:
        self.sent.append(item)
        self.threads.add(threading.current_thread().name)
        self.arrived[item].set()
        assert self.release[item].wait(5)
        answer = self.answers[item]
        if not isinstance(answer, Exception) and isinstance(answer, BaseException):
            raise answer
        return answer, 1


def ok(item: str) -> Receipt:
    return Receipt(portal_invoice_id=f"P-{item}", http_status=200)


@pytest.fixture
def portal() -> Portal:
    return Portal()


@pytest.fixture
def go_on() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


@pytest.fixture
def wire(portal: Portal, go_on: threading.Event) -> Iterator[Wire[str]]:
    line: Wire[str] = Wire(portal.send, go_on.is_set, "send-test")
    yield line
    line.close()


def test_the_offered_item_goes_right_after_an_answer_that_allows_it(wire: Wire[str], portal: Portal) -> None:
    portal.expect("A", ok("A"), held=True)
    portal.expect("B", ok("B"), held=True)
    wire.go("A")
    assert portal.arrived["A"].wait(5)
    portal.release["A"].set()  # answered while B is offered, or before: both are checked below
    answer = wire.exchange("B")
    if answer.chained:
        assert portal.arrived["B"].wait(5)  # the wire sent it, nobody called go
    else:
        assert not portal.arrived["B"].is_set()
        wire.go("B")
    portal.release["B"].set()
    assert wire.exchange(None).result == ok("B")
    assert portal.sent == ["A", "B"]
    assert portal.threads == {"send-test"}


def test_an_offer_made_while_the_request_is_out_is_sent_by_the_wire(wire: Wire[str], portal: Portal) -> None:
    portal.expect("A", ok("A"), held=True)
    portal.expect("B", ok("B"))
    wire.go("A")
    assert portal.arrived["A"].wait(5)
    threading.Timer(0.05, portal.release["A"].set).start()  # the answer comes after the offer
    answer = wire.exchange("B")
    assert answer.result == ok("A") and answer.chained
    assert wire.exchange(None).result == ok("B")
    assert portal.sent == ["A", "B"]


@pytest.mark.parametrize(
    "refusal",
    [
        TransientPortalError("503 Service Unavailable"),
        InDoubtError("read timed out"),
        PermanentPortalError("Invoice number already used", category=DUPLICATE, duplicate=True),
    ],
    ids=["transient", "in-doubt", "duplicate"],
)
def test_an_answer_that_stops_the_flow_leaves_the_offered_item_with_the_caller(
    wire: Wire[str], portal: Portal, refusal: BaseException
) -> None:
    portal.expect("A", refusal, held=True)
    portal.expect("B", ok("B"))
    wire.go("A")
    assert portal.arrived["A"].wait(5)
    threading.Timer(0.05, portal.release["A"].set).start()
    answer = wire.exchange("B")
    assert answer.result is refusal and not answer.chained
    assert not wire.busy and portal.sent == ["A"]


def test_a_stop_asked_while_the_request_is_out_keeps_the_offered_item(
    wire: Wire[str], portal: Portal, go_on: threading.Event
) -> None:
    portal.expect("A", ok("A"), held=True)
    portal.expect("B", ok("B"))
    wire.go("A")
    assert portal.arrived["A"].wait(5)

    def stop_then_answer() -> None:
        go_on.clear()
        portal.release["A"].set()

    threading.Timer(0.05, stop_then_answer).start()
    answer = wire.exchange("B")
    assert answer.result == ok("A") and not answer.chained
    assert portal.sent == ["A"]


def test_a_crash_in_the_send_reaches_the_caller(wire: Wire[str], portal: Portal) -> None:
    portal.expect("A", KeyboardInterrupt(), held=False)
    wire.go("A")
    with pytest.raises(KeyboardInterrupt):
        wire.exchange("B")
    assert not wire.busy


def test_waiting_for_an_answer_with_nothing_out_is_an_error(wire: Wire[str]) -> None:
    with pytest.raises(RuntimeError, match="nothing is on the wire"):
        wire.exchange(None)


def test_one_request_at_a_time(wire: Wire[str], portal: Portal) -> None:
    portal.expect("A", ok("A"), held=True)
    wire.go("A")
    with pytest.raises(AssertionError, match="one request at a time"):
        wire.go("B")
    portal.release["A"].set()
    wire.exchange(None)


def test_only_a_receipt_or_a_plain_refusal_chains() -> None:
    assert chains(ok("A"))
    assert chains(PermanentPortalError("PO not found", category=RejectionCategory.PO))
    assert not chains(PermanentPortalError("already used", category=DUPLICATE, duplicate=True))
    assert not chains(TransientPortalError("429"))
    assert not chains(InDoubtError("timeout"))


def test_a_bug_in_a_send_is_an_in_doubt_answer_not_a_crash() -> None:
    def broken() -> Receipt:
        raise ValueError("oops")

    result, _ = transmit(broken, "invoice 7")
    assert isinstance(result, InDoubtError) and "ValueError: oops" in str(result)
