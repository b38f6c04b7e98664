"""Every kind of synchronous answer the network can give, from a scripted portal on a real socket, and
what the connector makes of it: accepted, permanent (with the code and words), auth, transient, in doubt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors.ariba import AribaConnector
from connectors.sandbox.ariba import INVOICE_PATH
from connectors.sandbox.server import Reply, SandboxServer
from hub.errors import InDoubtError, PermanentPortalError, PortalAuthError, TransientPortalError
from hub.model import RejectionCategory
from rules.schema import Profile
from tests.connectors.ariba_support import ARIBA_SECRET, make_ariba_connector, send, write_ariba_profile
from tests.connectors.support import ScriptedPortal, cxml_reply
from tests.factories import make_invoice


@pytest.fixture
def ariba_connector(http: httpx.Client) -> AribaConnector:
    return make_ariba_connector(http)


@pytest.fixture
def portal(
    scripted: tuple[ScriptedPortal, SandboxServer], tmp_path: Path
) -> Iterator[tuple[ScriptedPortal, Profile]]:
    script, server = scripted
    yield script, write_ariba_profile(tmp_path, server.url, status_mode="poll")


@pytest.mark.parametrize("code", [200, 201, 202, 204])
def test_2xx_is_accepted(
    portal: tuple[ScriptedPortal, Profile], ariba_connector: AribaConnector, code: int
) -> None:
    script, profile = portal
    script.reply = cxml_reply(code, "OK")
    receipt = send(ariba_connector, profile, make_invoice("INV-1"))
    assert receipt.portal_code == str(code)
    assert script.received[0].path == INVOICE_PATH


@pytest.mark.parametrize(
    ("code", "detail", "portal_code", "category", "duplicate"),
    [
        (400, "INVOICE_DUPLICATE: same ID", "INVOICE_DUPLICATE", RejectionCategory.DUPLICATE, True),
        (409, "INVOICE_DUPLICATE: same ID", "INVOICE_DUPLICATE", RejectionCategory.DUPLICATE, True),
        (400, "INVOICE_NO_ID: no number", "INVOICE_NO_ID", RejectionCategory.MISSING_FIELD, False),
        (400, "INV-13: obsolete order", "INV-13", RejectionCategory.PO, False),
        (400, "INV-15: outside the network", "INV-15", RejectionCategory.PO, False),
        (400, "INV-98: Tax ID is required.", "INV-98", RejectionCategory.TAX, False),
        (400, "INV-143: Cannot create a non-PO invoice", "INV-143", RejectionCategory.PO, False),
        (
            400,
            "SHIPPING_IN_LINE_ERROR: shipping",
            "SHIPPING_IN_LINE_ERROR",
            RejectionCategory.DOCUMENT,
            False,
        ),
        (400, "SUMMARY_AND_DETAIL: both", "SUMMARY_AND_DETAIL", RejectionCategory.DOCUMENT, False),
        # A buyer's own code we have never seen: kept verbatim, the words decide the category.
        (
            400,
            "GLOBEX-PO-77: The PO line price does not match",
            "GLOBEX-PO-77",
            RejectionCategory.PRICE_QUANTITY,
            False,
        ),
        (400, "ZZ_9: something new", "ZZ_9", RejectionCategory.OTHER, False),
        (400, "Invoice date is in the future", "400", RejectionCategory.DATES, False),
        (406, "Unable to parse", "406", RejectionCategory.DOCUMENT, False),
        (417, "Expectation failed", "417", RejectionCategory.OTHER, False),
    ],
)
def test_4xx_is_permanent_with_code_and_words(
    portal: tuple[ScriptedPortal, Profile],
    ariba_connector: AribaConnector,
    code: int,
    detail: str,
    portal_code: str,
    category: RejectionCategory,
    duplicate: bool,
) -> None:
    script, profile = portal
    script.reply = cxml_reply(code, "Bad Request", detail)

    with pytest.raises(PermanentPortalError) as raised:
        send(ariba_connector, profile, make_invoice("INV-1"))

    error = raised.value
    assert (error.portal_code, error.category, error.duplicate) == (portal_code, category, duplicate)
    assert detail in (error.portal_text or "") and error.http_status == 200


@pytest.mark.parametrize("code", [401, 403, 475, 476, 477])
def test_credential_codes_are_auth_errors(
    portal: tuple[ScriptedPortal, Profile], ariba_connector: AribaConnector, code: int
) -> None:
    script, profile = portal
    script.reply = cxml_reply(code, "Unauthorized", "Authentication failed")
    with pytest.raises(PortalAuthError):
        send(ariba_connector, profile, make_invoice("INV-1"))


@pytest.mark.parametrize("code", [409, 429, 500, 503, 550, 551, 560])
def test_5xx_and_busy_codes_are_transient(
    portal: tuple[ScriptedPortal, Profile], ariba_connector: AribaConnector, code: int
) -> None:
    script, profile = portal
    reply = cxml_reply(code, "Temporary server error", "Try again later")
    reply.headers["Retry-After"] = "120"
    script.reply = reply

    with pytest.raises(TransientPortalError) as raised:
        send(ariba_connector, profile, make_invoice("INV-1"))

    assert raised.value.retry_after == 120 and raised.value.portal_code == str(code)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(502, b"<html>Bad Gateway</html>", "text/html"), TransientPortalError),
        (Reply(503, b"<html>down</html>", "text/html"), TransientPortalError),
        (Reply(500, b"<html>oops</html>", "text/html"), TransientPortalError),
        (Reply(429, b"slow down", headers={"Retry-After": "5"}), TransientPortalError),
        (Reply(401, b"no"), PortalAuthError),
        (Reply(403, b"no"), PortalAuthError),
        (Reply(404, b"not found"), PermanentPortalError),
        (Reply(200, b"<cXML><Response><Status code="), InDoubtError),
        (Reply(200, b""), InDoubtError),
    ],
    ids=["502", "503", "500", "429", "401", "403", "404", "truncated-200", "empty-200"],
)
def test_answers_without_cxml_are_judged_by_http_status(
    portal: tuple[ScriptedPortal, Profile],
    ariba_connector: AribaConnector,
    reply: Reply,
    error: type[Exception],
) -> None:
    script, profile = portal
    script.reply = reply
    with pytest.raises(error):
        send(ariba_connector, profile, make_invoice("INV-1"))


def test_a_404_without_cxml_points_at_the_configuration(
    portal: tuple[ScriptedPortal, Profile], ariba_connector: AribaConnector
) -> None:
    script, profile = portal
    script.reply = Reply(404, b"not found")
    with pytest.raises(PermanentPortalError) as raised:
        send(ariba_connector, profile, make_invoice("INV-1"))
    assert raised.value.category is RejectionCategory.CONFIG and "invoice_url" in str(raised.value)


def test_a_network_that_quotes_the_document_back_never_leaks_the_secret(
    portal: tuple[ScriptedPortal, Profile], ariba_connector: AribaConnector
) -> None:
    script, profile = portal
    script.reply = lambda request: cxml_reply(406, "Not Acceptable", request.body.decode())

    with pytest.raises(PermanentPortalError) as raised:
        send(ariba_connector, profile, make_invoice("INV-1"))

    assert ARIBA_SECRET in script.received[0].body.decode()  # it was sent...
    for kept in (str(raised.value), raised.value.portal_text or "", raised.value.response_body or ""):
        assert ARIBA_SECRET not in kept  # ...and is kept nowhere
