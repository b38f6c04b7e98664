"""Errors of the browser connector, placed in the hub's tree by what happens next.

A page that no longer matches its recipe is a `PortalLayoutChangedError`: a `PermanentPortalError`
with category `config`. Permanent, because the pipeline then fails that one invoice and moves on
instead of retrying it in a loop (a changed page does not change back by waiting); `config`, because
the fix is in the portal's recipe, maintained with the rules files, not in the invoice (`document`
would send collectors to correct an invoice that has nothing wrong with it).
"""

from __future__ import annotations

from hub.errors import PermanentPortalError, PortalhubError
from hub.model import RejectionCategory


class PortalLayoutChangedError(PermanentPortalError):
    """The portal's page did not have what the recipe says it has, at a named step."""

    def __init__(self, step: str, detail: str, *, evidence: str | None = None):
        self.step = step
        message = f"portal layout changed at step '{step}': {detail}; update the portal's recipe"
        super().__init__(
            message,
            category=RejectionCategory.CONFIG,
            portal_text=f"portal layout changed at step '{step}'",
            response_body=evidence,
        )


class SessionExpired(PortalhubError):
    """The portal sent us back to its sign-in page in the middle of a task (internal to the connector)."""


class BrowserGone(PortalhubError):
    """Chromium (or the page) died under a task; the owner thread starts a new one for the next task."""
