"""The canonical invoice: what every AR adapter produces and every mapping consumes.

Money is `Decimal` everywhere; dates are calendar dates and instants are timezone-aware. The model
checks its own arithmetic (line amounts, tax sums, totals), so a document that reaches a mapping is
internally consistent: a portal rejection is then about the buyer's rules, never about our sums.

Signs follow the AR system: a credit memo carries negative amounts (quantity or unit price), as
cXML and most portals expect.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# The invoice's purpose, states and rejection categories live in hub/states.py (the read-only commands
# import them without the models); they are part of this module's public names.
from hub.states import InvoicePurpose, InvoiceState, RejectionCategory

#: What AR adapters and connectors outside this repository may import (docs/public-api.md).
__all__ = [
    "Address",
    "Attachment",
    "Charge",
    "ChargeKind",
    "Invoice",
    "InvoiceLine",
    "InvoicePurpose",
    "InvoiceState",
    "Party",
    "PaymentTerms",
    "PortalContent",
    "PortalStatusUpdate",
    "PurchaseOrderInfo",
    "RejectionCategory",
    "ServicePeriod",
    "Supplier",
    "TaxLine",
    "Violation",
]

#: Line amounts may differ from quantity x unit price by at most this much (rounding of the AR system).
LINE_TOLERANCE = Decimal("0.01")
#: Sums (subtotal, tax total, total) may differ by at most one cent per line they add up.
SUM_TOLERANCE_PER_ITEM = Decimal("0.01")


_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")


def _currency_code(value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise ValueError(f"currency must be an ISO 4217 code of three capital letters, got {value!r}")
    return value


def _country_code(value: str) -> str:
    if not _COUNTRY.fullmatch(value):
        raise ValueError(f"country must be an ISO 3166 alpha-2 code such as 'US', got {value!r}")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a timezone (e.g. 2026-11-20T10:00:00+00:00)")
    return value


CurrencyCode = Annotated[str, AfterValidator(_currency_code)]
CountryCode = Annotated[str, AfterValidator(_country_code)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    # Attribute docstrings are the JSON Schemas' descriptions (the invoice schema, portalhub.yaml's
    # supplier), read when a schema is printed (hub/field_docs.py). The schema is built at first use.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True)


class Address(_Model):
    street: list[NonEmpty] = Field(min_length=1)
    """Street lines, one item per line."""
    city: NonEmpty
    """The city."""
    state: str | None = None
    """State, province or region."""
    postal_code: str | None = None
    """Postal or ZIP code."""
    country: CountryCode
    """ISO 3166 two-letter country code (US, CA, ...)."""


class Party(_Model):
    """A company on the invoice. `party_id` is the id the other side knows it by (e.g. a DUNS)."""

    name: NonEmpty
    """The company's legal name."""
    party_id: str | None = None
    """The id the other side knows the company by (e.g. a DUNS number)."""
    tax_id: str | None = None
    """The company's tax registration (EIN, VAT or GST number)."""
    email: str | None = None
    """A contact address for invoicing questions."""
    address: Address | None = None
    """The company's postal address."""


class Supplier(Party):
    remit_to: Party | None = None
    """Where the buyer sends payment, when not the supplier's own address."""


class TaxLine(_Model):
    category: NonEmpty = "sales"  # e.g. sales, vat, gst
    rate_percent: Decimal | None = None
    taxable_amount: Decimal | None = None
    amount: Decimal
    description: str | None = None
    jurisdiction: str | None = None


class ChargeKind(enum.StrEnum):
    SHIPPING = "shipping"
    SPECIAL_HANDLING = "special_handling"
    DISCOUNT = "discount"  # negative amount


class Charge(_Model):
    kind: ChargeKind
    amount: Decimal
    description: str | None = None


class ServicePeriod(_Model):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> ServicePeriod:
        if self.end < self.start:
            raise ValueError(f"service period ends ({self.end}) before it starts ({self.start})")
        return self


class PaymentTerms(_Model):
    net_days: int = Field(ge=0)
    discount_percent: Decimal | None = None
    discount_days: int | None = Field(default=None, ge=0)
    description: str | None = None


