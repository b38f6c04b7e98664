"""One exception tree, grouped by what happens next.

- `ConfigError`: fix the configuration; never retried.
- `DocumentError`: fix the invoice; it is never sent (`MappingError`; a rule's violations block the invoice
  in pre-flight, recorded as `hub.model.Violation`s, not raised).
- `PortalError`: the portal said no or could not be reached.
    - `TransientPortalError`: retried later with backoff (the portal did not process the request).
    - `PermanentPortalError`: shown to collectors with the portal's words; retrying will not help.
    - `PortalAuthError`: credentials or permissions; the profile needs attention.
- `InDoubtError`: the request may have been processed; reconcile with the portal before any resend.
- `ProfileUnavailableError`: the profile cannot work until a person acts; nothing was sent.

Connectors raise nothing else: every transport failure is mapped at the boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.states import RejectionCategory

#: What AR adapters and connectors outside this repository may import (docs/public-api.md).
__all__ = [
    "ConfigError",
    "DocumentError",
    "InDoubtError",
    "MappingError",
    "PermanentPortalError",
    "PortalAuthError",
    "PortalError",
    "PortalhubError",
    "ProfileUnavailableError",
    "TransientPortalError",
]


class PortalhubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(PortalhubError):
    """The configuration (a rules file, the hub config, a secret reference) is wrong; says what to fix."""


class DocumentError(PortalhubError):
    """The invoice cannot be sent as it is; the fix is in the AR system."""


class MappingError(DocumentError):
    """The invoice cannot be expressed in the portal's document format."""


class PortalError(PortalhubError):
    """The portal refused or could not be reached. `portal_code`/`portal_text` are the portal's own words."""

    def __init__(
        self,
        message: str,
        *,
        portal_code: str | None = None,
        portal_text: str | None = None,
        http_status: int | None = None,
        response_body: str | None = None,
    ):
        super().__init__(message)
        self.portal_code = portal_code
        self.portal_text = portal_text
        self.http_status = http_status
        self.response_body = response_body


class TransientPortalError(PortalError):
    """Not processed by the portal (outage, throttling); safe to send again later."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class PermanentPortalError(PortalError):
    """The portal rejected the document; sending it again unchanged will not succeed."""

    def __init__(
        self, message: str, *, category: RejectionCategory, duplicate: bool = False, **kwargs: object
    ):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.category = category
        self.duplicate = duplicate  # the portal already has an invoice with this number


class PortalAuthError(PortalError):
    """Credentials, shared secret or enablement refused; nothing for this profile will pass until fixed."""


class InDoubtError(PortalhubError):
    """The request left and no usable answer came back: the portal may or may not have the invoice."""

    def __init__(self, message: str, *, response_body: str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.response_body = response_body
        self.http_status = http_status


class ProfileUnavailableError(PortalhubError):
    """The profile cannot work until a person acts; the invoice in hand did not reach the portal.

    Raised by a connector (a web portal's page no longer matches its recipe, a secret that cannot be
    resolved, ...) *before* anything was submitted. The hub puts the whole profile on hold with this
    reason and leaves the invoice in its state: it is never a rejection and nothing is written to AR.
    `kind` names what must be fixed (`recipe`, `config`, `credentials`).
    """

    def __init__(self, message: str, *, kind: str = "config"):
        super().__init__(message)
        self.kind = kind
