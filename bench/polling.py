"""What one poll cycle costs with many open invoices (issue 9, item 3).

    .venv/bin/python -m bench.polling [--open 1000,10000,100000] [--changed 100]

For every connector that polls (Coupa's REST API, OpenInvoice over SOAP and over REST, SAP Ariba in
`status_mode: poll`), a sandbox portal on a real socket and the hub's store (SQLite, made by
`build_hub` with its migrations) both hold N open invoices the hub sent earlier: SUBMITTED in the
store, waiting for approval at the portal. Both are seeded in bulk (the portal's list of invoices,
one `INSERT` with many rows in the store), not submitted one by one. Then 100 of them are approved at
the portal, and ONE poll cycle runs through the real code path: `status_sync.poller.poll_profile`
with the connector the hub builds from a profile with the connector's default settings (page size,
overlap), from the cursor the previous cycle left (one hour old).

`requests` is what the sandbox server received during that cycle (its own request counter, not the
connector's word for it), with a warm connector, as in a running daemon: what a connector does once
per process (Coupa's OAuth token, valid an hour; zeep reading the WSDL) is done by a warm-up poll
before and shown apart (`once per process`). `in store` counts the invoices that reached APPROVED
and the portal events recorded. `portal s` is the time the sandbox spent building its answers (it
filters all of its N invoices on every request: the portal's cost, not the hub's); `hub s` is the
rest of the cycle. Target: <= 3 requests, the same for every N: a poll reads pages of changes, never
the open invoices.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.invoices import NOW as T0
from bench.timing import report
from bench.workspace import hub_with_profiles
from connectors.sandbox.ariba import NetworkInvoice, StatusMessage
from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import PortalInvoice as CoupaInvoice
from connectors.sandbox.facade import ReadyProfile, SandboxPortal
from connectors.sandbox.openinvoice.portal import Entry
from connectors.sandbox.openinvoice.portal import PortalInvoice as OpenInvoiceRecord
from connectors.sandbox.server import Request, SandboxServer
from hub.clock import ManualClock
from hub.demo.portals import demo_sandbox
from hub.model import InvoiceState
from hub.runtime import Hub
from hub.store.tables import CursorRow, EventRow, InvoiceRow
from status_sync.poller import poll_profile

TARGET = 3
SENT = T0 - timedelta(hours=2)  # when the hub sent the open invoices
WATERMARK = T0 - timedelta(hours=1)  # where the previous poll left the cursor
CHANGED_AT = T0 - timedelta(minutes=30)  # when the buyer approved some of them
CONNECTORS = ("coupa", "openinvoice-soap", "openinvoice-rest", "ariba-poll")


@dataclass
class Portal:
    """One sandbox portal seeded with N open invoices, and the hub profile that polls it."""

    sandbox: SandboxPortal
    profile: ReadyProfile
    portal_ids: Sequence[str | None]  # the portal's id of invoice n (what the store knows), per invoice

    @property
    def servers(self) -> list[SandboxServer]:
        return self.sandbox.servers


def coupa(root: Path, numbers: list[str], changed: set[int]) -> Portal:
    portal = demo_sandbox("coupa", clock=SandboxClock(start=T0))
    instance = portal.sandbox.config.buyers[0].instance
    for n, number in enumerate(numbers):
        timeline = [(SENT, "pending_approval")] + ([(CHANGED_AT, "approved")] if n in changed else [])
        portal.sandbox.invoices.append(
            CoupaInvoice(
                n + 1,
                instance,
                number,
                f"{number}@bench",
                "standard",
                SENT,
                Decimal("125.00"),
                "USD",
                timeline,
            )
        )
    portal.start()
    # The API block as the connector defaults it (page size, overlap), as in production.
    return Portal(portal, portal.profile(instance), [str(n + 1) for n in range(len(numbers))])


def openinvoice(transport: str) -> Callable[[Path, list[str], set[int]], Portal]:
    def build(root: Path, numbers: list[str], changed: set[int]) -> Portal:
        portal = demo_sandbox("openinvoice", clock=SandboxClock(start=T0), tls_dir=root / "tls")
        supplier, buyer = (
            portal.sandbox.portal.config.suppliers[0].id,
            portal.sandbox.portal.config.buyers[0].id,
        )
        for n, number in enumerate(numbers):
            timeline = [Entry(SENT, "submitted")] + ([Entry(CHANGED_AT, "approved")] if n in changed else [])
            portal.sandbox.invoices.append(
                OpenInvoiceRecord(
                    f"OI-{n + 1}", supplier, buyer, number, "Invoice", Decimal("125.00"), "USD", timeline
                )
            )
        portal.start()
        ids = [f"OI-{n + 1}" for n in range(len(numbers))]
        return Portal(portal, portal.profile(buyer, transport=transport), ids)

    return build


def ariba(root: Path, numbers: list[str], changed: set[int]) -> Portal:
    portal = demo_sandbox("ariba", clock=SandboxClock(start=T0))
    network = portal.sandbox
    buyer = next(b for b in network.config.buyers if b.status_delivery == "poll")
    supplier = next(iter(network.config.suppliers))
    for n, number in enumerate(numbers):
        timeline = [StatusMessage("InvoiceStatus", "processing", SENT)]
        if n in changed:
            timeline.append(StatusMessage("InvoiceStatus", "approved", CHANGED_AT))
        network.invoices.append(
            NetworkInvoice(
                f"INV{n + 1:08d}",
                buyer,
                supplier,
                number,
                f"{number}@bench",
                SENT.date().isoformat(),
                SENT,
                Decimal("125.00"),
                "USD",
                timeline,
                pushed=len(timeline),
            )
        )
    portal.start()
    # The network's listing gives no document id to the poll: the hub matches by invoice number.
    return Portal(portal, portal.profile(buyer.key, status_mode="poll"), [None] * len(numbers))


BUILDERS: dict[str, Callable[[Path, list[str], set[int]], Portal]] = {
    "coupa": coupa,
    "openinvoice-soap": openinvoice("soap"),
    "openinvoice-rest": openinvoice("rest"),
    "ariba-poll": ariba,
}


@contextmanager
def timed_handlers(servers: list[SandboxServer]) -> Iterator[list[float]]:
    """The seconds the sandbox spends in its handlers (building answers), summed over threads."""
    spent = [0.0]
    lock = threading.Lock()
    originals = [server.handler for server in servers]

    def wrap(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        def timed(request: Request) -> Any:
            start = time.perf_counter()
            try:
                return handler(request)
            finally:
                with lock:
                    spent[0] += time.perf_counter() - start

        return timed

    for server, handler in zip(servers, originals, strict=True):
        server.handler = wrap(handler)
    try:
        yield spent
    finally:
        for server, handler in zip(servers, originals, strict=True):
            server.handler = handler


def received(servers: list[SandboxServer]) -> Counter[str]:
    total: Counter[str] = Counter()
    for server in servers:
        total.update({k: v for k, v in server.requests.items() if " /_sandbox" not in k})
    return total


def seed_store(hub: Hub, profile_id: str, numbers: list[str], portal_ids: Sequence[str | None]) -> None:
    rows = [
        {
            "source": "bench",
            "ar_key": str(n),
            "invoice_number": number,
            "customer_id": "C-1",
            "profile_id": profile_id,
            "purpose": "invoice",
            "currency": "USD",
            "total": Decimal("125.00"),
            "invoice_date": SENT.date(),
            "state": InvoiceState.SUBMITTED.value,
            "revision": 1,
            "content_hash": f"{n:064d}",
            "document": "{}",  # the poll never reads it
            "portal_invoice_id": portal_id,
            "transient_failures": 0,
            "created_at": SENT,
            "updated_at": SENT,
            "event_seq": 0,
        }
        for n, (number, portal_id) in enumerate(zip(numbers, portal_ids, strict=True))
    ]
    with hub.store.engine.begin() as connection:
        for start in range(0, len(rows), 20_000):
            connection.execute(insert(InvoiceRow), rows[start : start + 20_000])
    with hub.store.session() as session:
        session.add(CursorRow(profile_id=profile_id, cursor=WATERMARK.isoformat()))


def cycle(name: str, open_invoices: int, changed: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-poll-{name}-"))
    numbers = [f"P-{n:06d}" for n in range(1, open_invoices + 1)]
    chosen = set(range(0, open_invoices, open_invoices // changed)[:changed])
    portal = BUILDERS[name](root, numbers, chosen)
    hub = hub_with_profiles(root, [portal.profile], clock=ManualClock(T0))
    try:
        profile = hub.profile(portal.profile.id)
        seed_store(hub, profile.id, numbers, portal.portal_ids)
        connector = hub.connector(profile)
        # Warm-up: what the connector does once per process, and one listing page with no changes.
        start_counts = received(portal.servers)
        warm = connector.poll(profile, T0.isoformat())
        once = sum((received(portal.servers) - start_counts).values()) - warm.requests
        before = received(portal.servers)
        with timed_handlers(portal.servers) as portal_seconds:
            start = time.perf_counter()
            result = poll_profile(hub, profile)  # the hub's clock stands at T0
            seconds = time.perf_counter() - start
        during = received(portal.servers) - before
        assert result.error is None, result.error
        with hub.store.session() as session:
            approved = session.execute(
                select(func.count()).where(InvoiceRow.state == InvoiceState.APPROVED.value)  # type: ignore[arg-type]
            ).scalar_one()
            events = session.execute(
                select(func.count()).where(EventRow.actor == f"portal:{profile.id}")  # type: ignore[arg-type]
            ).scalar_one()
        requests = sum(during.values())
        ok = requests <= TARGET and approved == changed and events == changed
        return {
            "connector": name,
            "open invoices": open_invoices,
            "changed": changed,
            "requests": requests,
            "paths": ", ".join(f"{v} {k}" for k, v in sorted(during.items())),
            "once per process": once,
            "in store": f"{approved} approved, {events} events",
            "seconds": seconds,
            "portal s": portal_seconds[0],
            "hub s": seconds - portal_seconds[0],
            "target": "ok" if ok else "MISSED",
        }
    finally:
        hub.close()
        portal.sandbox.stop()
        shutil.rmtree(root, ignore_errors=True)


def load() -> str:
    return (
        subprocess.run(["uptime"], capture_output=True, text=True).stdout.split("load average:")[-1].strip()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", default="1000,10000,100000", help="numbers of open invoices")
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--connectors", default=",".join(CONNECTORS))
    args = parser.parse_args()
    rows = []
    for name in args.connectors.split(","):
        for n in (int(v) for v in args.open.split(",")):
            rows.append(cycle(name, n, args.changed))
            print(f"  {name} {n}: {rows[-1]['requests']} requests, {rows[-1]['seconds']:.2f} s", flush=True)
    print(f"load average (1, 5, 15 min): {load()}")
    columns = list(rows[0])
    report("polling", rows, columns)


if __name__ == "__main__":
    main()
