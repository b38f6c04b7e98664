"""The read-only hub: what `status`, `show`, `rejections`, `audit`, `quarantine` and `report` need, and
the answers of the collectors' read-only commands (`status`, `show`, `rejections`, `quarantine`).

A collector's question is answered from the store and the configuration alone. The full hub
(hub/runtime.py) builds the AR adapters (resolving their secrets: a webhook's signing key), an HTTP
client, every connector class (zeep, Playwright, lxml mappings) and compiles every rules file: a
second or more of work, and deployment secrets, for a question that sends nothing. This one opens the
store and reads the rules folder as plain YAML (profile ids and the customers each one matches, for
typo checks and `status`); nothing here imports connectors, mappings or the rules engine.

`ReadOnlyHub` offers the attributes of `Hub` that reading code uses (`config`, `store`, `clock`,
`broken_profiles`), so the same service functions (hub/services.py, through the ORM) serve both.
`StoreView` is what the commands open: the same outlines, and the store through its database driver
(hub/store_reader.py), so a command that only reads imports neither SQLAlchemy nor SQLModel (~0.3 to
0.7 s of CPU). The answers (answers.py) are built from those rows by the same functions as the ORM path's
(tests/hub/test_store_reader.py compares them on SQLite and PostgreSQL).
"""

from __future__ import annotations

from hub.next_steps import next_step
from hub.readonly.answers import (
    ATTENTION_STATES,
    check_worklist_filter,
    customers_by_profile,
    invoice_page,
    needs_attention,
    not_working_of,
    quarantine_record,
    quarantined,
    reading,
    rejections,
    status_summary,
    summary_of,
    timeline,
    timeline_of,
    unknown_name,
)
from hub.readonly.views import Outlines, ProfileOutline, ReadOnlyHub, StoreView

__all__ = [
    "ATTENTION_STATES",
    "Outlines",
    "ProfileOutline",
    "ReadOnlyHub",
    "StoreView",
    "check_worklist_filter",
    "customers_by_profile",
    "invoice_page",
    "needs_attention",
    "next_step",
    "not_working_of",
    "quarantine_record",
    "quarantined",
    "reading",
    "rejections",
    "status_summary",
    "summary_of",
    "timeline",
    "timeline_of",
    "unknown_name",
]
