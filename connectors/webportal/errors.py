"""Errors of the browser connector, placed in the hub's tree by what happens next.

A page that does not match its recipe is never a rejection: the invoice has nothing wrong with it.
Inside a task that is a `RecipeMismatch` (the step, what was expected, where); the connector turns it
into `RecipeGapError` before the submit click (a `ProfileUnavailableError` of kind `recipe`: the hub
holds the profile and leaves the invoice as it is), into `InDoubtError` after it (the portal may
have the invoice; `lookup` reconciles), and into a transient error for reads (poll, lookup).
"""

from __future__ import annotations

from hub.errors import PortalhubError, ProfileUnavailableError


class RecipeMismatch(PortalhubError):
    """The portal's page did not have what the recipe says, at a named step (internal to the connector)."""

    def __init__(self, step: str, expected: str, where: str = "", *, operation: str = "", index: int = -1):
        self.step = step
        self.expected = expected
        self.where = where
        self.operation = operation  # sign_in, open_form, ..., submit, read_confirmation, invoice_list
        self.index = index  # of the step in its operation
        self.evidence: str | None = None  # where the screenshot and the page are, once kept
        at = f" (at {where})" if where else ""
        super().__init__(f"the page does not match the recipe at step '{step}': expected {expected}{at}")


class RecipeGapError(ProfileUnavailableError):
    """Before anything was submitted, a page did not match the profile's recipe: fix the recipe (the
    step and what was expected are in the message, with the evidence)."""

    def __init__(self, profile: str, mismatch: RecipeMismatch):
        self.step = mismatch.step
        self.expected = mismatch.expected
        self.evidence = mismatch.evidence
        message = f"{profile}: recipe gap, nothing was submitted: {mismatch}; update the portal's recipe" + (
            f" ({mismatch.evidence})" if mismatch.evidence else ""
        )
        super().__init__(message, kind="recipe")


class SessionExpired(PortalhubError):
    """The portal sent us back to its sign-in page in the middle of a task (internal to the connector)."""


class BrowserGone(PortalhubError):
    """Chromium (or the page) died under a task; the owner thread starts a new one for the next task."""