class Attachment(_Model):
    """A file that travels with the invoice (usually the PDF copy)."""

    # Base64 in JSON (the store keeps invoices as JSON): a real PDF's bytes are not UTF-8 text.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )

    filename: NonEmpty
    content_type: NonEmpty = "application/pdf"
    content: bytes = Field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


class PurchaseOrderInfo(_Model):
    """What the AR system knows of the PO the invoice bills, when it knows it (for rules such as
    "total within the PO's remaining amount" or "PO currency = invoice currency")."""

    currency: CurrencyCode | None = None
    amount: Decimal | None = None
    remaining_amount: Decimal | None = None


class InvoiceLine(_Model):
    line_number: int = Field(ge=1)
    po_line_number: int | None = Field(default=None, ge=1)
    supplier_part_id: str | None = None
    buyer_part_id: str | None = None
    description: NonEmpty
    quantity: Decimal
    unit_of_measure: NonEmpty  # UN/ECE Recommendation 20 code, e.g. EA, HUR, KGM
    unit_price: Decimal
    amount: Decimal
    taxes: list[TaxLine] = Field(default_factory=list)
    service_period: ServicePeriod | None = None
    # Oil and gas references (PIDX portals); free for any buyer that asks for them.
    afe_number: str | None = None
    well_id: str | None = None
    cost_center: str | None = None
    field_ticket_number: str | None = None
    extrinsics: dict[str, str] = Field(default_factory=dict)

    @property
    def tax_total(self) -> Decimal:
        return sum((t.amount for t in self.taxes), Decimal(0))

    @model_validator(mode="after")
    def _amount_is_quantity_times_price(self) -> InvoiceLine:
        expected = self.quantity * self.unit_price
        if abs(self.amount - expected) > LINE_TOLERANCE:
            raise ValueError(
                f"line {self.line_number}: amount {self.amount} is not quantity {self.quantity} "
                f"x unit price {self.unit_price} = {expected}"
            )
        return self


