"""The inbound status receiver: an HTTP endpoint where a portal pushes statuses (SAP Ariba pushes cXML
StatusUpdateRequests). The daemon serves it (hub/daemon.py); TLS is a reverse proxy's job.

The receiver is HTTP, authentication and dispatch; what a document means is the family's, asked through
the connector contract (`supports_push` and the push hooks of connectors/base.py). For each POST: the
connector of every profile that takes pushes reads the body (`read_push`; connectors/cxml_push.py for
cXML: no entities, no DTD, no network) -> 400 with nothing recorded when no family reads it as a status
document at all (not XML, entity tricks, another document); the family says whether the document carries
a profile's inbound credential (`push_sender`) -> 401 with nothing recorded when it carries none; the
family reads the status in each such profile's terms (`pushed_status`), and the receiver finds the
invoice it names and records it with status_sync.apply.apply_update (one event per status: a portal's
retry of the same document is recorded once) -> 200. An invoice being sent right now answers 503, so
the portal retries. A status that cannot be placed (no invoice of ours, a status type with no canonical
meaning, an identification or value that cannot be read) answers 200 and is kept for a person
(status_sync/unplaced.py): a 4xx would only make the portal send it again and again. Every answer body
is in the family's own form (`push_reply`: a cXML Response).

The document itself is never stored or logged: it may carry the shared secret.

Uploads are read before anyone is authenticated, so what a stranger can hold is bounded: at most
`max_concurrent_uploads` bodies are read at once (one more is answered 503 with Retry-After at once,
without reading it), and a body must arrive within `body_timeout_seconds` (else 408, the connection
closed). An upload abandoned or stalled mid-body is one log line, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from connectors.base import Connector, Push, PushedStatus, SecretResolver
from hub.errors import ConfigError, MappingError
from hub.profile import PortalProfile
from hub.store.database import Store
from hub.store.tables import InvoiceRow
from status_sync import unplaced
from status_sync.apply import Applied, apply_update, find_invoice

log = logging.getLogger(__name__)
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_UPLOADS = 32
DEFAULT_BODY_TIMEOUT = 30.0
SATURATION_LOG_SECONDS = 60.0
#: The path when none is given (hub/config.py ReceiverConfig.path has the same default).
DEFAULT_PATH = "/cxml/status"

#: A profile whose portal pushes, with its connector.
Pusher = tuple[PortalProfile, Connector]


@dataclass(frozen=True)
class Answer:
    http_status: int
    body: bytes
    outcome: str  # what happened, for logs and tests (never carries the document)
    content_type: str = "text/plain; charset=UTF-8"


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
        path: str = DEFAULT_PATH,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        max_concurrent_uploads: int = DEFAULT_MAX_UPLOADS,
        body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT,
    ):
        """`secrets` resolves the profiles' inbound secret references (the families compare them)."""
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
    def receive(self, body: bytes, headers: Mapping[str, str] | None = None) -> Answer:
        now = self.now()
        pushers = self._pushers()
        try:
            push, family = self._read(body, headers or {}, pushers)
        except MappingError as exc:
            # No status document of any family here (not XML, entities, another document): nothing to
            # keep for anyone. Safe to echo: the parsers name what they refused, never an entity's content.
            return self._answer(400, "Bad Request", f"not a usable status document: {exc}", "unparseable")
        senders = self._authenticated(push, [(p, c) for p, c in pushers if c.name == family.name])
        if not senders:
            log.warning("pushed status %s refused: sender %s is not authorised", push.payload_id, push.sender)
            return self._answer(
                401, "Unauthorized", "the sender's credentials are not valid", "unauthorized", family
            )
        try:
            profile, connector = senders[0]
            first = connector.pushed_status(profile, push, now)
            if first.update is None:
                problem = first.problem or "unreadable"
                outcome = self._keep(push, first, profile.id, unplaced.UNREADABLE, problem, now)
            else:
                outcome = self._record(push, first, senders, now)
        except Exception:  # the store is down: nothing is recorded, and the portal tries again later
            log.exception("pushed status %s could not be recorded", push.payload_id)
            return self._answer(
                500, "Internal Server Error", "the status could not be recorded", "error", family
            )
        log.info("pushed status %s: %s", push.payload_id, outcome)
        if outcome == Applied.BUSY.value:
            return self._answer(
                503, "Service Unavailable", "the invoice is being sent; try again", "busy", family
            )
        if outcome == "kept":
            # 200: the portal has delivered; retrying the same document cannot place it.
            return self._answer(
                200, "OK", "received; kept for review: it could not be applied", "kept", family
            )
        return self._answer(200, "OK", "", outcome, family)

    def _pushers(self) -> list[Pusher]:
        """The profiles whose connector takes pushed statuses."""
        found: list[Pusher] = []
        for profile in list(self.profiles().values()):
            try:
                connector = self.connector(profile)
            except ConfigError as exc:
                log.error("profile %s cannot check pushed statuses: %s", profile.id, exc)
                continue
            if connector.supports_push:
                found.append((profile, connector))
        return found

    @staticmethod
    def _read(body: bytes, headers: Mapping[str, str], pushers: list[Pusher]) -> tuple[Push, Connector]:
        """The document as the first family that reads it reads it; MappingError when none does."""
        problem: MappingError = MappingError("no portal that pushes statuses is configured")
        tried: set[str] = set()
        for _, connector in pushers:
            if connector.name in tried:
                continue
            tried.add(connector.name)
            try:
                return connector.read_push(body, headers), connector
            except MappingError as exc:
                problem = exc
        raise problem

    def _authenticated(self, push: Push, pushers: list[Pusher]) -> list[Pusher]:
        """The profiles this sender may update: the family finds its credential in the document.
        Where the document names a profile's buyer as well, only that buyer's profiles."""
        matches: list[tuple[PortalProfile, Connector, bool]] = []
        for profile, connector in pushers:
            try:
                sender = connector.push_sender(profile, push, self.secrets)
            except (ConfigError, ValueError) as exc:
                log.error("profile %s cannot check pushed statuses: %s", profile.id, exc)
                continue
            if sender is not None:
                matches.append((profile, connector, sender.names_buyer))
        buyers = [(p, c) for p, c, names_buyer in matches if names_buyer]
        return buyers or [(p, c) for p, c, _ in matches]

    def _record(self, push: Push, first: PushedStatus, senders: list[Pusher], now: datetime) -> str:
        """Apply the status to the invoice it names (the first authenticated profile that has it);
        'kept' when no profile has it, or when its type has no canonical meaning."""
        for index, (profile, connector) in enumerate(senders):
            status = first if index == 0 else connector.pushed_status(profile, push, now)
            update = status.update
            if update is None:
                continue
            try:
                with self.store.session() as session:
                    row = find_invoice(session, profile.id, update)
                    if row is None or not self._same_invoice(status, row):
                        continue
                    if update.invoice_number is None:
                        # The number the portal knows: a pushed and a polled status of one change then
                        # share one dedupe key, whichever reference the portal used.
                        update = update.model_copy(
                            update={"invoice_number": row.portal_invoice_number or row.invoice_number}
                        )
                    outcome = apply_update(session, profile.id, update, actor=f"portal:{profile.id}", now=now)
                    if outcome in (Applied.NOTED, Applied.DUPLICATE) and not status.type_known:
                        # Noted on the invoice's timeline, and in the worklist: someone must say what it means.
                        unplaced.keep(
                            session,
                            push=push,
                            status=status,
                            problem=unplaced.UNKNOWN_TYPE,
                            explanation=f"{status.kind} type {status.status_type!r} has no meaning portalhub "
                            f"knows; the invoice's state was not changed",
                            profile_id=profile.id,
                            now=now,
                            invoice_id=row.id,
                        )
                    return outcome.value
            except IntegrityError:
                # The same document delivered twice at once: the other delivery's event is the one.
                return Applied.DUPLICATE.value
        named = (first.update.invoice_number if first.update else None) or first.document_payload_id
        return self._keep(
            push,
            first,
            senders[0][0].id,
            unplaced.UNKNOWN_INVOICE,
            f"no invoice of profile(s) {', '.join(p.id for p, _ in senders)} is {named!r}",
            now,
        )

    @staticmethod
    def _same_invoice(status: PushedStatus, row: InvoiceRow) -> bool:
        """The invoice date the document gives with the number, when it gives one, must be the invoice's
        (a day either way: the portal may have written it in another zone): a number reused years later
        is another invoice."""
        if status.invoice_date is None:
            return True
        return abs((status.invoice_date - row.invoice_date).days) <= 1

    def _keep(
        self,
        push: Push,
        status: PushedStatus,
        profile_id: str,
        problem: str,
        explanation: str,
        now: datetime,
    ) -> str:
        with self.store.session() as session:
            unplaced.keep(
                session,
                push=push,
                status=status,
                problem=problem,
                explanation=explanation,
                profile_id=profile_id,
                now=now,
            )
        log.warning("pushed status %s kept for review (%s): %s", push.payload_id, problem, explanation)
        return "kept"

    def _answer(
        self, code: int, text: str, detail: str, outcome: str, family: Connector | None = None
    ) -> Answer:
        """The answer in the family's form: the one that read the document, else the first configured
        one (before a body is read), else plain text (no portal pushes here)."""
        if family is None:
            family = next((c for _, c in self._pushers()), None)
        if family is None:
            return Answer(code, f"{code} {text}: {detail}".encode(), outcome)
        reply = family.push_reply(code, text, detail, self.now())
        return Answer(code, reply.body, outcome, reply.content_type)

    # --- HTTP ---------------------------------------------------------------------------------------------
    def app(self) -> Any:
        """The Starlette application: POST `path` takes a pushed status document."""
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import ClientDisconnect, Request
        from starlette.responses import Response
        from starlette.routing import Route

        def respond(answer: Answer, **headers: str) -> Response:
            return Response(
                answer.body,
                status_code=answer.http_status,
                media_type=answer.content_type,
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
            return respond(await run_in_threadpool(self.receive, bytes(body), dict(request.headers)))

        return Starlette(routes=[Route(self.path, endpoint, methods=["POST"])])
