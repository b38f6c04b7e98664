"""The shared secret is a password: it travels in the request and nowhere else (not in what the hub
stores of the document, not in the errors it shows or logs)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connectors.base import MASK
from connectors.coupa import CoupaConnector
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import Reply, Request, SandboxServer
from hub.errors import InDoubtError, PermanentPortalError, PortalAuthError, PortalhubError
from hub.model import Attachment
from rules.schema import Profile
from tests.connectors.support import (
    SECRETS,
    ScriptedPortal,
    cxml_reply,
    make_connector,
    render,
    send,
    write_profile,
)
from tests.factories import SECRET, make_invoice


def _everything_kept(error: BaseException) -> str:
    """Every text of an error the hub stores, logs or shows."""
    parts = [str(error), repr(error)]
    parts += [str(getattr(error, name, None)) for name in ("portal_text", "response_body", "portal_code")]
    return "\n".join(parts)


@pytest.mark.parametrize("attachments", [[], [Attachment(filename="INV-1.pdf", content=b"%PDF-1.4\n")]])
def test_the_redacted_document_holds_no_shared_secret(
    connector: CoupaConnector, profile: Profile, attachments: list[Attachment]
) -> None:
    document = render(connector, profile, make_invoice("INV-1", attachments=attachments))

    assert SECRET.encode() in document.body  # the portal needs it ...
    kept = document.redacted()
    assert SECRET not in kept  # ... the hub's copy does not
    assert f"<SharedSecret>{MASK}</SharedSecret>" in kept
    assert SECRET not in repr(document)


def test_a_refusal_does_not_repeat_the_secret_that_was_sent(
    coupa: CoupaSandbox, http: httpx.Client, profile: Profile
) -> None:
    wrong = "wrong-secret-typed-by-hand"
    connector = make_connector(http, {**SECRETS, "secret:acme_shared_secret": wrong})

    with pytest.raises(PortalAuthError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert raised.value.portal_text == "Invalid credentials."
    assert wrong not in _everything_kept(raised.value)
    assert SECRET not in _everything_kept(raised.value)


def test_a_rejection_does_not_carry_the_secret(
    coupa: CoupaSandbox, connector: CoupaConnector, profile: Profile
) -> None:
    with pytest.raises(PermanentPortalError) as raised:
        send(connector, profile, make_invoice("INV-1", po="PO-404"))

    assert "PO-404" in str(raised.value)
    assert SECRET not in _everything_kept(raised.value)


def _echo(code: int, text: str, http_status: int = 200) -> ScriptedPortal:
    """A portal that quotes the document it received in its answer (some do, in parse errors)."""

    def answer(request: Request) -> Reply:
        quoted = request.body.decode("utf-8", errors="replace")
        return cxml_reply(code, text, f"Received: {quoted}", http_status=http_status)

    return ScriptedPortal(answer)


@pytest.mark.parametrize(
    ("code", "text", "outcome"),
    [
        (406, "Could not parse cXML document.", PermanentPortalError),
        (401, "Invalid credentials.", PortalAuthError),
        (500, "Unexpected server error.", InDoubtError),
    ],
)
def test_a_portal_quoting_the_document_back_does_not_leak_the_secret(
    http: httpx.Client, tmp_path: Path, code: int, text: str, outcome: type[PortalhubError]
) -> None:
    portal = _echo(code, text)
    with SandboxServer(portal) as server:
        profile = write_profile(tmp_path, server.url)
        with pytest.raises(PortalhubError) as raised:
            send(make_connector(http), profile, make_invoice("INV-1"))

    assert SECRET.encode() in portal.received[0].body  # it was quoted back ...
    assert type(raised.value) is outcome
    kept = _everything_kept(raised.value)
    assert "Received:" in kept or outcome is InDoubtError
    assert SECRET not in kept  # ... and masked before the hub sees it


def test_a_receipt_quoting_the_document_back_does_not_leak_the_secret(
    http: httpx.Client, tmp_path: Path
) -> None:
    portal = _echo(200, "OK")
    with SandboxServer(portal) as server:
        receipt = send(make_connector(http), write_profile(tmp_path, server.url), make_invoice("INV-1"))

    assert receipt.response_body is not None and "Received:" in receipt.response_body
    assert SECRET not in receipt.response_body
    assert SECRET not in (receipt.portal_text or "")
