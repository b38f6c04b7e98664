from __future__ import annotations

from pathlib import Path

from hub.model import InvoiceState
from hub.pipeline.intake import ingest
from hub.pipeline.submit import submit_profile
from tests.factories import ListAr, make_hub, make_invoice


def test_one_invoice_goes_through(tmp_path: Path, coupa) -> None:  # type: ignore[no-untyped-def]
    ar = ListAr()
    ar.add(make_invoice("INV-1"))
    hub = make_hub(tmp_path, coupa.server.url, ar=ar)
    ingest(hub)
    report = submit_profile(hub, hub.profile("acme-coupa"))
    assert report.outcomes == {"accepted": 1}
    from sqlmodel import select

    from hub.store.tables import InvoiceRow

    with hub.store.session() as s:
        row = s.exec(select(InvoiceRow)).one()
    assert row.state == InvoiceState.SUBMITTED
    assert len(coupa.invoices) == 1
    hub.close()
