"""The inbound status receiver: an HTTP endpoint where a network (SAP Ariba) pushes cXML
StatusUpdateRequests. The daemon serves it (hub/daemon.py); TLS is a reverse proxy's job.

For each POST: parse safely (mappings.cxml_response: no entities, no DTD, no network) -> 400 with
nothing recorded when the body is not a cXML StatusUpdateRequest at all (not XML, entity tricks, another
document); authenticate the Sender credential and shared secret against the profiles whose connector
takes pushes (`inbound(profile)`) -> 401 with nothing recorded; find the invoice by DocumentReference
payloadID, InvoiceIDInfo invoiceID (+ invoiceDate) or DocumentInfo documentID (an invoice type), read a
zone-less timestamp in the profile's `inbound.timezone`, and record the status with
status_sync.apply.apply_update (one event per status: a network's retry of the same document is
recorded once) -> cXML Response 200. An invoice being sent right now answers 503, so the network
retries. A status that cannot be placed (no invoice of ours, an invoice status type with no canonical
meaning, an identification or value that cannot be read) answers 200 and is kept for a person
(status_sync/unplaced.py): a 4xx would only make the network send it again and again.

The document itself is never stored or logged: it carries the shared secret.

Uploads are read before anyone is authenticated, so what a stranger can hold is bounded: at most
`max_concurrent_uploads` bodies are read at once (one more is answered 503 with Retry-After at once,
without reading it), and a body must arrive within `body_timeout_seconds` (else 408, the connection
closed). An upload abandoned or stalled mid-body is one log line, never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import secrets as token_generator
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError

from connectors.base import Connector, SecretResolver
from hub.errors import ConfigError, MappingError
from hub.model import PortalStatusUpdate
from hub.profile import PortalProfile
from hub.store.database import Store
from hub.store.tables import InvoiceRow
from mappings.cxml_response import StatusEnvelope, StatusUpdateRequest, read_status_update, render_response
from status_sync import unplaced
from status_sync.apply import Applied, apply_update, find_invoice

log = logging.getLogger(__name__)
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_UPLOADS = 32
DEFAULT_BODY_TIMEOUT = 30.0
SATURATION_LOG_SECONDS = 60.0


class InboundCredential(Protocol):
    domain: str
    identity: str
    shared_secret: str  # a secret reference
    buyer_identity: str | None  # the `From` identity of the profile's buyer


@runtime_checkable
class PushingConnector(Protocol):
    """A connector whose portal pushes statuses (connectors/ariba.py implements it)."""

    def inbound(self, profile: PortalProfile) -> InboundCredential | None: ...

    def status_from_push(self, request: StatusUpdateRequest, received_at: datetime) -> PortalStatusUpdate: ...


@dataclass(frozen=True)
class Answer:
    http_status: int
    body: bytes
    outcome: str  # what happened, for logs and tests (never carries the document)


class StatusReceiver:
    """What the endpoint does with one request body; `app()` serves it over HTTP (Starlette)."""

    def __init__(
        self,
        *,
        store: Store,
        profiles: Callable[[], Mapping[str, PortalProfile]],
        connector: Callable[[PortalProfile], Connector],
        secrets: SecretResolver,
        now: Callable[[], datetime],
        path: str = "/cxml/status",
        max_body_bytes: int = DEFAULT_MAX_BODY,
        max_concurrent_uploads: int = DEFAULT_MAX_UPLOADS,
        body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT,
    ):
        self.store = store
        self.profiles = profiles
        self.connector = connector
        self.secrets = secrets
        self.now = now
        self.path = path
        self.max_body_bytes = max_body_bytes
        self.max_concurrent_uploads = max_concurrent_uploads
        self.body_timeout_seconds = body_timeout_seconds
        # Touched only on the server's event loop (one thread): no lock needed.
        self._uploads = 0
        self._refused = 0  # answered 503 since the last line saying so
        self._said_saturated = -math.inf

    # --- the decision -------------------------------------------------------------------------------------
    def receive(self, body: bytes) -> Answer:
        now = self.now()
        try:
            envelope, request, unreadable = read_status_update(body)
        except MappingError as exc:
            # Not a cXML StatusUpdateRequest at all (not XML, entities, another document): nothing to
            # keep for anyone. Safe to echo: the parser names what it refused, never an entity's content.
            return self._answer(400, "Bad Request", f"not a usable StatusUpdateRequest: {exc}", "unparseable")
        senders = self._authenticated(envelope)
        if not senders:
            log.warning(
                "status update %s refused: sender %s/%s is not authorised",
                envelope.payload_id,
                envelope.sender_domain,
                envelope.sender_identity,
            )
            return self._answer(401, "Unauthorized", "the sender's credentials are not valid", "unauthorized")
        try:
            if request is None or request.identification_problem:
                problem = unreadable or (request.identification_problem if request else None) or "unreadable"
                local = request.in_zone(senders[0][2]) if request is not None else None
                outcome = self._keep(body, envelope, local, senders, unplaced.UNREADABLE, problem, now)
            else:
                outcome = self._record(body, request, senders, now)
        except Exception:  # the store is down: nothing is recorded, and the network tries again later
            log.exception("status update %s could not be recorded", envelope.payload_id)
            return self._answer(500, "Internal Server Error", "the status could not be recorded", "error")
        log.info("status update %s: %s", envelope.payload_id, outcome)
        if outcome == Applied.BUSY.value:
            return self._answer(503, "Service Unavailable", "the invoice is being sent; try again", "busy")
        if outcome == "kept":
            # 200: the network has delivered; retrying the same document cannot place it.
            return self._answer(200, "OK", "received; kept for review: it could not be applied", "kept")
        return self._answer(200, "OK", "", outcome)

    def _authenticated(
        self, envelope: StatusEnvelope
    ) -> list[tuple[PortalProfile, PushingConnector, tzinfo]]:
        """The profiles this sender may update, with the zone each reads zone-less timestamps in:
        credential and shared secret both match. Where the `From` credential names a profile's buyer,
        only that buyer's profiles."""
        given = (envelope.shared_secret or "").encode()
        matches: list[tuple[PortalProfile, PushingConnector, tzinfo, str | None]] = []
        for profile in list(self.profiles().values()):
            try:
                connector = self.connector(profile)
                if not isinstance(connector, PushingConnector):
                    continue
                credential = connector.inbound(profile)
                if credential is None or (credential.domain.lower(), credential.identity) != (
                    (envelope.sender_domain or "").lower(),
                    envelope.sender_identity,
                ):
                    continue
                expected = self.secrets.resolve(credential.shared_secret).encode()
                zone = ZoneInfo(getattr(credential, "timezone", None) or "UTC")
            except (ConfigError, ZoneInfoNotFoundError, ValueError) as exc:
                log.error("profile %s cannot check pushed statuses: %s", profile.id, exc)
                continue
            if not expected:
                # An empty secret would let in any request that carries none.
                log.error("profile %s: the inbound shared secret is empty; pushes are refused", profile.id)
                continue
            if hmac.compare_digest(expected, given):
                matches.append((profile, connector, zone, credential.buyer_identity))
        buyers = [(p, c, z) for p, c, z, buyer in matches if buyer and buyer == envelope.from_identity]
        return buyers or [(p, c, z) for p, c, z, _ in matches]

    def _record(
        self,
        body: bytes,
        request: StatusUpdateRequest,
        senders: list[tuple[PortalProfile, PushingConnector, tzinfo]],
        now: datetime,
    ) -> str:
        """Apply the status to the invoice it names (the first authenticated profile that has it);
        'kept' when no profile has it, or when its type has no canonical meaning."""
        for profile, connector, zone in senders:
            local = request.in_zone(zone)
            update = connector.status_from_push(local, now)
            try:
                with self.store.session() as session:
                    row = find_invoice(session, profile.id, update)
                    if row is None or not self._same_invoice(local, row):
                        continue
                    if update.invoice_number is None:
                        # The number the portal knows: a pushed and a polled status of one change then
                        # share one dedupe key, whichever reference the network used.
                        update = update.model_copy(
                            update={"invoice_number": row.portal_invoice_number or row.invoice_number}
                        )
                    outcome = apply_update(session, profile.id, update, actor=f"portal:{profile.id}", now=now)
                    if outcome in (Applied.NOTED, Applied.DUPLICATE) and not local.type_is_known():
                        # Noted on the invoice's timeline, and in the worklist: someone must say what it means.
                        unplaced.keep(
                            session,
                            key=unplaced.dedupe_key(local.envelope, body),
                            envelope=local.envelope,
                            request=local,
                            problem=unplaced.UNKNOWN_TYPE,
                            explanation=f"{local.kind} type {local.status_type!r} has no meaning portalhub "
                            f"knows; the invoice's state was not changed",
                            profile_id=profile.id,
                            now=now,
                            invoice_id=row.id,
                        )
                    return outcome.value
            except IntegrityError:
                # The same document delivered twice at once: the other delivery's event is the one.
                return Applied.DUPLICATE.value
        named = request.invoice_number or request.document_payload_id
        local = request.in_zone(senders[0][2])
        return self._keep(
            body,
            local.envelope,
            local,
            senders,
            unplaced.UNKNOWN_INVOICE,
            f"no invoice of profile(s) {', '.join(p.id for p, _, _ in senders)} is {named!r}",
            now,
        )

    @staticmethod
    def _same_invoice(request: StatusUpdateRequest, row: InvoiceRow) -> bool:
        """InvoiceIDInfo's invoiceDate, when given, must be the invoice's date (a day either way: the
        network may have written it in another zone): a number reused years later is another invoice."""
        if request.invoice_date is None or not request.invoice_id:
            return True
        return abs((request.invoice_date.date() - row.invoice_date).days) <= 1

    def _keep(
        self,
        body: bytes,
        envelope: StatusEnvelope,
        request: StatusUpdateRequest | None,
        senders: list[tuple[PortalProfile, PushingConnector, tzinfo]],
        problem: str,
        explanation: str,
        now: datetime,
    ) -> str:
        with self.store.session() as session:
            unplaced.keep(
                session,
                key=unplaced.dedupe_key(envelope, body),
                envelope=envelope,
                request=request,
                problem=problem,
                explanation=explanation,
                profile_id=senders[0][0].id,
                now=now,
            )
        log.warning("status update %s kept for review (%s): %s", envelope.payload_id, problem, explanation)
        return "kept"

    def _answer(self, code: int, text: str, detail: str, outcome: str) -> Answer:
        now = self.now()
        payload = f"{int(now.timestamp())}.{token_generator.token_hex(6)}@portalhub.receiver"
        return Answer(code, render_response(code, text, payload, now, detail=detail), outcome)

    # --- HTTP ---------------------------------------------------------------------------------------------
    def app(self) -> Any:
        """The Starlette application: POST `path` takes a StatusUpdateRequest."""
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import ClientDisconnect, Request
        from starlette.responses import Response
        from starlette.routing import Route

        def respond(answer: Answer, **headers: str) -> Response:
            return Response(
                answer.body,
                status_code=answer.http_status,
                media_type="text/xml; charset=UTF-8",
                headers=headers or None,
            )

        async def read(request: Request, body: bytearray) -> None:
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > self.max_body_bytes:
                    return

        async def endpoint(request: Request) -> Response:
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
                return respond(
                    self._answer(413, "Request Entity Too Large", "the document is too large", "too-large")
                )
            if self._uploads >= self.max_concurrent_uploads:
                self._refused += 1
                if time.monotonic() - self._said_saturated >= SATURATION_LOG_SECONDS:
                    # Once a minute at most, however many are refused: an attack must not fill the log.
                    self._said_saturated = time.monotonic()
                    log.warning(
                        "status receiver: %d uploads in progress, the limit; %d answered 503 since the last "
                        "such line",
                        self._uploads,
                        self._refused,
                    )
                    self._refused = 0
                busy = self._answer(
                    503, "Service Unavailable", "too many uploads at once; try again", "saturated"
                )
                retry = str(math.ceil(self.body_timeout_seconds))
                return respond(busy, **{"Retry-After": retry, "Connection": "close"})
            body = bytearray()
            client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
            self._uploads += 1
            try:
                await asyncio.wait_for(read(request, body), self.body_timeout_seconds)
            except ClientDisconnect:
                log.warning(
                    "status receiver: %s abandoned its upload after %d of %s bytes",
                    client,
                    len(body),
                    declared or "?",
                )
                return Response(status_code=400)  # nobody is left to read it
            except TimeoutError:
                log.warning(
                    "status receiver: %s sent %d of %s bytes in %gs; upload refused (408)",
                    client,
                    len(body),
                    declared or "?",
                    self.body_timeout_seconds,
                )
                late = self._answer(408, "Request Timeout", "the document did not arrive in time", "timeout")
                return respond(late, Connection="close")
            finally:
                self._uploads -= 1
            if len(body) > self.max_body_bytes:
                return respond(
                    self._answer(413, "Request Entity Too Large", "the document is too large", "too-large")
                )
            # The store is synchronous: keep it off the event loop.
            return respond(await run_in_threadpool(self.receive, bytes(body)))

        return Starlette(routes=[Route(self.path, endpoint, methods=["POST"])])


class ReceiverServer:
    """Serves an ASGI app with uvicorn in a background thread (the daemon's receiver, tests, the demo)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, path: str = "/"):
        import uvicorn

        self.host = host
        self.path = path
        # Bound here, so a port in use fails at start-up with a clear message, and port 0 gets a port.
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise ConfigError(f"the status receiver cannot listen on {host}:{port}: {exc.strerror}") from exc
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def start(self, timeout: float = 10.0) -> ReceiverServer:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"receiver:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the status receiver did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> ReceiverServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
