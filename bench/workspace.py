"""A hub built in this process on a reliability-harness workspace (tests/reliability/harness.py), for
the benchmarks that seed or drive the hub directly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.config import load_config
from hub.runtime import Hub, build_hub
from tests.reliability.harness import Scenario


@contextmanager
def hub_in(scenario: Scenario) -> Iterator[Hub]:
    """The scenario's hub (its config names files relative to the workspace, hence the chdir)."""
    here = Path.cwd()
    os.chdir(scenario.root)
    hub = build_hub(load_config(scenario.config))
    try:
        yield hub
    finally:
        hub.close()
        os.chdir(here)
