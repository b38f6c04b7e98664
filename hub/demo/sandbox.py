"""`portalhub sandbox <family>`: one family's sandbox portal started by hand, in a workspace with a hub
configuration, secrets, demo AR invoices and the family's rules files pointing at it, so that
`portalhub -c DIR/portalhub.yaml run --once` beside it sends invoices to it."""

from __future__ import annotations

import difflib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hub.demo.portals import DEMO_PORTALS
from hub.demo.workspace import DemoWorkspace, prepare
from hub.errors import ConfigError


@dataclass
class SandboxRun:
    family: str
    workspace: DemoWorkspace
    #: Every face's base URL (OpenInvoice has two).
    urls: list[str]
    #: The ready profiles (rules files) that talk to it.
    profiles: list[Path]

    @property
    def config_path(self) -> Path:
        return self.workspace.config_path

    def stop(self) -> None:
        for portal in self.workspace.portals:
            portal.stop()


def families() -> list[str]:
    return [cls.name for cls in DEMO_PORTALS]


def start_sandbox(family: str, directory: Path | None = None) -> SandboxRun:
    """Start `family`'s sandbox (without the demo's injected faults) in `directory` (default: a new
    folder); the caller stops it."""
    known = families()
    if family not in known:
        close = difflib.get_close_matches(family, known, n=1)
        raise ConfigError(
            f"no sandbox {family!r}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; families: {', '.join(known)}"
        )
    root = directory or Path(tempfile.mkdtemp(prefix=f"portalhub-sandbox-{family}-"))
    workspace = prepare(root.resolve(), [family], faults=False)
    workspace.hub.close()  # the sandbox is for the user's own hub runs, not this process
    urls = sorted({url for p in workspace.portals if p.portal for url in p.portal.urls.values()})
    profiles = sorted((workspace.root / "rules.d").glob("*.yaml"))
    return SandboxRun(family, workspace, urls, profiles)
