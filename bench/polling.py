"""What one poll cycle costs with many open invoices (issue 9, item 3).

    .venv/bin/python -m bench.polling

A Coupa buyer instance (the sandbox, over a real socket) and the hub's store both hold N open invoices
the hub sent earlier (seeded in bulk, not submitted one by one); 100 of them then change at the
portal (approved). One poll cycle runs through the real code path (`status_sync.poller.poll_profile`
with the Coupa connector: `updated-at[gt]` watermark, 50 records per page, the most Coupa allows),
and the table shows the requests it made and the updates it recorded. Target: <= 3 requests (two
pages of 50 and the short page that ends it), the same for N = 1,000, 10,000 and 100,000: a poll
reads changes only, never the open invoices.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from bench.timing import report
from bench.workspace import hub_in
from connectors.sandbox.coupa import PortalInvoice
from hub.model import InvoiceState
from hub.store.tables import CursorRow, InvoiceRow
from status_sync.poller import poll_profile
from tests.reliability.harness import Scenario

CHANGED = 100
PROFILE = "buyer0-coupa"


def cycle(open_invoices: int) -> dict[str, object]:
    scenario = Scenario(Path(tempfile.mkdtemp(prefix="bench-poll-")), invoices=0, buyers=1)
    try:
        with hub_in(scenario) as hub:
            now = scenario.sandbox.clock.now()
            sent, watermark, changed_at = (
                now - timedelta(hours=2),
                now - timedelta(hours=1),
                now - timedelta(minutes=30),
            )
            scenario.sandbox.invoices.extend(
                PortalInvoice(
                    id=n,
                    instance="b0",
                    number=f"P-{n:06d}",
                    payload_id=f"p{n}@bench",
                    purpose="invoice",
                    created_at=sent,
                    total=Decimal("125.00"),
                    currency="USD",
                    timeline=[(sent, "pending_approval")],
                )
                for n in range(1, open_invoices + 1)
            )
            for invoice in scenario.sandbox.invoices[:: open_invoices // CHANGED][:CHANGED]:
                invoice.timeline.append((changed_at, "approved"))
            with hub.store.engine.begin() as connection:
                connection.execute(
                    insert(InvoiceRow),
                    [
                        {
                            "source": "bench",
                            "ar_key": str(n),
                            "invoice_number": f"P-{n:06d}",
                            "customer_id": "C-0",
                            "profile_id": PROFILE,
                            "purpose": "invoice",
                            "currency": "USD",
                            "total": Decimal("125.00"),
                            "invoice_date": sent.date(),
                            "state": InvoiceState.PENDING_APPROVAL.value,
                            "revision": 1,
                            "content_hash": "x",
                            "document": "{}",
                            "portal_invoice_id": str(n),
                            "transient_failures": 0,
                            "created_at": sent,
                            "updated_at": sent,
                            "event_seq": 0,
                        }
                        for n in range(1, open_invoices + 1)
                    ],
                )
            with hub.store.session() as session:
                session.add(CursorRow(profile_id=PROFILE, cursor=watermark.isoformat()))
            profile = hub.profile(PROFILE)
            start = time.perf_counter()
            result = poll_profile(
                hub.store,
                profile,
                hub.connector(profile),
                worker="bench",
                now=hub.clock.now(),
                lease_seconds=60,
            )
            seconds = time.perf_counter() - start
        assert result.error is None, result.error
        recorded = result.applied.get("moved", 0)
        return {
            "connector": "coupa",
            "open invoices": open_invoices,
            "changed": CHANGED,
            "requests": result.requests,
            "updates recorded": dict(result.applied),
            "seconds": seconds,
            "target": "ok" if result.requests <= 3 and recorded == CHANGED else "MISSED",
        }
    finally:
        scenario.close()


def main() -> None:
    rows = [cycle(n) for n in (1_000, 10_000, 100_000)]
    report("polling", rows, list(rows[0]))


if __name__ == "__main__":
    main()
