"""OpenInvoice-style portals: PIDX 1.61 invoices over SOAP (zeep) or REST (mutual TLS + HMAC)."""

from __future__ import annotations

from connectors.openinvoice.connector import OpenInvoiceConnector

__all__ = ["OpenInvoiceConnector"]
