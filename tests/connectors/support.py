"""Helpers for the connector tests: a Coupa connector and profile wired to a sandbox over real sockets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from connectors.base import ConnectorContext, Envelope, OutboundDocument, Receipt
from connectors.coupa import CoupaConnector
from connectors.sandbox.server import Reply, Request
from hub.errors import ConfigError
from hub.model import Invoice
from hub.registry import ConnectorRegistry
from mappings.cxml_response import render_response
from rules.loader import load_profile
from rules.schema import Profile
from tests.factories import API_SECRET, SECRET, T0, profile_yaml

SECRETS = {"secret:acme_shared_secret": SECRET, "secret:coupa_api_secret": API_SECRET}
INVOICE_PATH = "/acme/cxml/invoices"


class DictSecrets:
    """A secret resolver over a dict of reference -> value (a fake, not a mock)."""

    def __init__(self, values: Mapping[str, str] = SECRETS):
        self.values = dict(values)

    def resolve(self, reference: str) -> str:
        try:
            return self.values[reference]
        except KeyError:
            raise ConfigError(f"no secret {reference!r}") from None


def make_connector(http: httpx.Client, secrets: Mapping[str, str] = SECRETS) -> CoupaConnector:
    return CoupaConnector(ConnectorContext(http=http, secrets=DictSecrets(secrets), now=lambda: T0))


def write_profile(
    folder: Path,
    sandbox_url: str,
    *,
    api_url: str | None = None,
    api: Mapping[str, Any] | None = None,
    with_api: bool = True,
    **connection: Any,
) -> Profile:
    """profile_yaml(...) written to `folder` and loaded like the hub loads it (connection block checked).

    `api_url` points the status API somewhere else than the invoice endpoint (a wrapping server)."""
    spec = profile_yaml(sandbox_url, with_api=with_api)
    spec["connection"].update(connection)
    if api_url is not None:
        spec["connection"]["api"].update(
            invoices_url=f"{api_url}/api/v1/invoices", token_url=f"{api_url}/oauth2/token"
        )
    if api:
        spec["connection"]["api"].update(api)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return load_profile(path, ConnectorRegistry().check_connection)


def envelope(number: str, payload_id: str | None = None, original_payload_id: str | None = None) -> Envelope:
    return Envelope(
        payload_id=payload_id or f"{number}.1@portalhub.test",
        timestamp=T0,
        invoice_number=number,
        original_payload_id=original_payload_id,
    )


def render(connector: CoupaConnector, profile: Profile, invoice: Invoice) -> OutboundDocument:
    return connector.render(invoice, profile, envelope(invoice.invoice_number))


def send(connector: CoupaConnector, profile: Profile, invoice: Invoice) -> Receipt:
    return connector.submit(render(connector, profile, invoice), profile)


def cxml_reply(code: int, text: str, detail: str = "", http_status: int = 200) -> Reply:
    """A portal's cXML Response, the way Coupa answers (HTTP 200 unless told otherwise)."""
    body = render_response(code, text, "reply.1@portal.test", T0, detail=detail)
    return Reply(http_status, body, "text/xml; charset=UTF-8")


class ScriptedPortal:
    """A SandboxServer handler answering whatever `reply` is set to, recording every request."""

    def __init__(self, reply: Reply | Callable[[Request], Reply] | None = None):
        self.reply = reply or Reply(404, b"nothing scripted")
        self.received: list[Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            self.received.append(request)
        return self.reply(request) if callable(self.reply) else self.reply
