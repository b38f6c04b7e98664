"""`portalhub recipe check` and `portalhub recipe schema`: trying a web portal's recipe without sending.

The walk itself is the connector's (`Connector.walk`): sign in, the form filled with a chosen invoice up
to (not including) the submit click, the invoice list, each step with a screenshot. The submit click is
pressed only with `submit_sandbox`, and only against a portal on this machine (a sandbox).
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import col, select

from connectors.base import Envelope, PageWalk
from hub.corrections import InvoiceNotFound, Quarantined, find_invoice
from hub.errors import ConfigError, DocumentError
from hub.model import Invoice
from hub.registry import ConnectorRegistry
from hub.runtime import Hub
from hub.store.tables import InvoiceRow


@dataclass
class RecipeCheck:
    profile_id: str
    invoice_number: str
    walk: PageWalk | None  # None: not connected (the invoice was only rendered)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and (self.walk is None or self.walk.problem is None)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "invoice": self.invoice_number, "problem": self.problem, "walk": self.walk}


def recipe_schema(registry: ConnectorRegistry) -> dict[str, Any]:
    """The JSON Schema of a web portal's recipe file (from the connector that reads recipes)."""
    for name in registry.names:
        schemas = registry.get(name).file_schemas()
        if "recipe" in schemas:
            return schemas["recipe"]
    raise ConfigError("no installed connector reads recipe files")


def is_sandbox(base_url: str) -> bool:
    """A portal on this machine (127.0.0.1, ::1, localhost): the only place a check may submit."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _invoice(hub: Hub, profile_id: str, number: str | None) -> Invoice:
    """The named invoice (by any number the buyer sees: `find_invoice`), or the profile's newest."""
    with hub.store.session() as session:
        if number is None:
            query = select(InvoiceRow).where(col(InvoiceRow.profile_id) == profile_id)
            row = session.exec(query.order_by(col(InvoiceRow.id).desc())).first()
            if row is None:
                raise ConfigError(
                    f"no invoice of {profile_id} in the store yet: ingest one, or name one with --invoice"
                )
        else:
            try:
                row = find_invoice(session, number)
            except Quarantined:
                raise
            except InvoiceNotFound:
                raise ConfigError(f"no invoice {number} of {profile_id} in the store") from None
            if row.profile_id != profile_id:
                raise ConfigError(
                    f"no invoice {number} of {profile_id} in the store: {row.invoice_number} goes to "
                    f"{row.profile_id or 'no profile'}"
                )
    return Invoice.model_validate_json(row.document)


def check_recipe(
    hub: Hub, profile_id: str, invoice_number: str | None, connect: bool, submit_sandbox: bool = False
) -> RecipeCheck:
    """Render the chosen invoice for the profile; with `connect`, walk the portal's pages with it."""
    profile = hub.profile(profile_id)
    connector = hub.connector(profile)
    base_url = str(profile.connection.get("base_url", ""))
    if submit_sandbox and not is_sandbox(base_url):
        raise ConfigError(
            f"--submit-sandbox submits only to a sandbox on this machine; {profile_id}'s portal is {base_url}"
        )
    invoice = _invoice(hub, profile_id, invoice_number)
    # A number of its own when submitting to a sandbox, so the check never collides with the real one.
    number = (
        f"{invoice.invoice_number}-CHECK{uuid.uuid4().hex[:4].upper()}"
        if submit_sandbox
        else invoice.invoice_number
    )
    envelope = Envelope(f"recipe-check.{uuid.uuid4().hex}@portalhub", hub.clock.now(), number)
    try:
        document = connector.render(invoice, profile, envelope)
    except DocumentError as exc:
        return RecipeCheck(profile_id, invoice.invoice_number, None, f"the invoice cannot be keyed: {exc}")
    if not connect:
        return RecipeCheck(profile_id, invoice.invoice_number, None)
    walk = connector.walk(profile, document, submit=submit_sandbox)
    return RecipeCheck(profile_id, number, walk)
