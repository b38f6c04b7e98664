"""What the OpenInvoice sandbox is configured with: the supplier's account and the buyers' rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SupplierAccount(BaseModel):
    """A supplier's OpenInvoice account: how it signs in on each transport."""

    model_config = ConfigDict(extra="forbid")
    id: str  # the identifier the supplier's documents carry as Seller
    name: str
    soap_username: str
    soap_password: str = Field(repr=False)
    client_cn: str  # the CN of the client certificate the REST API accepts for this account
    mac_key: str = Field(repr=False)


class OpenInvoiceBuyer(BaseModel):
    """An operator on OpenInvoice, with its Company Specific Business Rules and its AP team's pace."""

    model_config = ConfigDict(extra="forbid")
    id: str  # the SoldTo PartnerIdentifier the portal routes on
    name: str
    require_po: bool = False
    require_afe: bool = False
    require_field_ticket: bool = False
    cost_centers: list[str] | None = None  # every line's cost center must be one of these
    price_book: dict[str, Decimal] = Field(default_factory=dict)  # part -> contract rate; above it: dispute
    approve_after_hours: float = 24
    pay_after_hours: float = 72
    dispute_after_hours: float = 24


class ExistingInvoice(BaseModel):
    """An invoice the portal already holds before the hub sends anything (keyed in by hand, say)."""

    model_config = ConfigDict(extra="forbid")
    buyer: str
    number: str
    status: str = "approved"


class OpenInvoiceSandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: The PIDX refs folder (holding 1.61/SCHEMA_PIDX_1.61_Invoice.xsd) the portal validates invoices
    #: against; unset: PORTALHUB_PIDX_REFS, else ../shared/refs/pidx beside the checkout, if present.
    schema_dir: Path | None = None
    suppliers: list[SupplierAccount] = Field(min_length=1)
    buyers: list[OpenInvoiceBuyer]
    existing_invoices: list[ExistingInvoice] = Field(default_factory=list)
