"""The sandbox portals the demo starts: one module per portal family, listed here.

A family adds its sandbox to the demo by subclassing `DemoPortal` (hub/demo/base.py) in
`hub/demo/<family>.py` and adding its class to `DEMO_PORTALS`; its sandbox is found by family name
(the `portalhub.sandboxes` entry point), its demo buyers go in `fixtures/demo/<family>_buyers.yaml`, its
AR invoices in `fixtures/demo/ar_data_<family>.sql` and its rules files in `fixtures/rules/`, with
`placeholder` where the sandbox's address belongs.
"""

from __future__ import annotations

from hub.demo.ariba import AribaDemoPortal
from hub.demo.base import DemoPortal
from hub.demo.coupa import CoupaDemoPortal
from hub.demo.openinvoice import OpenInvoiceDemoPortal
from hub.demo.webportal import WebPortalDemoPortal

DEMO_PORTALS: list[type[DemoPortal]] = [
    CoupaDemoPortal,
    OpenInvoiceDemoPortal,
    AribaDemoPortal,
    WebPortalDemoPortal,
]

__all__ = ["DEMO_PORTALS", "DemoPortal"]
