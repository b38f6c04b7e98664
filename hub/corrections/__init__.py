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

from hub.corrections.cancel import CancelResult, cancel
from hub.corrections.common import NotApplicable, PortalBusy, ResubmitRefused, cli_actor, find_invoice
from hub.corrections.confirm import confirm_received
from hub.corrections.links import Refusal, correction_links, refusals, related_documents
from hub.corrections.resubmit import ResubmitResult, resubmit

__all__ = [
    "CancelResult",
    "NotApplicable",
    "PortalBusy",
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
