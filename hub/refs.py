"""Where the shared reference files are (the official cXML DTDs). They are not part of the project:
they live in `../shared/refs/cxml/` beside the checkout, or wherever PORTALHUB_CXML_REFS points."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = "PORTALHUB_CXML_REFS"


def cxml_refs_dir() -> Path | None:
    """The folder holding 1.2.037/InvoiceDetail.dtd etc., or None when this machine has none."""
    configured = os.environ.get(ENV)
    candidate = Path(configured) if configured else REPO.parent / "shared" / "refs" / "cxml"
    return candidate if candidate.is_dir() else None
