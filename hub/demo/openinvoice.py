"""The demo's OpenInvoice sandbox: Llano Estacado Oil & Gas over SOAP, Caprock Midstream over REST.

The REST face needs mutual TLS, so the demo makes a throwaway certificate authority in its workspace
(`openinvoice-tls/`): a server certificate for the sandbox and a client certificate for the hub, whose
key is encrypted with a passphrase from the demo's secrets file. Nothing of it outlives the workspace.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.openinvoice import OpenInvoiceSandbox, load_config
from connectors.sandbox.openinvoice.certs import TestCertificateAuthority, server_context

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
#: Where the REST sandbox's address belongs in the rules files (the SOAP one is `placeholder`).
REST_PLACEHOLDER = "https://openinvoice-rest.invalid"
TLS_FOLDER = "openinvoice-tls"
CLIENT_CN = "bluebonnet-industrial"  # the supplier account's certificate name in openinvoice_buyers.yaml


class OpenInvoiceDemoPortal:
    name: str = "openinvoice"
    secret_names: tuple[str, ...] = (
        "openinvoice_soap_password",
        "openinvoice_mac_key",
        "openinvoice_key_passphrase",
    )
    placeholder: str = "http://openinvoice-sandbox.invalid"
    faults: bool = True

    def __init__(self) -> None:
        self.sandbox: OpenInvoiceSandbox | None = None
        self.workspace: Path | None = None
        self.rest_url = ""

    def start(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> str:
        self.workspace = workspace
        tls = workspace / TLS_FOLDER
        authority = TestCertificateAuthority("portalhub demo OpenInvoice CA")
        authority.write_cert(tls / "ca.pem")
        authority.issue_client(CLIENT_CN).write(
            tls / "client.pem", tls / "client.key", passphrase=secrets["openinvoice_key_passphrase"]
        )
        self.sandbox = OpenInvoiceSandbox(
            load_config(FIXTURES / "demo" / "openinvoice_buyers.yaml", secrets), SandboxClock()
        )
        context = server_context(authority.issue_server(), tls / "ca.pem", tls)
        self.rest_url = self.sandbox.serve_rest(context).url
        return self.sandbox.serve_soap().url

    def configure(self, config: dict[str, Any]) -> None:
        # The workspace substitutes one address per portal (`placeholder`, the SOAP face); the REST face
        # has a second one, put in the rules files here, before the hub loads them.
        assert self.workspace is not None
        rules_dir = self.workspace / str(config.get("rules_dir", "rules.d"))
        for path in sorted(rules_dir.glob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            if REST_PLACEHOLDER in text:
                path.write_text(text.replace(REST_PLACEHOLDER, self.rest_url), encoding="utf-8")

    def advance(self, hours: float) -> None:
        assert self.sandbox is not None
        self.sandbox.clock.advance(hours=hours)

    def correct(self, ar_path: Path) -> list[str]:
        ar = sqlite3.connect(ar_path)
        with ar:
            # INV-30009: Caprock refused it without a field ticket; the collector found the ticket.
            ar.execute(
                "UPDATE ar_invoice_lines SET field_ticket = 'FT-9120' "
                "WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-30009')"
            )
        ar.close()
        return ["INV-30009"]

    def sent_numbers(self) -> list[tuple[str, str]]:
        assert self.sandbox is not None
        return [(i.buyer, i.number) for i in self.sandbox.invoices if i.transport]

    def faults_injected(self) -> dict[str, int]:
        return {}  # the network faults of the demo are the Coupa sandbox's

    def stop(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
