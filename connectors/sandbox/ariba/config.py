"""The Ariba sandbox's configuration: the network's supplier accounts, its buyers, their invoice rules
and how their AP teams treat invoices (YAML, `secret:name` values filled from the caller's secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.sandbox.config import load_sandbox_config


class AribaOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    payload_id: str | None = None  # the OrderRequest's payloadID, by which an invoice may name the order
    obsolete: bool = False  # INV-13
    prices: dict[str, Decimal] = Field(default_factory=dict)  # part -> PO price; a higher one is rejected


class AribaBuyer(BaseModel):
    """One buyer on the network, its invoice rules, and how its AP team treats invoices."""

    model_config = ConfigDict(extra="forbid")
    key: str
    name: str
    network_id: str  # the buyer's ANID (`To`)
    orders: list[AribaOrder] = Field(default_factory=list)  # orders sent through the network
    accept_non_po: bool = False  # INV-143 when a non-PO invoice arrives
    require_tax_id: bool = False  # INV-98
    max_backdate_days: int | None = None
    backdate_code: str = "BUYER-DATE-01"  # the buyer's own code for its back-dating rule
    status_delivery: Literal["push", "poll", "both"] = "push"
    push_url: str | None = None
    approve_after_hours: float = 24
    pay_after_hours: float = 72
    reject_after_hours: float = 24
    listing_delay_minutes: float = 0  # invoices stay "queued", out of the listing, this long


class ExistingInvoice(BaseModel):
    """An invoice the network already holds (keyed in the web UI by someone, say)."""

    model_config = ConfigDict(extra="forbid")
    buyer: str
    supplier: str
    number: str
    status_type: str = "paid"


class AribaSandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    buyers: list[AribaBuyer]
    #: Supplier accounts: ANID -> shared secret. An ANID ending in -T is a test account.
    suppliers: dict[str, str] = Field(repr=False)
    api_keys: dict[str, str] = Field(default_factory=dict, repr=False)  # supplier ANID -> listing key
    push_sender: dict[str, str] = Field(
        default_factory=lambda: {"domain": "NetworkID", "identity": "AN01000000001"}
    )
    push_secret: str = Field(default="", repr=False)
    push_retry_minutes: float = 60
    push_max_attempts: int = 24
    existing_invoices: list[ExistingInvoice] = Field(default_factory=list)
    #: The folder of official cXML DTDs (`<version>/InvoiceDetail.dtd`); else $PORTALHUB_CXML_REFS.
    cxml_refs: str | None = None


def load_config(path: Path, secrets: Mapping[str, str], **overrides: Any) -> AribaSandboxConfig:
    """A sandbox YAML file whose `secret:name` keys and values are taken from `secrets`."""
    return load_sandbox_config(path, secrets, AribaSandboxConfig, **overrides)
