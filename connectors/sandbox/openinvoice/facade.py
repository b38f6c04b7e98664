"""The OpenInvoice sandbox behind the shape every family shares (connectors/sandbox/facade.py): one
portal, two faces (SOAP over plain HTTP, REST over mutual TLS), one set of invoices and one clock.

The REST face needs certificates, so the portal makes a throwaway certificate authority when it is
given a folder for the hub's side of them: `ca.pem`, and a client certificate (`client.pem`,
`client.key`, encrypted with `key_passphrase`) for the supplier account's certificate name."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from connectors.sandbox import facade
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.openinvoice.certs import TestCertificateAuthority, server_context
from connectors.sandbox.openinvoice.config import OpenInvoiceSandboxConfig
from connectors.sandbox.openinvoice.sandbox import OpenInvoiceSandbox
from connectors.sandbox.openinvoice.soap import SOAP_PATH
from connectors.sandbox.server import FaultPlan, SandboxServer


@dataclass
class Certificates:
    """A CA made here and now, the REST face's server context, and the hub's client files in `folder`."""

    folder: Path
    client_cn: str
    passphrase: str | None = None
    ca: TestCertificateAuthority = field(default_factory=TestCertificateAuthority)

    def __post_init__(self) -> None:
        self.ca.write_cert(self.folder / "ca.pem")
        self.ca.issue_client(self.client_cn).write(
            self.folder / "client.pem", self.folder / "client.key", passphrase=self.passphrase
        )
        self.server: ssl.SSLContext = server_context(
            self.ca.issue_server(), self.folder / "ca.pem", self.folder
        )


class SandboxPortal(facade.SandboxPortal):
    family = "openinvoice"
    config_model = OpenInvoiceSandboxConfig

    def __init__(
        self,
        config: OpenInvoiceSandboxConfig,
        *,
        clock: SandboxClock | None = None,
        faults: FaultPlan | None = None,
        latency: float = 0.0,
        tls_dir: Path | None = None,
        key_passphrase: str | None = None,
    ):
        """`tls_dir`: where the hub's certificate files go; without it the REST face is not served."""
        super().__init__(config, clock=clock, faults=faults, latency=latency)
        self.sandbox = OpenInvoiceSandbox(config, self.clock)
        self.certificates = (
            Certificates(tls_dir, config.suppliers[0].client_cn, key_passphrase) if tls_dir else None
        )

    def start(self, port: int = 0) -> Self:
        self.sandbox.serve_soap(port, faults=self.faults, latency=self.latency)
        if self.certificates is not None:
            self.sandbox.serve_rest(self.certificates.server, faults=self.faults)
        return self

    @property
    def servers(self) -> list[SandboxServer]:
        return [s for s in (self.sandbox.soap_server, self.sandbox.rest_server) if s is not None]

    @property
    def urls(self) -> dict[str, str]:
        faces = {"soap": self.sandbox.soap_server, "rest": self.sandbox.rest_server}
        return {name: server.url for name, server in faces.items() if server is not None}

    def received(self) -> list[facade.HeldInvoice]:
        # A pre-held invoice came by no transport.
        return [facade.HeldInvoice(i.buyer, i.number) for i in list(self.sandbox.invoices) if i.transport]

    def submit_path(self) -> str:
        """SOAP's; REST submissions arrive at `SUBMIT_PATH`."""
        return SOAP_PATH

    def profile(
        self,
        buyer: str | None = None,
        *,
        customers: tuple[str, ...] = ("C-1",),
        transport: str = "soap",
        **connection: Any,
    ) -> facade.ReadyProfile:
        """A profile for `transport` ("soap", or "rest" when the REST face is served), as the supplier
        account the portal knows first."""
        config = self.sandbox.portal.config
        chosen = next(b for b in config.buyers if buyer in (None, b.id))
        account = config.suppliers[0]
        block: dict[str, Any] = {
            "transport": transport,
            "seller": {"identifier": account.id},
            "buyer": {"identifier": chosen.id},
            "soap": {
                "wsdl": f"{self.urls['soap']}{SOAP_PATH}?wsdl",
                "username": account.soap_username,
                "password": "secret:openinvoice_soap_password",
            },
        }
        secrets = {"openinvoice_soap_password": account.soap_password}
        tls = self.certificates
        if tls is not None and "rest" in self.urls:
            block["rest"] = {
                "base_url": self.urls["rest"],
                "client_cert_file": str(tls.folder / "client.pem"),
                "client_key_file": str(tls.folder / "client.key"),
                "ca_file": str(tls.folder / "ca.pem"),
                "mac_key": "secret:openinvoice_mac_key",
            }
            secrets["openinvoice_mac_key"] = account.mac_key
            if tls.passphrase is not None:
                block["rest"]["client_key_passphrase"] = "secret:openinvoice_key_passphrase"
                secrets["openinvoice_key_passphrase"] = tls.passphrase
        block.update(connection)
        profile_id = f"{chosen.id}-openinvoice-{transport}"
        # The baseline is the document standard's.
        spec = facade.rules_file(
            profile_id, chosen.name, "openinvoice", block, list(customers), ["pidx-baseline"]
        )
        return facade.ReadyProfile(spec, secrets)
