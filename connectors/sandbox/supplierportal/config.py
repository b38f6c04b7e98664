"""What the sandbox supplier portal knows: the buyer running it, its users (password + TOTP seed), its
open purchase orders, its units of measure (its own codes, not UN/ECE), and its AP team's habits."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from connectors.sandbox.config import load_sandbox_config


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLine(_Strict):
    line: int = Field(ge=1)
    description: str
    uom: str  # the portal's code
    unit_price: Decimal
    quantity: Decimal


class PurchaseOrder(_Strict):
    number: str
    description: str
    currency: str = "USD"
    lines: list[OrderLine] = Field(min_length=1)

    def line(self, number: int) -> OrderLine | None:
        return next((line for line in self.lines if line.line == number), None)

    @property
    def option(self) -> str:
        """How the portal's PO list shows it: "4500017001 - Drilling fluids - USD"."""
        return f"{self.number} - {self.description} - {self.currency}"


class User(_Strict):
    email: str
    password: str = Field(repr=False)
    totp_seed: str = Field(repr=False)  # base32, as the portal shows it when two-step sign-in is set up


class Existing(_Strict):
    """An invoice keyed in by hand before the hub ran (a duplicate in waiting)."""

    number: str
    status: str = "Approved"


class SupplierPortalConfig(_Strict):
    buyer: str = "Permian Basin Energy"
    users: list[User] = Field(min_length=1)
    purchase_orders: list[PurchaseOrder] = Field(default_factory=list)
    #: Its unit codes -> what its UOM list shows.
    uoms: dict[str, str] = Field(
        default_factory=lambda: {"EACH": "Each", "HR": "Hour", "DY": "Day", "FT": "Foot", "BBL": "Barrel"}
    )
    currencies: dict[str, str] = Field(default_factory=lambda: {"USD": "US dollar", "CAD": "Canadian dollar"})
    existing_invoices: list[Existing] = Field(default_factory=list)
    timezone: str = "America/Denver"  # its list shows local times, 12-hour
    page_size: int = Field(default=10, ge=1)
    session_minutes: float = Field(default=30, gt=0)
    max_pdf_bytes: int = 5 * 1024 * 1024
    review_after_hours: float = 24
    pay_after_hours: float = 48

    def purchase_order(self, key: str) -> PurchaseOrder | None:
        return next((po for po in self.purchase_orders if po.number == key), None)

    def user(self, email: str) -> User | None:
        return next((u for u in self.users if u.email.casefold() == email.casefold()), None)


def load_config(path: Path, secrets: Mapping[str, str]) -> SupplierPortalConfig:
    """A sandbox YAML file whose `secret:name` values are taken from `secrets`."""
    return load_sandbox_config(path, secrets, SupplierPortalConfig)
