"""What the Coupa sandbox is configured with: each customer's Coupa instance, the supplier's relationship
to it, its POs and contracts, its own invoice requirements and its AP team's pace (YAML, `secret:name`
values filled from the caller's secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from connectors.sandbox.config import load_sandbox_config


class PoLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: int
    part: str
    uom: str
    unit_price: Decimal
    quantity: Decimal


class PurchaseOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    #: The payloadID of the OrderRequest Coupa sent: an invoice may name its PO only by it
    #: (OrderReference/DocumentReference without an orderID).
    payload_id: str | None = None
    currency: str = "USD"
    lines: list[PoLine]


class CoupaBuyer(BaseModel):
    """One customer's Coupa instance, with the supplier's relationship to it."""

    model_config = ConfigDict(extra="forbid")
    instance: str
    name: str
    to: dict[str, str]  # {domain, identity} of the buyer
    supplier: dict[str, str]  # {domain, identity} the supplier must send as From
    shared_secret: str = Field(repr=False)
    cxml_enabled: bool = True
    purchase_orders: list[PurchaseOrder] = Field(default_factory=list)
    contracts: list[str] = Field(default_factory=list)
    # The buyer's own requirements (beyond Coupa's), checked when the invoice is created:
    max_backdate_days: int | None = None
    require_supplier_tax_id: bool = False
    required_extrinsics: list[str] = Field(default_factory=list)
    # How its AP team handles invoices, in portal time:
    approve_after_hours: float = 24
    pay_after_hours: float = 120
    dispute_after_hours: float = 48


class ExistingInvoice(BaseModel):
    """An invoice the portal already holds before the hub sends anything (keyed in by hand, say)."""

    model_config = ConfigDict(extra="forbid")
    instance: str
    number: str
    status: str = "approved"
    # What the API shows of its content (the hub compares it with what it sent under the number).
    total: Decimal = Decimal(0)
    currency: str = "USD"
    invoice_date: str | None = None  # YYYY-MM-DD
    po_number: str | None = None
    line_amounts: list[Decimal] = Field(default_factory=list)


class CoupaSandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    buyers: list[CoupaBuyer]
    existing_invoices: list[ExistingInvoice] = Field(default_factory=list)
    api_clients: dict[str, str] = Field(default_factory=dict, repr=False)  # client_id -> client_secret
    duplicate_text: str = "Invoice number {number} has already been used for this supplier."
    #: The folder of official cXML DTDs (`<version>/InvoiceDetail.dtd`); else $PORTALHUB_CXML_REFS.
    cxml_refs: str | None = None


def load_config(path: Path, secrets: Mapping[str, str]) -> CoupaSandboxConfig:
    """A sandbox YAML file whose `secret:name` values are taken from `secrets`."""
    return load_sandbox_config(path, secrets, CoupaSandboxConfig)
