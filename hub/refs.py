"""Where the shared reference files are (the official cXML DTDs and PIDX 1.61 schemas). They are not
part of the project: they live in `../shared/refs/cxml/` and `../shared/refs/pidx/` beside the checkout,
or wherever PORTALHUB_CXML_REFS and PORTALHUB_PIDX_REFS point."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = "PORTALHUB_CXML_REFS"
PIDX_ENV = "PORTALHUB_PIDX_REFS"
#: Inside the PIDX refs folder: the 1.61 schemas, one self-contained file per message.
PIDX_INVOICE_XSD = Path("1.61") / "SCHEMA_PIDX_1.61_Invoice.xsd"
PIDX_INVOICE_RESPONSE_XSD = Path("1.61") / "SCHEMA_PIDX_1.61_InvoiceResponse.xsd"


def cxml_refs_dir() -> Path | None:
    """The folder holding 1.2.037/InvoiceDetail.dtd etc., or None when this machine has none."""
    configured = os.environ.get(ENV)
    candidate = Path(configured) if configured else REPO.parent / "shared" / "refs" / "cxml"
    return candidate if candidate.is_dir() else None


def pidx_refs_dir() -> Path | None:
    """The folder holding 1.61/SCHEMA_PIDX_1.61_Invoice.xsd etc., or None when this machine has none."""
    configured = os.environ.get(PIDX_ENV)
    candidate = Path(configured) if configured else REPO.parent / "shared" / "refs" / "pidx"
    return candidate if (candidate / PIDX_INVOICE_XSD).is_file() else None


def pidx_invoice_xsd() -> Path | None:
    """SCHEMA_PIDX_1.61_Invoice.xsd from the shared references, when this machine has it."""
    folder = pidx_refs_dir()
    return folder / PIDX_INVOICE_XSD if folder is not None else None
