"""The cXML side of the sandbox portals, written for the sandboxes alone: safe parsing, validation
against the official DTD the document names, reading an invoice, and the documents a portal sends back.

A sandbox is an independent judge of what the hub sends, so nothing here comes from the hub's own
mappings, connectors or structure tables (tests/test_architecture.py holds it to that): a mistake the
hub's renderer makes is not repeated by the code that reads the result.
"""

from connectors.sandbox.cxml.document import (
    REFS_ENV,
    CxmlDocument,
    DtdLibrary,
    UnreadableDocument,
    read_document,
)
from connectors.sandbox.cxml.invoice import (
    Credential,
    Envelope,
    Line,
    Money,
    OrderReference,
    Partner,
    ReceivedInvoice,
    Tax,
    UnreadableInvoice,
    read_invoice,
)
from connectors.sandbox.cxml.response import (
    CORE_DTD_URL,
    read_response_code,
    render_response,
    system_id,
)

__all__ = [
    "CORE_DTD_URL",
    "REFS_ENV",
    "Credential",
    "CxmlDocument",
    "DtdLibrary",
    "Envelope",
    "Line",
    "Money",
    "OrderReference",
    "Partner",
    "ReceivedInvoice",
    "Tax",
    "UnreadableDocument",
    "UnreadableInvoice",
    "read_document",
    "read_invoice",
    "read_response_code",
    "render_response",
    "system_id",
]
