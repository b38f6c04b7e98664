"""Secrets come from the environment or a secrets file, never from a rules file, and never leave in
clear: every value resolved here is registered with the redactor that masks logs and stored documents.

References: `env:NAME` (environment variable), `file:/path` (whole file, stripped), `secret:name`
(a key of the YAML secrets file named in the hub config).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from hub.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import AfterValidator

#: What AR adapters and connectors outside this repository may import (docs/public-api.md): a settings
#: field that takes a secret reference, the resolver they are handed, and masking. The rest (the concrete
#: resolver, the log filter, the rules files' secret checks) serves the hub itself.
__all__ = ["MASK", "REDACTOR", "SecretRef", "SecretResolver", "redact"]

#: A reference to a secret: the only form a secret may take in a rules file or configuration.
SECRET_REFERENCE = re.compile(r"^(env|file|secret):\S+$")
#: Keys that hold secrets (the key ends with one of these words, e.g. shared_secret, client_secret,
#: access_token, totp_seed); their values must be references, never the secret itself.
SECRET_KEY = re.compile(
    r"(^|_)(secret|password|passphrase|totp|seed|private_key|client_key|api_key|token|mac_key)$", re.I
)


def _secret_reference(value: str) -> str:
    if not SECRET_REFERENCE.match(value):
        raise ValueError("must reference a secret (env:NAME, file:/path or secret:name), never hold it")
    return value


if TYPE_CHECKING:
    #: A settings field that holds a secret reference (`env:NAME`, `file:/path`, `secret:name`).
    SecretRef = Annotated[str, AfterValidator(_secret_reference)]


def __getattr__(name: str) -> Any:
    """`SecretRef`, built at its first import: it needs pydantic (~60 ms to import), which every command
    would otherwise load with the log set-up (hub/logs.py imports the redactor from here), read-only
    commands included."""
    if name == "SecretRef":
        from pydantic import AfterValidator

        secret_ref = Annotated[str, AfterValidator(_secret_reference)]
        globals()["SecretRef"] = secret_ref  # built once
        return secret_ref
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def literal_secrets(value: Any, location: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(location, value) of every secret-named key whose value is not a secret reference."""
    found: list[tuple[tuple[str, ...], Any]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            here = (*location, str(key))
            if SECRET_KEY.search(str(key)) and not isinstance(inner, dict):
                if not (isinstance(inner, str) and SECRET_REFERENCE.match(inner)):
                    found.append((here, inner))
            else:
                found.extend(literal_secrets(inner, here))
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            found.extend(literal_secrets(inner, (*location, str(position))))
    return found


def secret_message(location: tuple[str, ...]) -> str:
    return (
        f"connection.{'.'.join(location)} holds a secret; a rules file may only reference it, e.g. "
        "'env:ACME_COUPA_SECRET' (environment) or 'secret:acme_coupa' (the secrets file)"
    )


class SecretResolver(Protocol):
    """Turns a secret reference into its value (and registers the value with the redactor)."""

    def resolve(self, reference: str) -> str: ...


_SHARED_SECRET = re.compile(r"(<SharedSecret>)(.*?)(</SharedSecret>)", re.DOTALL)
MASK = "********"


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Mask known secret values and every cXML SharedSecret, whatever its value."""
    text = _SHARED_SECRET.sub(rf"\1{MASK}\3", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


class Redactor:
    """Knows every secret value the process has resolved, and masks them in any text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if value and len(value) >= 4:  # masking 1-3 characters would mangle ordinary text
            with self._lock:
                self._values.add(value)

    def __call__(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        return redact(text, values)


#: One per process: a secret resolved anywhere is masked everywhere.
REDACTOR = Redactor()


class SecretsResolver:
    def __init__(self, secrets_file: Path | None = None, environ: Mapping[str, str] | None = None):
        self._environ = environ if environ is not None else os.environ
        self._file = secrets_file
        self._file_values: dict[str, str] | None = None

    def _from_file(self) -> dict[str, str]:
        if self._file_values is None:
            if self._file is None:
                raise ConfigError("a `secret:` reference needs `secrets_file:` in the hub config")
            try:
                import yaml  # here: a read-only command that needs no secret does not load it

                data = yaml.safe_load(self._file.read_text(encoding="utf-8")) or {}
            except OSError as exc:
                raise ConfigError(f"cannot read the secrets file {self._file}: {exc.strerror}") from exc
            if not isinstance(data, dict):
                raise ConfigError(f"the secrets file {self._file} must be a YAML mapping of name: value")
            self._file_values = {str(k): str(v) for k, v in data.items()}
        return self._file_values

    def resolve(self, reference: str) -> str:
        kind, _, name = reference.partition(":")
        if kind == "env":
            value = self._environ.get(name)
            if value is None:
                raise ConfigError(f"environment variable {name} is not set (referenced as {reference})")
        elif kind == "file":
            try:
                value = Path(name).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read secret file {name}: {exc.strerror}") from exc
        elif kind == "secret":
            value = self._from_file().get(name)
            if value is None:
                raise ConfigError(f"secret {name!r} is not in the secrets file {self._file}")
        else:
            raise ConfigError(f"{reference!r} is not a secret reference (env:NAME, file:/path, secret:name)")
        REDACTOR.add(value)
        return value


class RedactingFilter(logging.Filter):
    """Masks resolved secrets in every log record, whatever logger or argument carries them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = REDACTOR(message)
        if masked != message or MASK in masked:
            record.msg, record.args = masked, None
        return True
