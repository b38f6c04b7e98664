"""What each `connection:` key of the built-in connectors means, with an example: the descriptions the
editor schema shows (`portalhub rules schema`) where a connector's settings model gives none.

A connector's own `Field(description=..., examples=...)` always wins; this glossary covers the
built-ins so that every key of a rules file is explained. Keys are named alike across connectors on
purpose (`timezone`, `page_size`), so one entry serves all of them.
"""

from __future__ import annotations

from typing import Any

GLOSSARY: dict[str, tuple[str, Any]] = {
    # cXML (Coupa, Ariba)
    "invoice_url": (
        "Where invoices are posted (the portal's cXML endpoint).",
        "https://acme.coupahost.com/cxml/invoices",
    ),
    "from": (
        "The supplier's credential in the cXML header (From).",
        {"domain": "DUNS", "identity": "123456789"},
    ),
    "to": ("The buyer's credential in the cXML header (To).", {"domain": "DUNS", "identity": "987654321"}),
    "sender": (
        "The Sender credential; the From credential when absent.",
        {"domain": "NetworkID", "identity": "AN01000000001"},
    ),
    "shared_secret": ("The cXML shared secret, by reference only.", "secret:acme_coupa_shared_secret"),
    "domain": ("The credential's domain (DUNS, NetworkID, ...).", "DUNS"),
    "identity": ("The credential's identity in that domain.", "123456789"),
    "user_agent": ("The UserAgent the documents announce.", "portalhub"),
    "deployment_mode": ("production, or test for the portal's test account.", "production"),
    "timezone": ("The supplier's IANA time zone: invoice dates are midnight there.", "America/Chicago"),
    "timeout_seconds": ("How long one request may take.", 60),
    "status_mode": ("How invoice statuses arrive: pushed by the network, polled, or both.", "push"),
    "inbound": (
        "The credential the network pushes status updates with.",
        {"sender": {"domain": "NetworkID", "identity": "AN01000000002"}},
    ),
    "listing": (
        "The network's invoice status listing (for status_mode poll or both).",
        {"url": "https://listing.example/invoices", "api_key": "secret:ariba_listing_key"},
    ),
    "url": ("The address of the listing.", "https://listing.example/invoices"),
    "api_key": ("The listing's API key, by reference only.", "secret:ariba_listing_key"),
    "page_size": ("How many invoices one page of a listing asks for.", 50),
    # Coupa API
    "api": (
        "The Coupa Supplier Portal API, for statuses and reconciliation (without it: submit only).",
        {
            "invoices_url": "https://acme.coupahost.com/api/v1/invoices",
            "token_url": "https://acme.coupahost.com/oauth2/token",
            "client_id": "portalhub",
            "client_secret": "secret:coupa_api_client_secret",
        },
    ),
    "invoices_url": ("The API's invoice listing.", "https://acme.coupahost.com/api/v1/invoices"),
    "token_url": (
        "The OAuth 2.0 token endpoint (client credentials).",
        "https://acme.coupahost.com/oauth2/token",
    ),
    "client_id": ("The OAuth 2.0 client id.", "portalhub"),
    "client_secret": ("The OAuth 2.0 client secret, by reference only.", "secret:coupa_api_client_secret"),
    "scope": ("The OAuth 2.0 scope asked for.", "core.invoice.read"),
    "overlap_seconds": ("Polls re-read this many seconds before the last change seen.", 60),
    "filters": ("Extra query parameters of the invoice listing.", {"customer[name]": "ACME Manufacturing"}),
    # OpenInvoice
    "transport": ("rest (mutual TLS and a MAC) or soap (WSDL, WS-Security).", "rest"),
    "seller": ("The supplier's PartnerIdentifier.", {"identifier": "123456789"}),
    "buyer": ("The buyer's PartnerIdentifier: OpenInvoice routes on it.", {"identifier": "611222333"}),
    "identifier": ("The partner identifier.", "123456789"),
    "indicator": ("What kind of identifier it is.", "DUNSNumber"),
    "rest": (
        "The REST transport's settings.",
        {
            "base_url": "https://api.openinvoice.example",
            "client_cert_file": "tls/client.pem",
            "client_key_file": "tls/client.key",
            "mac_key": "secret:acme_oi_mac_key",
        },
    ),
    "soap": (
        "The SOAP transport's settings.",
        {
            "wsdl": "https://portal.example/InvoiceService?wsdl",
            "username": "acme",
            "password": "secret:acme_oi_password",
        },
    ),
    "base_url": ("The service's base address.", "https://api.openinvoice.example"),
    "submit_path": ("The path invoices are submitted to.", "/docp/supply-chain/v1/invoices/invoice.submit"),
    "invoices_path": ("The path of the invoice listing.", "/docp/supply-chain/v1/invoices"),
    "client_cert_file": ("The client certificate (PEM), relative to the rules file.", "tls/client.pem"),
    "client_key_file": ("The client certificate's key (PEM), relative to the rules file.", "tls/client.key"),
    "client_key_passphrase": ("The key's passphrase, by reference only.", "secret:acme_oi_key_passphrase"),
    "ca_file": ("The portal's CA certificate; the system's trust store when absent.", "tls/portal-ca.pem"),
    "mac_key": ("The HMAC-SHA256 key of the mac header, by reference only.", "secret:acme_oi_mac_key"),
    "wsdl": ("The service's WSDL: a URL or a file.", "https://portal.example/InvoiceService?wsdl"),
    "service_url": ("Overrides the address the WSDL gives.", "https://portal.example/InvoiceService"),
    "username": ("The user name to sign in with.", "acme-ar"),
    "password": ("The password, by reference only.", "secret:acme_portal_password"),
    # web portals
    "recipe": (
        "The recipe file (pages, fields, buttons), relative to the rules file.",
        "recipes/northwind.yaml",
    ),
    "totp_seed": (
        "The base32 TOTP seed shown when MFA was set up, by reference only.",
        "secret:northwind_totp_seed",
    ),
    "pdf": ("Whether the invoice PDF is uploaded with the form.", "required"),
    "step_timeout_seconds": ("How long one element may take to appear.", 15),
    "navigation_timeout_seconds": ("How long one page may take to load.", 30),
    "task_timeout_seconds": ("How long one whole submit, poll or lookup may take.", 300),
    "lease_wait_seconds": ("How long to wait while another daemon's browser works in this portal.", 60),
    "max_pages": ("How many pages of the invoice list one poll reads.", 50),
    "browser": ("The browser to drive.", {"executable": "/usr/bin/chromium"}),
    "executable": ("The browser program.", "/usr/bin/chromium"),
    "extra_args": ("Extra command-line arguments for the browser.", ["--lang=en-US"]),
}
