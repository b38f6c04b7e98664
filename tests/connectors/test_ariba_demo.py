"""The demo's Ariba part on its own: Trinity's statuses arrive by push through the hub's receiver,
Brazos's by poll, each invoice ends as designed, and the collector's correction is resent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from hub.demo import workspace as demo_workspace
from hub.demo.ariba import AribaDemoPortal
from hub.store.tables import CursorRow, EventRow, InvoiceRow
from tests.test_demo import EXPECTED_ARIBA


@pytest.fixture(scope="module")
def ariba_demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[demo_workspace.DemoWorkspace, dict[str, str]]]:
    patch = pytest.MonkeyPatch()
    patch.setattr(demo_workspace, "DEMO_PORTALS", [AribaDemoPortal])
    workspace = demo_workspace.prepare(tmp_path_factory.mktemp("ariba-demo"))
    # Only Ariba's sandbox runs: the other families' profiles go, and their customers wait unrouted.
    for rules_file in (workspace.root / "rules.d").glob("*.yaml"):
        if not rules_file.stem.endswith("-ariba"):
            rules_file.unlink()
    workspace.hub.reload_profiles()
    try:
        demo_workspace.run_until_settled(workspace)
        first_pass = states(workspace)
        workspace.portal("ariba").correct(workspace.ar_path)
        demo_workspace.run_until_settled(workspace)
        yield workspace, first_pass
    finally:
        workspace.close()
        patch.undo()


def states(workspace: demo_workspace.DemoWorkspace) -> dict[str, str]:
    with workspace.hub.store.session() as session:
        rows = session.exec(select(InvoiceRow).where(col(InvoiceRow.invoice_number).startswith("INV-25")))
        return {row.invoice_number: row.state for row in rows}


def test_every_ariba_invoice_ends_as_designed(
    ariba_demo: tuple[demo_workspace.DemoWorkspace, dict[str, str]],
) -> None:
    workspace, first_pass = ariba_demo
    assert first_pass["INV-25009"] == "REJECTED"  # INV-143 before the collector added the PO
    assert states(workspace) == EXPECTED_ARIBA


def test_trinity_statuses_came_by_push_and_brazos_by_poll(
    ariba_demo: tuple[demo_workspace.DemoWorkspace, dict[str, str]],
) -> None:
    workspace, _ = ariba_demo
    portal = workspace.portal("ariba")
    assert isinstance(portal, AribaDemoPortal) and portal.sandbox is not None
    trinity = {i.document_id for i in portal.sandbox.invoices if i.buyer.key == "trc"}
    deliveries = portal.sandbox.pusher.deliveries
    assert deliveries and {d.invoice_key for d in deliveries} == trinity
    assert all(d.delivered_at is not None for d in deliveries)
    with workspace.hub.store.session() as session:
        cursors = {row.profile_id: row for row in session.exec(select(CursorRow))}
        paid_by = {
            number: actor
            for number, actor in session.exec(
                select(InvoiceRow.invoice_number, EventRow.actor)
                .join(EventRow, col(EventRow.invoice_id) == col(InvoiceRow.id))
                .where(col(EventRow.to_state) == "PAID")
            )
        }
    assert cursors["trc-ariba"].requests == 0  # push only: the listing was never polled
    assert cursors["bml-ariba"].requests > 0
    assert paid_by["INV-25001"] == "portal:trc-ariba" and paid_by["INV-25007"] == "portal:bml-ariba"


def test_nothing_reached_the_network_twice(
    ariba_demo: tuple[demo_workspace.DemoWorkspace, dict[str, str]],
) -> None:
    workspace, _ = ariba_demo
    sent = workspace.portal("ariba").sent_numbers()
    assert len(sent) == len(set(sent)) == 6


def test_no_secret_reached_the_store(
    ariba_demo: tuple[demo_workspace.DemoWorkspace, dict[str, str]],
) -> None:
    workspace, _ = ariba_demo
    blob = b"".join(p.read_bytes() for p in Path(workspace.root).glob("portalhub.db*"))
    for name in AribaDemoPortal.secret_names:
        assert workspace.secrets[name].encode() not in blob
