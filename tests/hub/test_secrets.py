"""Secrets come from the environment or a secrets file and are masked in logs and stored documents."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.secrets import REDACTOR, RedactingFilter, SecretsResolver


def test_references_resolve_from_env_file_and_secrets_file(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("acme: from-the-secrets-file\n")
    (tmp_path / "token").write_text("from-a-file\n")
    resolver = SecretsResolver(tmp_path / "s.yaml", environ={"ACME_SECRET": "from-the-environment"})
    assert resolver.resolve("env:ACME_SECRET") == "from-the-environment"
    assert resolver.resolve("file:" + str(tmp_path / "token")) == "from-a-file"
    assert resolver.resolve("secret:acme") == "from-the-secrets-file"


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("env:MISSING", "environment variable MISSING is not set"),
        ("secret:nope", "secret 'nope' is not in the secrets file"),
        ("vault:x", "is not a secret reference"),
    ],
)
def test_missing_secrets_say_what_to_fix(tmp_path: Path, reference: str, message: str) -> None:
    (tmp_path / "s.yaml").write_text("acme: x\n")
    with pytest.raises(ConfigError, match=message):
        SecretsResolver(tmp_path / "s.yaml", environ={}).resolve(reference)


def test_resolved_secrets_are_masked_in_every_log_record(caplog: pytest.LogCaptureFixture) -> None:
    SecretsResolver(environ={"S": "hunter2-very-secret"}).resolve("env:S")
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(RedactingFilter())
    logger.warning(
        "portal refused %s with body <SharedSecret>%s</SharedSecret>", "hunter2-very-secret", "other"
    )
    assert "hunter2-very-secret" not in caplog.text
    assert "<SharedSecret>********</SharedSecret>" in caplog.text
    assert REDACTOR("x hunter2-very-secret y") == "x ******** y"
