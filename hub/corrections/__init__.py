"""Fix and resubmit, and cancel: what a collector does once an invoice is fixed in the AR system.

`resubmit` re-reads the invoice from the AR system (the same intake the daemon runs, so a corrected
record becomes a new revision), validates it again and sends it now as a correction: a new payloadID
always, and a new number where the portal refuses the old one (a disputed invoice on a portal whose
connector has `renumber_after_dispute`, e.g. Coupa: `INV-1-R1`). Nothing is resubmitted unchanged by
accident: when the content is the very content the same portal refused for a content reason (a PO,
a price, a date: anything but credentials or the hub's configuration), it is refused with the
portal's words unless `force` is given.

`cancel` sends the portal's cancel (cXML `operation="delete"` referring to the accepted payloadID)
where the connector supports it, and refuses clearly where it does not. The cancel is committed as
an attempt before it leaves, like any send, and holds the portal's `submit:<profile>` lease, so the
hub still talks to each portal one request at a time.

`correction_links` derives, from the timeline, which send corrected which refused one: `show` prints
them, whoever triggered the correction (a collector's resubmit or the daemon picking up an AR change).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

from hub.corrections.common import (
    InvoiceNotFound,
    NotApplicable,
    PortalBusy,
    Quarantined,
    ResubmitRefused,
    cli_actor,
    find_invoice,
)
from hub.corrections.links import Refusal, correction_links, refusals, related_documents

if TYPE_CHECKING:
    from hub.corrections.cancel import CancelResult, cancel
    from hub.corrections.confirm import confirm_received
    from hub.corrections.resubmit import ResubmitResult, resubmit

# resubmit and cancel send (pipeline, connectors): imported on first use, so that reading a timeline
# (`show`, which needs only the links) does not load what sending needs.
_SENDING = {
    "CancelResult": "hub.corrections.cancel",
    "cancel": "hub.corrections.cancel",
    "ResubmitResult": "hub.corrections.resubmit",
    "resubmit": "hub.corrections.resubmit",
    "confirm_received": "hub.corrections.confirm",
}


def __getattr__(name: str) -> Any:
    if name not in _SENDING:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import_module(_SENDING[name])
    # Importing the submodule `resubmit` (or `cancel`) binds the package attribute of that name to the
    # module: bind the functions and results over it, as the eager imports used to.
    for exported, where in _SENDING.items():
        if where in sys.modules:
            globals()[exported] = getattr(sys.modules[where], exported)
    return globals()[name]


__all__ = [
    "CancelResult",
    "InvoiceNotFound",
    "NotApplicable",
    "PortalBusy",
    "Quarantined",
    "Refusal",
    "ResubmitRefused",
    "ResubmitResult",
    "cancel",
    "cli_actor",
    "confirm_received",
    "correction_links",
    "find_invoice",
    "refusals",
    "related_documents",
    "resubmit",
]
