"""The demo's OpenInvoice sandbox: Llano Estacado Oil & Gas over SOAP, Caprock Midstream over REST.

The REST face needs mutual TLS, so the sandbox makes a throwaway certificate authority in the demo's
workspace (`openinvoice-tls/`): a server certificate for itself and a client certificate for the hub,
whose key is encrypted with a passphrase from the demo's secrets file. Nothing of it outlives the
workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.demo.base import DemoPortal

#: Where the REST sandbox's address belongs in the rules files (the SOAP one is `placeholder`).
REST_PLACEHOLDER = "https://openinvoice-rest.invalid"
TLS_FOLDER = "openinvoice-tls"


class OpenInvoiceDemoPortal(DemoPortal):
    name = "openinvoice"
    secret_names = ("openinvoice_soap_password", "openinvoice_mac_key", "openinvoice_key_passphrase")
    placeholder = "http://openinvoice-sandbox.invalid"
    corrections = {
        # Caprock refused it without a field ticket; the collector found the ticket.
        "INV-30009": (
            "UPDATE ar_invoice_lines SET field_ticket = 'FT-9120' "
            "WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-30009')",
        ),
    }

    def options(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> dict[str, Any]:
        return {"tls_dir": workspace / TLS_FOLDER, "key_passphrase": secrets["openinvoice_key_passphrase"]}

    def configure(self, config: dict[str, Any]) -> None:
        # The workspace substitutes one address per portal (`placeholder`, the SOAP face); the REST face
        # has a second one, put in the rules files here, before the hub loads them.
        assert self.workspace is not None and self.portal is not None
        rules_dir = self.workspace / str(config.get("rules_dir", "rules.d"))
        for path in sorted(rules_dir.glob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            if REST_PLACEHOLDER in text:
                path.write_text(text.replace(REST_PLACEHOLDER, self.portal.urls["rest"]), encoding="utf-8")
