"""Every sandbox family behind one shape (connectors/sandbox/facade.py), found through the
`portalhub.sandboxes` entry points: started and stopped the same way, its ready profile accepted by the
family's connector and good for a real submission, what it received and the faults it injected counted
the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import httpx
import pytest

from connectors.base import Connector, ConnectorContext, Envelope
from connectors.sandbox.ariba import SandboxPortal as AribaPortal
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import SandboxPortal as CoupaPortal
from connectors.sandbox.facade import HeldInvoice, SandboxPortal
from connectors.sandbox.openinvoice import SandboxPortal as OpenInvoicePortal
from hub.demo.registry import GROUP, SandboxRegistry
from hub.errors import ConfigError, InDoubtError
from hub.model import Invoice
from hub.registry import ConnectorRegistry
from rules.loader import load_profile
from tests.connectors.ariba_support import ariba_config
from tests.connectors.contract.registry import HARNESSES
from tests.connectors.openinvoice_support import oil_invoice
from tests.connectors.openinvoice_support import sandbox_config as openinvoice_config
from tests.connectors.support import DictSecrets
from tests.factories import T0, buyer_config, make_invoice

BUILT_IN = {"coupa", "ariba", "openinvoice", "webportal", "supplierportal"}


def test_every_built_in_family_registers_its_facade() -> None:
    registry = SandboxRegistry()
    assert set(registry.names) >= BUILT_IN
    for family in registry.names:
        cls = registry.get(family)
        assert issubclass(cls, SandboxPortal) and cls.family == family


def test_every_installed_sandbox_is_played_by_a_contract_harness() -> None:
    played = {factory.family for factory in HARNESSES.values()}  # type: ignore[attr-defined]
    assert set(SandboxRegistry().names) <= played


def test_a_family_registered_twice_or_missing_stops_with_a_config_error() -> None:
    twice = [
        EntryPoint("coupa", "connectors.sandbox.coupa:SandboxPortal", GROUP),
        EntryPoint("coupa", "someone.else:SandboxPortal", GROUP),
    ]
    with pytest.raises(ConfigError, match="registered twice"):
        SandboxRegistry(twice)
    wrong = [EntryPoint("ariba", "connectors.sandbox.coupa:SandboxPortal", GROUP)]
    with pytest.raises(ConfigError, match="whose family is 'coupa'"):
        SandboxRegistry(wrong).get("ariba")
    with pytest.raises(ConfigError, match="no sandbox named 'nowhere'"):
        SandboxRegistry().get("nowhere")


#: family -> (the portal with a test configuration, its ready profile's options, an invoice it accepts)
Case = tuple[Callable[[Path], SandboxPortal], dict[str, str], Callable[[str], Invoice]]
CASES: dict[str, Case] = {
    "coupa": (lambda _: CoupaPortal(buyer_config(), clock=SandboxClock(start=T0)), {}, make_invoice),
    "ariba": (lambda _: AribaPortal(ariba_config(), clock=SandboxClock(start=T0)), {}, make_invoice),
    "openinvoice-soap": (
        lambda folder: OpenInvoicePortal(openinvoice_config(), clock=SandboxClock(start=T0), tls_dir=folder),
        {"transport": "soap"},
        oil_invoice,
    ),
    "openinvoice-rest": (
        lambda folder: OpenInvoicePortal(
            openinvoice_config(), clock=SandboxClock(start=T0), tls_dir=folder, key_passphrase="pass-1234"
        ),
        {"transport": "rest"},
        oil_invoice,
    ),
}


@pytest.fixture(params=sorted(CASES))
def started(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SandboxPortal, Connector, Case]]:
    case = CASES[request.param]
    with case[0](tmp_path / "tls") as portal, httpx.Client(timeout=httpx.Timeout(2.0)) as http:
        ready = portal.profile(**case[1])
        path = ready.write(tmp_path / "rules.d")
        profile = load_profile(path, ConnectorRegistry().check_connection)
        secrets = DictSecrets({f"secret:{name}": value for name, value in ready.secrets.items()})
        cls = ConnectorRegistry().get(profile.connector)
        connector = cls(ConnectorContext(http=http, secrets=secrets, now=lambda: T0, sleep=lambda _: None))
        yield portal, connector, case
        getattr(connector, "close", lambda: None)()  # OpenInvoice's holds its SOAP client


def _submit(portal: SandboxPortal, connector: Connector, invoice: Invoice, tmp_path: Path) -> None:
    profile = load_profile(next((tmp_path / "rules.d").glob("*.yaml")), ConnectorRegistry().check_connection)
    envelope = Envelope(f"{invoice.invoice_number}.1@portalhub.test", T0, invoice.invoice_number)
    connector.submit(connector.render(invoice, profile, envelope), profile)


def test_the_ready_profile_sends_to_the_portal_and_the_portal_says_what_it_received(
    started: tuple[SandboxPortal, Connector, Case], tmp_path: Path
) -> None:
    portal, connector, case = started
    assert portal.url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")) and portal.received() == []
    _submit(portal, connector, case[2]("FAC-1"), tmp_path)
    [held] = portal.received()
    assert isinstance(held, HeldInvoice) and held.number == "FAC-1"


def test_an_injected_fault_meets_the_next_submission_and_is_counted(
    started: tuple[SandboxPortal, Connector, Case], tmp_path: Path
) -> None:
    portal, connector, case = started
    transport = case[1].get("transport")
    portal.inject("drop_after", path_prefix=None if transport != "rest" else "/docp/")
    with pytest.raises(InDoubtError):
        _submit(portal, connector, case[2]("FAC-2"), tmp_path)
    assert portal.faults_injected() == {"drop_after": 1}
    assert [h.number for h in portal.received()] == ["FAC-2"]  # processed, the answer lost


def test_a_stopped_portal_refuses_connections(started: tuple[SandboxPortal, Connector, Case]) -> None:
    portal, _, _ = started
    url = portal.url
    portal.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url.replace("https://", "http://"), timeout=2)


def test_the_clock_moves_for_every_family(started: tuple[SandboxPortal, Connector, Case]) -> None:
    portal, _, _ = started
    before = portal.clock.now()
    portal.advance(24)
    assert (portal.clock.now() - before).total_seconds() == 24 * 3600
