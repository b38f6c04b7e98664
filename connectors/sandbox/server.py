"""A real HTTP server on 127.0.0.1 for sandbox portals, with fault injection at the socket level.

Built on the standard library's ThreadingHTTPServer rather than an ASGI stack on purpose: a sandbox
must be able to misbehave the way networks do (hang up after reading the body, answer half a
document, stall past the client's timeout), and that needs the raw socket.
"""

from __future__ import annotations

import random
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit

#: Faults a sandbox can inject. `before` faults happen without processing the request; `after` faults
#: happen once the portal has processed it (the invoice exists), which is what makes an attempt IN_DOUBT.
FaultKind = Literal[
    "error_500",  # plain HTTP 500, not processed
    "unavailable_503",  # HTTP 503 from a gateway, not processed
    "throttle_429",  # HTTP 429 with Retry-After, not processed
    "drop_before",  # read the body, hang up without processing
    "drop_after",  # process, then hang up without answering
    "slow_after",  # process, then answer only after `delay` seconds (past the client's timeout)
    "malformed_after",  # process, then answer 200 with a broken body
    "error_500_after",  # process, then answer a plain HTTP 500 (a server failure after the invoice exists)
]
BEFORE: frozenset[str] = frozenset({"error_500", "unavailable_503", "throttle_429", "drop_before"})
MAX_BODY = 50 * 1024 * 1024

#: What a portal did with a document it processed (`Reply.outcome`, `Received.processed`).
PROCESSED = frozenset({"created", "cancelled", "refused-duplicate", "refused-content", "refused-access"})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    #: Set by a handler that processed a document (one of PROCESSED): the server's receipt log keeps it.
    outcome: str | None = None


@dataclass(frozen=True)
class Received:
    """One document that reached the portal, whatever became of it: the receipt log counts what a
    portal *received* (a refused resend included), not only what it holds.

    `outcome` is the answer as the sender met it: created / cancelled / refused-duplicate /
    refused-content / refused-access, or fault-injected-before (not processed) / fault-injected-after
    (processed, then the answer was lost or broken: `processed` says what the portal did)."""

    seq: int  # arrival order at this server
    at: datetime
    path: str
    number: str  # the document's invoice number ("" when it could not be read)
    payload_id: str
    outcome: str
    processed: str  # one of PROCESSED, or "" when the portal did not process it
    fault: str | None = None

    @property
    def created(self) -> bool:
        return self.processed == "created"


#: Tells the server whether a request carries a document, and which: (invoice number, payloadID) or None.
Identify = Callable[["Request"], tuple[str, str] | None]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    delay: float = 2.0  # slow_after
    retry_after: int = 1  # throttle_429


class FaultPlan:
    """Which requests misbehave: a queue of next faults, and seeded random rates, per path prefix."""

    def __init__(self, seed: int = 0):
        self._lock = threading.Lock()
        self._queue: list[tuple[str, Fault]] = []
        self._rates: list[tuple[str, dict[FaultKind, float], Fault]] = []
        self._scheduled: list[tuple[str, int, Fault]] = []
        self._posts: Counter[str] = Counter()
        self._random = random.Random(seed)
        self.injected: Counter[str] = Counter()

    def queue(self, kind: FaultKind, count: int = 1, path_prefix: str = "", **options: float) -> None:
        with self._lock:
            self._queue.extend([(path_prefix, Fault(kind, **options))] * count)  # type: ignore[arg-type]

    def at_request(self, number: int, kind: FaultKind, path_prefix: str = "", **options: float) -> None:
        """The `number`-th POST (counting from 1, from now on) under `path_prefix` gets this fault."""
        with self._lock:
            self._scheduled.append((path_prefix, self._posts[path_prefix] + number, Fault(kind, **options)))  # type: ignore[arg-type]

    def set_rates(self, rates: dict[FaultKind, float], path_prefix: str = "", **options: float) -> None:
        with self._lock:
            self._rates.append((path_prefix, rates, Fault("error_500", **options)))  # type: ignore[arg-type]

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rates.clear()
            self._scheduled.clear()

    def draw(self, request: Request) -> Fault | None:
        with self._lock:
            if request.method == "POST":
                for prefix in {p for p, _, _ in self._scheduled}:
                    if request.path.startswith(prefix):
                        self._posts[prefix] += 1
                for position, (prefix, number, fault) in enumerate(self._scheduled):
                    if request.path.startswith(prefix) and self._posts[prefix] == number:
                        del self._scheduled[position]
                        self.injected[fault.kind] += 1
                        return fault
            for position, (prefix, fault) in enumerate(self._queue):
                if request.path.startswith(prefix) and request.method == "POST":
                    del self._queue[position]
                    self.injected[fault.kind] += 1
                    return fault
            for prefix, rates, template in self._rates:
                if not request.path.startswith(prefix):
                    continue
                roll = self._random.random()
                for kind, rate in rates.items():
                    if roll < rate:
                        self.injected[kind] += 1
                        return Fault(kind, delay=template.delay, retry_after=template.retry_after)
                    roll -= rate
        return None


