"""AribaConnector.submit against the Ariba Network sandbox over real sockets: the header conventions, what
the network accepts, and how each of its coded refusals reaches the hub (exception class, category,
code and the network's words verbatim)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from connectors.ariba import AribaConnector
from connectors.sandbox.ariba import AribaSandbox, ExistingInvoice
from connectors.sandbox.clock import SandboxClock
from hub.errors import ConfigError, PermanentPortalError, PortalAuthError
from hub.model import Attachment, InvoicePurpose, RejectionCategory, Supplier
from rules.schema import Profile
from tests.connectors.ariba_support import (
    ARIBA_SECRET,
    ARIBA_SECRETS,
    BUYER_ANID,
    SUPPLIER_ANID,
    ariba_config,
    ariba_envelope,
    make_ariba_connector,
    render,
    send,
    write_ariba_profile,
)
from tests.factories import SUPPLIER, T0, make_invoice

Network = Callable[..., tuple[AribaSandbox, Profile]]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    client = httpx.Client(timeout=httpx.Timeout(2.0))
    yield client
    client.close()


@pytest.fixture
def connector(http: httpx.Client) -> AribaConnector:
    return make_ariba_connector(http)


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    """`network(cxml_refs=None, existing=(), profile={}, **buyer)` -> a sandbox on a free port and its
    profile (without `cxml_refs`, the DTD folder comes from $PORTALHUB_CXML_REFS, if set)."""
    started: list[AribaSandbox] = []

    def start(
        cxml_refs: Path | None = None,
        existing: tuple[ExistingInvoice, ...] = (),
        profile: Any = None,
        **buyer: Any,
    ) -> tuple[AribaSandbox, Profile]:
        config = ariba_config(**buyer)
        config.existing_invoices = list(existing)
        sandbox = AribaSandbox(config, SandboxClock(start=T0), cxml_refs=cxml_refs)
        server = sandbox.serve()
        started.append(sandbox)
        folder = tmp_path / f"network-{len(started)}"
        return sandbox, write_ariba_profile(folder, server.url, status_mode="poll", **(profile or {}))

    yield start
    for sandbox in started:
        sandbox.stop()


def refusal(connector: AribaConnector, profile: Profile, invoice: Any) -> PermanentPortalError:
    with pytest.raises(PermanentPortalError) as raised:
        send(connector, profile, invoice)
    return raised.value


def test_a_valid_invoice_is_accepted(network: Network, connector: AribaConnector) -> None:
    sandbox, profile = network()
    document = render(connector, profile, make_invoice("INV-1"))

    receipt = connector.submit(document, profile)

    assert [(i.number, i.payload_id) for i in sandbox.invoices] == [("INV-1", document.payload_id)]
    assert (receipt.http_status, receipt.portal_code) == (200, "201")
    assert receipt.portal_text == "Accepted Invoice INV-1 was queued for ACME Manufacturing."
    assert receipt.portal_invoice_id is None and not receipt.already_submitted


def test_the_document_follows_the_ariba_header_conventions(
    network: Network, connector: AribaConnector
) -> None:
    _, profile = network()
    root = etree.fromstring(render(connector, profile, make_invoice("INV-1")).body)

    def credential(role: str) -> tuple[str | None, str | None]:
        node = root.find(f"Header/{role}/Credential")
        assert node is not None
        return node.get("domain"), node.findtext("Identity")

    assert credential("From") == ("NetworkID", SUPPLIER_ANID)
    assert credential("To") == ("NetworkID", BUYER_ANID)
    assert credential("Sender") == ("NetworkID", SUPPLIER_ANID)
    assert root.findtext("Header/Sender/Credential/SharedSecret") == ARIBA_SECRET
    assert root.find("Request").get("deploymentMode") == "test"  # type: ignore[union-attr]


def test_the_sandbox_validates_against_the_dtd(
    network: Network, connector: AribaConnector, cxml_refs: Path
) -> None:
    sandbox, profile = network(cxml_refs=cxml_refs)
    send(connector, profile, make_invoice("INV-1"))
    document = render(connector, profile, make_invoice("INV-2"))
    broken = document.body.replace(b"<InvoiceDetailSummary>", b"<InvoiceDetailSummary><Bogus/>")

    with pytest.raises(PermanentPortalError) as raised:
        connector.submit(dataclasses.replace(document, body=broken), profile)

    assert raised.value.category is RejectionCategory.DOCUMENT and raised.value.portal_code == "406"
    assert "did not validate against the cXML DTD" in (raised.value.portal_text or "")
    assert [i.number for i in sandbox.invoices] == ["INV-1"]


def test_a_wrong_shared_secret_is_an_auth_error_without_the_secret(
    network: Network, http: httpx.Client
) -> None:
    sandbox, profile = network()
    wrong = "not-the-secret-0000"
    connector = make_ariba_connector(http, {**ARIBA_SECRETS, "secret:ariba_shared_secret": wrong})

    with pytest.raises(PortalAuthError) as raised:
        send(connector, profile, make_invoice("INV-1"))

    assert raised.value.portal_code == "401" and "credentials are not valid" in str(raised.value)
    assert wrong not in str(raised.value) and wrong not in (raised.value.response_body or "")
    assert sandbox.invoices == []


def test_an_unknown_buyer_is_an_auth_error(network: Network, connector: AribaConnector) -> None:
    _, profile = network(network_id="AN01000077777-T")  # the network has no relationship with BUYER_ANID
    with pytest.raises(PortalAuthError, match="no trading relationship"):
        send(connector, profile, make_invoice("INV-1"))


def test_production_mode_on_a_test_account_is_refused_by_the_network(
    network: Network, connector: AribaConnector
) -> None:
    sandbox, profile = network()
    document = render(connector, profile, make_invoice("INV-1"))
    production = document.body.replace(b'deploymentMode="test"', b'deploymentMode="production"')

    with pytest.raises(PermanentPortalError) as raised:
        connector.submit(dataclasses.replace(document, body=production), profile)

    assert "does not match the test account" in (raised.value.portal_text or "")
    assert sandbox.invoices == []


def test_the_profile_itself_refuses_production_mode_for_a_test_account(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="test account"):
        write_ariba_profile(tmp_path, "http://127.0.0.1:9", status_mode="poll", deployment_mode="production")


# --- every coded rejection -------------------------------------------------------------------------------


def test_invoice_no_id(network: Network, connector: AribaConnector) -> None:
    _, profile = network()
    document = render(connector, profile, make_invoice("INV-1"))
    blank = document.body.replace(b'invoiceID="INV-1"', b'invoiceID=""')

    with pytest.raises(PermanentPortalError) as raised:
        connector.submit(dataclasses.replace(document, body=blank), profile)

    error = raised.value
    assert (error.portal_code, error.category, error.duplicate) == (
        "INVOICE_NO_ID",
        RejectionCategory.MISSING_FIELD,
        False,
    )
    assert error.portal_text == "Bad Request INVOICE_NO_ID: The invoice has no invoice number."


def test_invoice_duplicate(network: Network, connector: AribaConnector) -> None:
    sandbox, profile = network()
    send(connector, profile, make_invoice("INV-1"))

    error = refusal(connector, profile, make_invoice("INV-1", lines=(("SEAL-22", "1", "EA", "4.20"),)))

    assert (error.portal_code, error.category, error.duplicate) == (
        "INVOICE_DUPLICATE",
        RejectionCategory.DUPLICATE,
        True,
    )
    assert "has already been received" in (error.portal_text or "")
    assert len(sandbox.invoices) == 1


def test_a_number_keyed_in_by_hand_is_a_duplicate(network: Network, connector: AribaConnector) -> None:
    held = ExistingInvoice(buyer="acme", supplier=SUPPLIER_ANID, number="INV-7")
    _, profile = network(existing=(held,))
    assert refusal(connector, profile, make_invoice("INV-7")).duplicate


def test_a_rejected_number_may_be_used_again(network: Network, connector: AribaConnector) -> None:
    held = ExistingInvoice(buyer="acme", supplier=SUPPLIER_ANID, number="INV-7", status_type="rejected")
    sandbox, profile = network(existing=(held,))
    send(connector, profile, make_invoice("INV-7"))
    assert [i.number for i in sandbox.invoices] == ["INV-7", "INV-7"]


@pytest.mark.parametrize(
    ("invoice", "buyer", "code", "category", "words"),
    [
        (
            {"po": "PO-OLD-1"},
            {},
            "INV-13",
            RejectionCategory.PO,
            "INV-13: Order PO-OLD-1 is obsolete or a duplicate",
        ),
        (
            {"po": "PO-999999"},
            {},
            "INV-15",
            RejectionCategory.PO,
            "INV-15: ACME Manufacturing does not accept invoices for orders sent outside the Ariba Network",
        ),
        (
            {"supplier": Supplier(**{**SUPPLIER.model_dump(), "tax_id": None})},
            {"require_tax_id": True},
            "INV-98",
            RejectionCategory.TAX,
            "INV-98: Tax ID is required.",
        ),
        (
            {"po": None},
            {},
            "INV-143",
            RejectionCategory.PO,
            "INV-143: Cannot create a non-PO invoice with pricing details.",
        ),
        (
            {"invoice_date": (T0 - timedelta(days=5)).date()},
            {"max_backdate_days": 2, "backdate_code": "ACME-DATE-2"},
            "ACME-DATE-2",  # the buyer's own code: unknown to us, kept verbatim
            RejectionCategory.DATES,
            "ACME-DATE-2: The invoice can only be back-dated by 2 calendar days",
        ),
    ],
    ids=["INV-13", "INV-15", "INV-98", "INV-143", "buyer-code"],
)
def test_coded_rejections_reach_the_hub_verbatim(
    network: Network,
    connector: AribaConnector,
    invoice: dict[str, Any],
    buyer: dict[str, Any],
    code: str,
    category: RejectionCategory,
    words: str,
) -> None:
    sandbox, profile = network(**buyer)

    error = refusal(connector, profile, make_invoice("INV-1", **invoice))

    assert (error.portal_code, error.category, error.duplicate) == (code, category, False)
    assert words in (error.portal_text or "") and words in str(error)
    assert sandbox.invoices == []


def test_the_same_invoices_pass_where_the_buyer_allows_them(
    network: Network, connector: AribaConnector
) -> None:
    sandbox, profile = network(accept_non_po=True, max_backdate_days=30, require_tax_id=True)
    send(connector, profile, make_invoice("INV-1", po=None))
    send(connector, profile, make_invoice("INV-2", invoice_date=(T0 - timedelta(days=5)).date()))
    assert [i.number for i in sandbox.invoices] == ["INV-1", "INV-2"]


def test_attachments_travel_in_a_multipart_envelope(network: Network, connector: AribaConnector) -> None:
    sandbox, profile = network()
    pdf = Attachment(filename="INV-1.pdf", content_type="application/pdf", content=b"%PDF-1.4 test")
    send(connector, profile, make_invoice("INV-1", attachments=[pdf]))
    assert sandbox.invoices[0].attachments == 1


def test_a_cancel_voids_the_invoice_and_frees_the_number(network: Network, connector: AribaConnector) -> None:
    sandbox, profile = network()
    sent = render(connector, profile, make_invoice("INV-1"))
    connector.submit(sent, profile)
    cancel = make_invoice(
        "INV-1-CXL",
        purpose=InvoicePurpose.CANCEL,
        original_invoice_number="INV-1",
        original_invoice_date=T0.date(),
    )
    envelope = dataclasses.replace(
        ariba_envelope("INV-1"), payload_id="cxl.1@portalhub.test", original_payload_id=sent.payload_id
    )

    connector.submit(connector.render(cancel, profile, envelope), profile)

    assert sandbox.invoices[0].status_at(sandbox.clock.now()).type == "canceled"
    send(connector, profile, make_invoice("INV-1"))
    assert len(sandbox.invoices) == 2
