"""What the sandbox web portal knows: its buyers, their users (password + TOTP seed), their purchase
orders, and each buyer's own requirements and AP habits."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from connectors.sandbox.config import load_sandbox_config


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PoLine(_Strict):
    line: int = Field(ge=1)
    part: str
    description: str = ""
    uom: str
    unit_price: Decimal
    quantity: Decimal


class PurchaseOrder(_Strict):
    number: str
    currency: str = "USD"
    lines: list[PoLine] = Field(min_length=1)

    def line(self, number: int) -> PoLine | None:
        return next((line for line in self.lines if line.line == number), None)


class PortalUser(_Strict):
    username: str
    password: str = Field(repr=False)
    totp_seed: str = Field(repr=False)  # base32, as the portal shows it when MFA is set up


class ExistingInvoice(_Strict):
    """An invoice keyed into the portal by hand before the hub ever ran (a duplicate in waiting)."""

    number: str
    status: str = "Approved"


class Buyer(_Strict):
    """One buyer's web portal, served under `/<slug>/`."""

    slug: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    users: list[PortalUser] = Field(min_length=1)
    purchase_orders: list[PurchaseOrder] = Field(default_factory=list)
    currencies: list[str] = Field(default_factory=lambda: ["USD"])
    existing_invoices: list[ExistingInvoice] = Field(default_factory=list)
    # The buyer's own form rules, shown as messages on the form:
    require_po: bool = True
    require_afe: bool = False
    require_pdf: bool = True
    max_pdf_bytes: int = 5 * 1024 * 1024
    # How its AP team handles invoices, in portal time (hours after submission / approval):
    review_after_hours: float = 24
    pay_after_hours: float = 48

    def purchase_order(self, number: str) -> PurchaseOrder | None:
        return next((po for po in self.purchase_orders if po.number == number), None)

    def user(self, username: str) -> PortalUser | None:
        return next((u for u in self.users if u.username == username), None)


class WebPortalSandboxConfig(_Strict):
    buyers: list[Buyer] = Field(min_length=1)
    #: A signed-in session ends after this long without a request (portal time).
    session_minutes: float = Field(default=30, gt=0)
    page_size: int = Field(default=10, ge=1)

    def buyer(self, slug: str) -> Buyer | None:
        return next((b for b in self.buyers if b.slug == slug), None)


def load_config(path: Path, secrets: Mapping[str, str]) -> WebPortalSandboxConfig:
    """A sandbox YAML file whose `secret:name` values are taken from `secrets`."""
    return load_sandbox_config(path, secrets, WebPortalSandboxConfig)
