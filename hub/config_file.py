"""Which configuration file a command uses: `--config`, else `PORTALHUB_CONFIG`, else ./portalhub.yaml.
Apart from hub/config.py (the file's models) so that finding it costs no model building."""

from __future__ import annotations

import os
from pathlib import Path

from hub.errors import ConfigError

DEFAULT_CONFIG_NAME = "portalhub.yaml"


def find_config(explicit: Path | None) -> Path:
    candidate = explicit or (
        Path(os.environ["PORTALHUB_CONFIG"]) if os.environ.get("PORTALHUB_CONFIG") else None
    )
    candidate = candidate or Path.cwd() / DEFAULT_CONFIG_NAME
    if not candidate.exists():
        raise ConfigError(
            f"no hub configuration at {candidate}; pass --config FILE, set PORTALHUB_CONFIG, "
            f"or run `portalhub demo` to see a working setup"
        )
    return candidate
