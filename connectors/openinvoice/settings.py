"""The `connection:` block of an OpenInvoice profile: routing identities, and one of two transports.

```yaml
connection:
  transport: rest                      # or soap
  seller: {identifier: "123456789"}    # PartnerIdentifier of the supplier (DUNSNumber unless told)
  buyer: {identifier: "611222333"}     # PartnerIdentifier of the buyer: OpenInvoice routes on it
  timezone: America/Chicago
  rest:
    base_url: https://api.openinvoice.example
    client_cert_file: tls/client.pem   # relative paths: relative to the rules file
    client_key_file: tls/client.key    # encrypted with the passphrase below
    client_key_passphrase: secret:acme_oi_key_passphrase
    ca_file: tls/portal-ca.pem         # the portal's CA; the system's trust store when absent
    mac_key: secret:acme_oi_mac_key
  soap:
    wsdl: https://portal.example/InvoiceService?wsdl   # or a local file
    username: bluebonnet
    password: secret:acme_oi_password
```
Secrets are references only (the rules loader refuses anything else under a secret-named key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from connectors.settings import COMMON_HELP, OverlapSeconds, TimeZoneName
from hub.profile import PortalProfile, Strict
from hub.secrets import SecretRef


class PartySettings(Strict):
    identifier: str = Field(min_length=1)
    indicator: str = "DUNSNumber"


class RestSettings(Strict):
    """HTTPS with a client certificate (mutual TLS) and an HMAC-SHA256 `mac` header over the body."""

    base_url: str = Field(pattern=r"^https://")
    submit_path: str = "/docp/supply-chain/v1/invoices/invoice.submit"
    invoices_path: str = "/docp/supply-chain/v1/invoices"
    client_cert_file: str = Field(min_length=1)
    client_key_file: str = Field(min_length=1)
    client_key_passphrase: SecretRef | None = None
    ca_file: str | None = None
    mac_key: SecretRef
    page_size: int = Field(default=100, ge=1, le=1000)

    def url(self, path: str) -> str:
        """`base_url` joined with one of the paths."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


class SoapSettings(Strict):
    """A WSDL-described SOAP service, called through zeep, WS-Security UsernameToken (digest)."""

    wsdl: str = Field(min_length=1)  # http(s) URL or a file path
    service_url: str | None = Field(default=None, pattern=r"^https?://")  # overrides the WSDL's address
    username: str = Field(min_length=1)
    password: SecretRef
    page_size: int = Field(default=100, ge=1, le=1000)


class OpenInvoiceConnection(Strict):
    transport: Literal["soap", "rest"]
    seller: PartySettings
    buyer: PartySettings
    rest: RestSettings | None = None
    soap: SoapSettings | None = None
    timezone: TimeZoneName = "UTC"  # the supplier's zone: invoice dates are midnight there
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    overlap_seconds: OverlapSeconds = 60

    @model_validator(mode="after")
    def _transport_configured(self) -> OpenInvoiceConnection:
        if getattr(self, self.transport) is None:
            raise ValueError(
                f"transport is {self.transport!r}, so the `{self.transport}:` section is required"
            )
        return self


def profile_folder(profile: PortalProfile) -> Path | None:
    """The folder of the profile's own rules file: relative file names in its connection start there."""
    return Path(profile.sources[0]).parent if profile.sources else None


def local_path(name: str, folder: Path | None) -> Path:
    """A file named in a profile, made absolute against the rules file's folder."""
    path = Path(name).expanduser()
    return path if path.is_absolute() or folder is None else folder / path


def is_url(location: str) -> bool:
    """An http(s) URL, as opposed to a file path."""
    return urlsplit(location).scheme in ("http", "https")


#: What the OpenInvoice keys mean, with an example (`Connector.connection_help`).
CONNECTION_HELP: dict[str, tuple[str, Any]] = {
    **COMMON_HELP,
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
}
