"""Errors of the browser connector, placed in the hub's tree by what happens next.

A page that no longer matches its recipe is a `PortalLayoutChangedError`, a `ProfileUnavailableError`
of kind `recipe`: the hub holds the whole profile (the invoice in hand stays READY, nothing is written
to AR) until the recipe file changes or an operator releases it. It is also a `PermanentPortalError`
(category `config`) so that the connector's own handling of portal errors (evidence kept on failure,
a poll or a lookup that could not read the list) treats it as before; the hub checks
`ProfileUnavailableError` first, so it is never a rejection.
"""

from __future__ import annotations

from hub.errors import PermanentPortalError, PortalhubError, ProfileUnavailableError
from hub.model import RejectionCategory


class PortalLayoutChangedError(ProfileUnavailableError, PermanentPortalError):
    """The portal's page did not have what the recipe says it has, at a named step."""

    def __init__(self, step: str, detail: str, *, evidence: str | None = None):
        self.step = step
        self.kind = "recipe"
        message = f"portal layout changed at step '{step}': {detail}; update the portal's recipe"
        PermanentPortalError.__init__(
            self,
            message,
            category=RejectionCategory.CONFIG,
            portal_text=f"portal layout changed at step '{step}'",
            response_body=evidence,
        )


class SessionExpired(PortalhubError):
    """The portal sent us back to its sign-in page in the middle of a task (internal to the connector)."""


class BrowserGone(PortalhubError):
    """Chromium (or the page) died under a task; the owner thread starts a new one for the next task."""