Handler = Callable[[Request], Reply]


class _QuietServer(ThreadingHTTPServer):
    """A client that disconnects mid-request (a killed daemon, a timeout) is normal for a portal:
    no traceback on stderr for it. Anything else is still printed."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class SandboxServer:
    """Serves `handler` on 127.0.0.1 (a free port unless one is given), in background threads."""

    def __init__(
        self,
        handler: Handler,
        *,
        port: int = 0,
        faults: FaultPlan | None = None,
        latency: float = 0.0,
        ssl_context: ssl.SSLContext | None = None,
        identify: Identify | None = None,
    ):
        self.handler = handler
        self.identify = identify
        self.received: list[Received] = []  # the receipt log (documents only), in arrival order
        #: Called with each request as it arrives, before it is handled (a test kills a client there).
        self.on_request: Callable[[Request], None] | None = None
        self.faults = faults or FaultPlan()
        self.latency = latency  # added to every answer: the benchmarks' fixed portal round trip
        self.requests: Counter[str] = Counter()
        self._counter_lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", port), _make_handler_class(self))
        self._httpd.daemon_threads = True
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None
        self.scheme = "https" if ssl_context is not None else "http"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> SandboxServer:
        # A short poll interval: stop() returns in ~50 ms instead of the default 0.5 s.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, method: str, path: str) -> None:
        with self._counter_lock:
            self.requests[f"{method} {path}"] += 1

    def receipts(self) -> list[Received]:
        """A copy of the receipt log: every document received so far, in arrival order."""
        with self._counter_lock:
            return list(self.received)

    def log_receipt(
        self, request: Request, document: tuple[str, str] | None, reply: Reply | None, fault: Fault | None
    ) -> None:
        """Keep one line for a request that carried a document (or that the handler processed as one)."""
        processed = reply.outcome if reply is not None and reply.outcome in PROCESSED else ""
        if document is None and not processed:
            return
        number, payload_id = document or ("", "")
        if fault is not None and fault.kind in BEFORE:
            outcome = "fault-injected-before"
        elif fault is not None:
            outcome = "fault-injected-after"
        else:
            outcome = processed or "unanswered"
        with self._counter_lock:
            self.received.append(
                Received(
                    seq=len(self.received) + 1,
                    at=datetime.now(UTC),
                    path=request.path,
                    number=number,
                    payload_id=payload_id,
                    outcome=outcome,
                    processed=processed,
                    fault=fault.kind if fault is not None else None,
                )
            )


def _make_handler_class(server: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real portal behind a load balancer
        server_version = "portalhub-sandbox"
        # Headers and body leave in two writes: with Nagle on, the body waits for the client's delayed
        # ACK (~40 ms) on every answer, an invisible latency on top of `latency`.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass  # the sandbox keeps counters; access logs would only drown test output

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(Reply(413, b"request too large"))
                return
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            server.count(request.method, request.path)
            if server.on_request is not None:
                server.on_request(request)
            control = request.path.startswith("/_sandbox")
            document = server.identify(request) if server.identify and not control else None
            fault = server.faults.draw(request) if not control else None
            if fault is not None and fault.kind in BEFORE:
                server.log_receipt(request, document, None, fault)
                self._fault_before(fault)
                return
            reply = server.handler(request)
            # Logged before answering: the portal has it even when the client is gone by then.
            server.log_receipt(request, document, reply, fault)
            if server.latency:
                time.sleep(server.latency)
            if fault is None:
                self._send(reply)
            elif fault.kind == "drop_after":
                self._hang_up()
            elif fault.kind == "slow_after":
                time.sleep(fault.delay)
                self._send(reply)
            elif fault.kind == "malformed_after":
                self._send(Reply(200, b"<cXML><Response><Status code=", "text/xml"))
            elif fault.kind == "error_500_after":
                self._send(Reply(500, b"<html><body>500 Internal Server Error</body></html>", "text/html"))

        def _fault_before(self, fault: Fault) -> None:
            if fault.kind == "drop_before":
                self._hang_up()
            elif fault.kind == "throttle_429":
                self._send(Reply(429, b"Too Many Requests", headers={"Retry-After": str(fault.retry_after)}))
            elif fault.kind == "unavailable_503":
                self._send(Reply(503, b"<html><body>503 Service Unavailable</body></html>", "text/html"))
            else:
                self._send(Reply(500, b"<html><body>500 Internal Server Error</body></html>", "text/html"))

        def _hang_up(self) -> None:
            self.close_connection = True
            try:
                # SO_LINGER 0: the client sees a reset, as when a load balancer drops the connection.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _send(self, reply: Reply) -> None:
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                self.close_connection = True  # the client gave up (its timeout); nothing to tell it

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    return _Handler
