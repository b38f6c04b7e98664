"""Throwaway certificate authorities for the OpenInvoice REST sandbox (mutual TLS on 127.0.0.1).

The tests and the demo make their own CA at run time, issue the sandbox a server certificate and the
hub a client certificate, and throw all of it away afterwards: no key material is ever checked in.
Elliptic-curve keys (P-256) keep generation in the milliseconds.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Certificates are valid from a little before now (clock skew) for this long: enough for any test run.
VALIDITY = timedelta(days=30)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, PEM-encoded (the key unencrypted: see `write`)."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)

    def write(self, cert_path: Path, key_path: Path, passphrase: str | None = None) -> None:
        """Write both files; the key is encrypted with `passphrase` when one is given, readable by the
        owner only either way."""
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(self.cert_pem)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase
            else serialization.NoEncryption()
        )
        key_path.touch(mode=0o600, exist_ok=True)
        key_path.chmod(0o600)
        key_path.write_bytes(
            self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "portalhub sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class TestCertificateAuthority:
    """A CA that issues server and client certificates; `name` tells two of them apart."""

    __test__ = False  # a helper, not a pytest test class

    def __init__(self, name: str = "portalhub sandbox test CA"):
        self.name = name
        self._key = _key()
        now = datetime.now(UTC)
        self._subject = _name(name)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self._subject)
            .issuer_name(self._subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write_cert(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.cert_pem)
        return path

    def _issue(self, common_name: str, usage: x509.ObjectIdentifier, hosts: tuple[str, ...] = ()) -> Issued:
        key = _key()
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem(key), key)

    def issue_server(self, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Issued:
        """A TLS server certificate for the sandbox on these hosts."""
        return self._issue(hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, hosts)

    def issue_client(self, common_name: str) -> Issued:
        """A TLS client certificate; the sandbox knows the supplier by `common_name`."""
        return self._issue(common_name, ExtendedKeyUsageOID.CLIENT_AUTH)


def server_context(server: Issued, client_ca: Path, folder: Path) -> ssl.SSLContext:
    """A server-side context that demands a client certificate issued by the CA in `client_ca`.

    The server's own certificate and key are written to `folder` (the ssl module loads files only)."""
    cert_file, key_file = folder / "sandbox-server.pem", folder / "sandbox-server.key"
    server.write(cert_file, key_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.load_verify_locations(cafile=str(client_ca))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_common_name(certificate: dict[str, object] | None) -> str | None:
    """The CN of a peer certificate as `ssl.SSLSocket.getpeercert()` returns it."""
    if not certificate:
        return None
    for rdn in certificate.get("subject", ()):  # type: ignore[attr-defined]
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
