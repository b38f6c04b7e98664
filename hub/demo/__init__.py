"""`portalhub demo`: the whole hub on the embedded default, end to end, in a temporary workspace.

It seeds an SQLite AR database with the demo invoices (`fixtures/demo/ar_data*.sql`), starts one
sandbox per portal family on 127.0.0.1 (`hub/demo/portals.py` lists them; each family has its own
module), writes a hub configuration with the demo rules files, and runs the daemon's cycle until every
invoice has settled, moving the portals' clocks forward so buyers approve, dispute and pay. Halfway,
a collector corrects invoices in the AR system and the hub sends the corrections. At the end it
prints what happened to every invoice, and why.
"""

from hub.demo.workspace import DemoOutcome, DemoWorkspace, prepare, run_demo, run_until_settled

__all__ = ["DemoOutcome", "DemoWorkspace", "prepare", "run_demo", "run_until_settled"]
