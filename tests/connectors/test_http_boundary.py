"""connectors/http.py, the one place httpx errors become the hub's errors. httpx.MockTransport raising each
exception is the seam (as in httpx's own tests); a walk of httpx's exception tree makes sure a failure
added by a future httpx is mapped too, never let out."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.http import (
    MAX_INLINE_WAIT,
    retry_after_seconds,
    send_read,
    send_submission,
)
from hub.errors import ConfigError, InDoubtError, PortalhubError, TransientPortalError


def _tree(root: type[Exception]) -> list[type[Exception]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(c for c in _tree(sub) if c not in found)
    return found


#: Every httpx exception a request can raise: the TransportError tree, DecodingError, TooManyRedirects.
REQUEST_ERRORS = sorted(_tree(httpx.RequestError), key=lambda c: c.__name__)
#: Failures that happen before any byte of the request reaches the portal.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
URL_PROBLEMS = (httpx.UnsupportedProtocol, httpx.InvalidURL)
URL = "https://acme.coupahost.test/cxml/invoices"


def test_the_walk_covers_httpx_transport_errors() -> None:
    walked = set(REQUEST_ERRORS)
    assert set(_tree(httpx.TransportError)) <= walked
    assert {
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.PoolTimeout,
        httpx.ReadError,
        httpx.WriteError,
        httpx.CloseError,
        httpx.RemoteProtocolError,
        httpx.LocalProtocolError,
        httpx.ProxyError,
        httpx.UnsupportedProtocol,
        httpx.DecodingError,
        httpx.TooManyRedirects,
    } <= walked


class Raising:
    """A MockTransport handler that raises `error` and counts how often it was asked."""

    def __init__(self, error: type[Exception]):
        self.error = error
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.error is httpx.InvalidURL:
            raise httpx.InvalidURL("bad url")
        raise self.error(f"{self.error.__name__} injected", request=request)  # type: ignore[call-arg]


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _submission_outcome(error: type[Exception]) -> type[PortalhubError]:
    if issubclass(error, URL_PROBLEMS):
        return ConfigError
    if issubclass(error, NOT_SENT):
        return TransientPortalError
    return InDoubtError  # it may have reached the portal: reconcile before any resend


@pytest.mark.parametrize("error", REQUEST_ERRORS, ids=lambda c: c.__name__)
def test_send_submission_maps_every_httpx_error(error: type[Exception]) -> None:
    handler = Raising(error)
    expected = _submission_outcome(error)

    with _client(handler) as client, pytest.raises(PortalhubError) as raised:
        send_submission(client, "POST", URL, content=b"<cXML/>")

    assert type(raised.value) is expected
    assert isinstance(raised.value.__cause__, error)
    assert not isinstance(raised.value, httpx.HTTPError)
    assert error.__name__ in str(raised.value) or expected is ConfigError
    assert handler.calls == 1  # a submission is never retried in-process


@pytest.mark.parametrize("error", [*REQUEST_ERRORS, httpx.InvalidURL], ids=lambda c: c.__name__)
def test_send_read_maps_every_httpx_error_after_retrying(error: type[Exception]) -> None:
    handler = Raising(error)
    waits: list[float] = []

    with _client(handler) as client, pytest.raises(PortalhubError) as raised:
        send_read(client, "GET", URL, attempts=3, sleep=waits.append)

    if issubclass(error, URL_PROBLEMS):
        assert type(raised.value) is ConfigError
        assert (handler.calls, waits) == (1, [])  # retrying will not fix a URL
    else:
        assert type(raised.value) is TransientPortalError  # a read is safe to repeat, later
        assert handler.calls == 3
        assert len(waits) == 2
        assert all(0 < wait <= 10 for wait in waits)
    assert isinstance(raised.value.__cause__, error)


def test_invalid_url_in_a_submission_is_a_configuration_error() -> None:
    handler = Raising(httpx.InvalidURL)

    with _client(handler) as client, pytest.raises(ConfigError):
        send_submission(client, "POST", URL, content=b"<cXML/>")


@pytest.mark.parametrize(
    ("url", "cause"),
    [("ftp://acme.coupahost.test/cxml", httpx.UnsupportedProtocol), ("http://[::1", httpx.InvalidURL)],
)
def test_unusable_urls_are_configuration_errors_with_a_real_client(url: str, cause: type[Exception]) -> None:
    with httpx.Client() as client:
        with pytest.raises(ConfigError) as submitted:
            send_submission(client, "POST", url, content=b"<cXML/>")
        with pytest.raises(ConfigError) as read:
            send_read(client, "GET", url, sleep=lambda s: None)

    assert isinstance(submitted.value.__cause__, cause)
    assert isinstance(read.value.__cause__, cause)
    assert url in str(submitted.value)


class Scripted:
    """A MockTransport handler answering the given responses in turn."""

    def __init__(self, *responses: httpx.Response):
        self.responses = list(responses)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return self.responses.pop(0)


def test_send_read_waits_at_least_retry_after_then_succeeds() -> None:
    handler = Scripted(
        httpx.Response(429, headers={"Retry-After": "5"}),
        httpx.Response(503, headers={"Retry-After": "7"}),
        httpx.Response(200, json=[]),
    )
    waits: list[float] = []

    with _client(handler) as client:
        response = send_read(client, "GET", URL, attempts=3, sleep=waits.append)

    assert response.status_code == 200
    assert handler.calls == 3
    assert len(waits) == 2
    assert 5 <= waits[0] <= 5 + 2  # Retry-After, or the backoff if that is longer (it is not, here)
    assert 7 <= waits[1] <= 7 + 2


def test_send_read_never_sleeps_longer_than_the_inline_maximum() -> None:
    handler = Scripted(*[httpx.Response(429, headers={"Retry-After": "3600"}) for _ in range(3)])
    waits: list[float] = []

    with _client(handler) as client, pytest.raises(TransientPortalError) as raised:
        send_read(client, "GET", URL, attempts=3, sleep=waits.append)

    assert waits == [MAX_INLINE_WAIT, MAX_INLINE_WAIT]
    # The hub gets the portal's wish and reschedules with it, rather than holding a worker for an hour.
    assert raised.value.retry_after == 3600.0
    assert raised.value.http_status == 429


def test_send_read_backs_off_without_retry_after() -> None:
    handler = Scripted(*[httpx.Response(502) for _ in range(4)])
    waits: list[float] = []

    with _client(handler) as client, pytest.raises(TransientPortalError) as raised:
        send_read(client, "GET", URL, attempts=4, sleep=waits.append)

    assert handler.calls == 4
    assert len(waits) == 3
    assert all(0 < wait <= 10 for wait in waits)
    assert raised.value.retry_after is None and raised.value.http_status == 502


@pytest.mark.parametrize("status", [200, 304, 400, 401, 403, 404])
def test_send_read_hands_back_answers_that_are_not_worth_retrying(status: int) -> None:
    handler = Scripted(httpx.Response(status))
    waits: list[float] = []

    with _client(handler) as client:
        response = send_read(client, "GET", URL, sleep=waits.append)

    assert response.status_code == status
    assert (handler.calls, waits) == (1, [])


def test_send_submission_hands_back_any_http_answer_unretried() -> None:
    # The status of a submission is for the connector to read (cXML inside); 5xx is not retried here.
    handler = Scripted(httpx.Response(503), httpx.Response(200))

    with _client(handler) as client:
        response = send_submission(client, "POST", URL, content=b"<cXML/>")

    assert response.status_code == 503
    assert handler.calls == 1


NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (email.utils.format_datetime(NOW + timedelta(seconds=45), usegmt=True), 45.0),
        (email.utils.format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),  # already past
        ("Fri, 20 Nov 2026 15:02:00", 120.0),  # no zone: HTTP dates are GMT
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    response = httpx.Response(429, headers={"Retry-After": header} if header is not None else {})

    assert retry_after_seconds(response, NOW) == seconds