class Invoice(_Model):
    """One invoice (or credit memo, debit memo, cancellation) as the AR system issued it."""

    invoice_number: NonEmpty
    invoice_date: date
    due_date: date | None = None
    purpose: InvoicePurpose = InvoicePurpose.INVOICE
    currency: CurrencyCode
    customer_id: NonEmpty  # the AR system's customer; routes the invoice to a portal profile
    po_number: str | None = None
    po_date: date | None = None
    purchase_order: PurchaseOrderInfo | None = None
    contract_number: str | None = None
    original_invoice_number: str | None = None  # credit memos and cancellations refer to it
    original_invoice_date: date | None = None
    payment_terms: PaymentTerms | None = None
    supplier: Supplier
    buyer: Party
    bill_to: Party | None = None
    ship_to: Party | None = None
    lines: list[InvoiceLine] = Field(min_length=1)
    taxes: list[TaxLine] = Field(default_factory=list)  # header-level taxes, beside any line taxes
    charges: list[Charge] = Field(default_factory=list)
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    attachments: list[Attachment] = Field(default_factory=list)
    comments: str | None = None
    extrinsics: dict[str, str] = Field(default_factory=dict)

    @property
    def has_line_taxes(self) -> bool:
        return any(line.taxes for line in self.lines)

    @property
    def charges_total(self) -> Decimal:
        return sum((c.amount for c in self.charges), Decimal(0))

    def content_hash(self) -> str:
        """A stable fingerprint of the content: the hub notices a corrected invoice by it."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    @model_validator(mode="after")
    def _consistent(self) -> Invoice:
        problems: list[str] = []
        # One pass over the lines (this runs on every invoice the hub reads). Decimal sums of money
        # are exact, so the order of the additions does not change them.
        numbers: set[int] = set()
        lines_sum = line_taxes = Decimal(0)
        tax_items = len(self.taxes)
        for line in self.lines:
            numbers.add(line.line_number)
            lines_sum += line.amount
            for tax in line.taxes:
                line_taxes += tax.amount
            tax_items += len(line.taxes)
        if len(numbers) != len(self.lines):
            problems.append(f"line numbers repeat: {sorted(line.line_number for line in self.lines)}")
        if abs(self.subtotal - lines_sum) > SUM_TOLERANCE_PER_ITEM * len(self.lines):
            problems.append(f"subtotal {self.subtotal} is not the sum of the line amounts {lines_sum}")
        taxes_sum = line_taxes + sum((t.amount for t in self.taxes), Decimal(0))
        if abs(self.tax_total - taxes_sum) > SUM_TOLERANCE_PER_ITEM * max(tax_items, 1):
            problems.append(f"tax total {self.tax_total} is not the sum of the taxes {taxes_sum}")
        expected_total = self.subtotal + self.tax_total + self.charges_total
        if self.total != expected_total:
            problems.append(
                f"total {self.total} is not subtotal {self.subtotal} + tax {self.tax_total}"
                f" + charges {self.charges_total} = {expected_total}"
            )
        if self.purpose is InvoicePurpose.CREDIT_MEMO and self.total > 0:
            problems.append(f"a credit memo carries negative amounts, but the total is {self.total}")
        if self.purpose in (InvoicePurpose.INVOICE, InvoicePurpose.DEBIT_MEMO) and self.total < 0:
            problems.append(f"an invoice total cannot be negative ({self.total}); send a credit memo")
        if self.purpose is InvoicePurpose.CANCEL and not self.original_invoice_number:
            problems.append("a cancellation must name the invoice it cancels (original_invoice_number)")
        if self.due_date and self.due_date < self.invoice_date:
            problems.append(f"due date {self.due_date} is before the invoice date {self.invoice_date}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Violation(_Model):
    """One broken rule, worded for the collector who has to fix it."""

    rule_id: str
    field: str
    value: Any = None
    message: str
    hint: str | None = None
    severity: str = "error"  # error blocks submission; warning is shown and recorded
    category: RejectionCategory = RejectionCategory.OTHER
    expected: str | None = None  # what the rule wanted, in words ("matching ^PO-\d{6}$", "present")
    source: str | None = None  # where the rule is written: "rules.d/acme-coupa.yaml:23"

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    def describe(self) -> str:
        found = "missing" if self.value in (None, "") else repr(self.value)
        return f"[{self.rule_id}] {self.field}: {self.message} (found {found})"


class PortalContent(_Model):
    """What a portal shows of an invoice's content: enough to tell the document the hub sent from
    another one held under the same number (keyed in by hand, sent by an older system). Every field is
    optional: a portal exposes what it exposes, and only what both sides have is compared."""

    total: Decimal | None = None  # the amount due, tax and charges included
    currency: str | None = None
    po_number: str | None = None
    invoice_date: date | None = None
    line_count: int | None = None
    line_amounts: tuple[Decimal, ...] | None = None  # each line's amount, in any order


class PortalStatusUpdate(_Model):
    """A status the portal reported for an invoice, normalised, with its own words kept verbatim."""

    portal_invoice_id: str | None = None
    invoice_number: str | None = None
    payload_id: str | None = None  # the payloadID of our document, when the portal echoes it
    state: InvoiceState | None  # None: a status we have no mapping for; kept raw, state unchanged
    raw_status: str
    reason: str | None = None
    reason_code: str | None = None
    category: RejectionCategory | None = None
    occurred_at: AwareDatetime
    paid_amount: Decimal | None = None
    payment_date: date | None = None
    #: The invoice's content as the portal holds it (`lookup` fills it where the portal shows it).
    content: PortalContent | None = None

    #: False when the portal's message carried no time of its own: `occurred_at` is then when the hub
    #: received it, which differs at every replay, so the dedupe key is taken from the content instead.
    timestamped: bool = True

    def dedupe_key(self, profile_id: str) -> str:
        """Same status of the same invoice at the same instant = the same event, however often it arrives.
        Without the portal's own time: the same content = the same event (a status that truly recurs
        with the same words and no time cannot be told from a replay; a resubmitted document differs
        by its payloadID)."""
        who = self.portal_invoice_id or self.invoice_number or self.payload_id or "?"
        if self.timestamped:
            return f"{profile_id}|{who}|{self.raw_status}|{self.occurred_at.isoformat()}"
        # payment_date too: a mapping may derive it from the time of arrival.
        content = self.model_dump(mode="json", exclude={"occurred_at", "timestamped", "payment_date"})
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return f"{profile_id}|{who}|{self.raw_status}|untimed:{hashlib.sha256(text.encode()).hexdigest()}"
