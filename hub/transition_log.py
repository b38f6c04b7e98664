"""Every invoice state change in one INFO line, written when its transaction commits.

`lifecycle.move` notes each change on the session; a change that was rolled back never appears, and
the log never runs ahead of the store. Fields (`extra=`): invoice, profile, from_state, to_state,
portal_id, reason (shortened): `--log-format json` prints them as they are.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

TRANSITIONS = logging.getLogger("portalhub.invoices")
_PENDING = "portalhub.transitions"
REASON_WIDTH = 160


def note_transition(session: Session, fields: dict[str, Any]) -> None:
    """Remember a state change; it is logged if and when the session commits."""
    session.info.setdefault(_PENDING, []).append(fields)


def _short(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= REASON_WIDTH else text[: REASON_WIDTH - 1] + "…"


@event.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or not TRANSITIONS.isEnabledFor(logging.INFO):
        return
    for fields in pending:
        fields = {**fields, "reason": _short(fields.get("reason"))}
        portal = f" portal id {fields['portal_id']}" if fields.get("portal_id") else ""
        why = f": {fields['reason']}" if fields.get("reason") else ""
        TRANSITIONS.info(
            "%s (%s) %s -> %s%s%s",
            fields["invoice"],
            fields.get("profile") or "no profile",
            fields["from_state"],
            fields["to_state"],
            portal,
            why,
            extra=fields,
        )


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
