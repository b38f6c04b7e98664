"""The sandbox portals the demo starts: one module per portal family, listed here.

A family adds its sandbox to the demo by subclassing `DemoPortal` (hub/demo/base.py) in
`hub/demo/<family>.py` and adding its class to `DEMO_PORTALS`; its sandbox is found by family name
(the `portalhub.sandboxes` entry point), its demo buyers go in `fixtures/demo/<family>_buyers.yaml`, its
AR invoices in `fixtures/demo/ar_data_<family>.sql` and its rules files in `fixtures/rules/`, with
`placeholder` where the sandbox's address belongs.
"""

from __future__ import annotations

import secrets as token_generator
from collections.abc import Mapping
from typing import Any

from connectors.sandbox.facade import SandboxPortal
from hub.demo.ariba import AribaDemoPortal
from hub.demo.base import DemoPortal, load_demo_sandbox
from hub.demo.coupa import CoupaDemoPortal
from hub.demo.openinvoice import OpenInvoiceDemoPortal
from hub.demo.webportal import WebPortalDemoPortal

DEMO_PORTALS: list[type[DemoPortal]] = [
    CoupaDemoPortal,
    OpenInvoiceDemoPortal,
    AribaDemoPortal,
    WebPortalDemoPortal,
]


def demo_sandbox(family: str, secrets: Mapping[str, str] | None = None, **options: Any) -> SandboxPortal:
    """`family`'s sandbox portal with the demo's buyers and (unless given) fresh secrets, not started:
    a portal to try things on, whose `profile()` talks to it."""
    if secrets is None:
        names = next(cls for cls in DEMO_PORTALS if cls.name == family).secret_names
        secrets = {name: token_generator.token_urlsafe(18) for name in names}
    return load_demo_sandbox(family, secrets, **options)


__all__ = ["DEMO_PORTALS", "DemoPortal", "demo_sandbox"]
