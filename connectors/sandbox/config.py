"""Sandbox configuration files: YAML in which `secret:name` (as a value or a key) stands for a secret the
demo or a test generated, so the files in fixtures/ carry no secret of their own."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

Config = TypeVar("Config", bound=BaseModel)


def with_secrets(value: Any, secrets: Mapping[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("secret:"):
        return secrets[value.removeprefix("secret:")]
    if isinstance(value, dict):
        return {with_secrets(k, secrets): with_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [with_secrets(v, secrets) for v in value]
    return value


def load_sandbox_config(
    path: Path, secrets: Mapping[str, str], model: type[Config], **overrides: Any
) -> Config:
    data = with_secrets(yaml.safe_load(path.read_text(encoding="utf-8")), secrets)
    data.update(overrides)
    return model.model_validate(data)
