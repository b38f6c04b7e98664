"""What an invoice is for, the states it goes through and why it can be stuck: plain enumerations,
importable without the invoice models (the read-only commands sort and label by them without
building a pydantic model). Public through `hub.model`, beside the models that use them."""

from __future__ import annotations

import enum


class InvoicePurpose(enum.StrEnum):
    """What the document does. `cancel` withdraws an earlier invoice named in `original_invoice_number`."""

    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    DEBIT_MEMO = "debit_memo"
    CANCEL = "cancel"


class InvoiceState(enum.StrEnum):
    """Lifecycle of an invoice in the hub; the allowed moves are in `hub.lifecycle`."""

    NEW = "NEW"
    BLOCKED = "BLOCKED"  # pre-flight found violations: never sent
    READY = "READY"
    SUBMITTING = "SUBMITTING"
    SUBMITTED = "SUBMITTED"
    REJECTED = "REJECTED"
    IN_DOUBT = "IN_DOUBT"  # sent, outcome unknown: reconcile before any resend
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    DISPUTED = "DISPUTED"
    ON_HOLD = "ON_HOLD"
    PAID = "PAID"
    CANCELLED = "CANCELLED"


class RejectionCategory(enum.StrEnum):
    """Why an invoice did not go through, in the words a collector sorts a worklist by."""

    PO = "po"  # missing or invalid PO / contract reference
    PRICE_QUANTITY = "price_quantity"  # price, quantity or unit of measure mismatch
    DUPLICATE = "duplicate"
    TAX = "tax"
    MISSING_FIELD = "missing_field"
    DATES = "dates"
    ATTACHMENTS = "attachments"
    CREDENTIALS = "credentials"  # portal access: credentials, permissions, enablement
    DOCUMENT = "document"  # the document did not parse or validate (DTD/XSD)
    DISPUTED = "disputed"  # disputed by the buyer after receipt
    CONFIG = "config"  # the hub's configuration (no profile, bad connection settings)
    OTHER = "other"
