"""Hubs built in this process for the benchmarks that seed or drive the hub directly: on a reliability
scenario's workspace (bench/scenario.py), or on ready profiles of sandbox portals."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.scenario import SUPPLIER, Scenario
from connectors.sandbox.facade import ReadyProfile
from hub.clock import Clock
from hub.config import HubConfig, load_config
from hub.runtime import Hub, build_hub


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


def hub_with_profiles(
    root: Path, profiles: Sequence[ReadyProfile], clock: Clock | None = None, **config: Any
) -> Hub:
    """A hub in `root` (SQLite store, no AR system) whose rules files are `profiles`, with their secrets;
    `config` adds to the hub configuration."""
    rules_dir = root / "rules.d"
    for profile in profiles:
        profile.write(rules_dir)
    secrets = root / "secrets.yaml"
    secrets.write_text(
        yaml.safe_dump({k: v for p in profiles for k, v in p.secrets.items()}), encoding="utf-8"
    )
    settings = HubConfig.model_validate(
        {
            "store_url": f"sqlite:///{root / 'hub.db'}",
            "rules_dir": str(rules_dir),
            "secrets_file": str(secrets),
            "supplier": SUPPLIER,
            "ar": {"kind": "sql", "url": "sqlite://"},
            **config,
        }
    )
    return build_hub(settings, clock=clock, http=httpx.Client(timeout=httpx.Timeout(5.0)), ar=_NoAr())


class _NoAr:
    """No AR system: the benchmark seeds the store itself."""

    def pull(self, keys: object = None) -> Iterator[object]:
        yield from ()

    def write(self, events: object) -> None:
        pass
