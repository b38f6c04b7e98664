"""The demo's Ariba Network sandbox: Trinity Refining Co (statuses pushed to the hub's receiver) and
Brazos Midstream LP (statuses polled from the network's listing).

The receiver is part of the daemon (`Daemon.start_receiver`); the demo only runs cycles, so this
portal serves it, as a second process would in production: a hub built from the same workspace
configuration (same store, same rules, same secrets) whose daemon serves the receiver from the first
clock move on. The network pushes each time its clock moves.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from hub.config import load_config as load_hub_config
from hub.daemon import Daemon
from hub.demo.base import DemoPortal
from hub.runtime import Hub, build_hub

RECEIVER_PATH = "/ariba/status"


class AribaDemoPortal(DemoPortal):
    name = "ariba"
    secret_names = ("ariba_shared_secret", "ariba_listing_key", "ariba_push_secret")
    placeholder = "http://ariba-sandbox.invalid"
    corrections = {
        # Brazos refused a non-PO invoice (INV-143); the PO arrived, the collector adds it.
        "INV-25009": (
            "UPDATE ar_invoices SET po_number = '4700003001' WHERE invoice_number = 'INV-25009'",
            "UPDATE ar_invoice_lines SET po_line = 2 "
            "WHERE invoice_id = (SELECT invoice_id FROM ar_invoices WHERE invoice_number = 'INV-25009')",
        ),
    }

    def __init__(self) -> None:
        super().__init__()
        self.receiver_port: int | None = None
        self._hub: Hub | None = None
        self._daemon: Daemon | None = None

    def options(self, secrets: dict[str, str], workspace: Path, dtd: Path | None) -> dict[str, Any]:
        # The network validates against the DTD each document names, from the folder of official DTDs.
        return {"cxml_refs": dtd.parent.parent if dtd else None}

    def configure(self, config: dict[str, Any]) -> None:
        """The hub serves its status receiver on a free local port; the push buyers send there."""
        assert self.sandbox is not None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.receiver_port = int(probe.getsockname()[1])
        config["receiver"] = {"host": "127.0.0.1", "port": self.receiver_port, "path": RECEIVER_PATH}
        for buyer in self.sandbox.config.buyers:
            if buyer.status_delivery != "poll":
                buyer.push_url = f"http://127.0.0.1:{self.receiver_port}{RECEIVER_PATH}"

    def _serve_receiver(self) -> None:
        if self._daemon is not None or self.workspace is None:
            return
        self._hub = build_hub(load_hub_config(self.workspace / "portalhub.yaml"), worker_id="demo-receiver")
        self._daemon = Daemon(self._hub)
        self._daemon.start_receiver()

    def advance(self, hours: float) -> None:
        self._serve_receiver()
        super().advance(hours)  # the buyers act, and the network pushes what they did

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop_receiver()
        if self._hub is not None:
            self._hub.close()
        super().stop()
