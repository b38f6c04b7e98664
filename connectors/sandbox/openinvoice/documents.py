"""How the OpenInvoice sandbox reads what it receives, with its own code: the portal is a judge
independent of the hub, so nothing here comes from `mappings/`, `connectors/` (outside the sandbox),
`hub/` or `rules/`.

- `parse_xml`: outside XML with entities, DTDs and the network off; a DOCTYPE is refused outright.
- `PidxSchemas`: the official PIDX 1.61 Invoice XSD, from the sandbox configuration's `schema_dir` or
  the shared references (PORTALHUB_PIDX_REFS, else `../shared/refs/pidx` beside the checkout). Each
  schema file is compiled once per process (building it takes a while) and used under a lock.
- `unpack`: a MIME multipart/related body (the invoice first, files by Content-ID).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lxml import etree

from connectors.sandbox.multipart import document_and_files, payload

PIDX_NS = "http://www.pidx.org/schemas/v1.61"
INVOICE_XSD = Path("1.61") / "SCHEMA_PIDX_1.61_Invoice.xsd"
REFS_ENV = "PORTALHUB_PIDX_REFS"
#: The checkout's parent: connectors/sandbox/openinvoice/documents.py -> four levels up.
_BESIDE_CHECKOUT = Path(__file__).resolve().parents[4] / "shared" / "refs" / "pidx"


class DocumentError(ValueError):
    """What the portal received cannot be read (not XML, a DOCTYPE, a broken multipart body)."""


@dataclass(frozen=True)
class Part:
    """A file that came with the invoice."""

    content_id: str
    filename: str
    content_type: str
    content: bytes = field(repr=False)


def parse_xml(data: bytes) -> etree._Element:
    """Parse outside XML safely; DocumentError with the parser's reason when it is not usable."""
    if not data.strip():
        raise DocumentError("the document is empty")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise DocumentError("documents with a DOCTYPE are not accepted")
    return root


def default_schema_dir() -> Path | None:
    """The PIDX refs folder holding 1.61/SCHEMA_PIDX_1.61_Invoice.xsd, when this machine has one."""
    configured = os.environ.get(REFS_ENV)
    folder = Path(configured) if configured else _BESIDE_CHECKOUT
    return folder if (folder / INVOICE_XSD).is_file() else None


class _Compiled:
    def __init__(self, path: Path):
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        self.schema = etree.XMLSchema(etree.parse(str(path), parser))
        self.lock = threading.Lock()


@lru_cache(maxsize=8)
def _compiled(path: str) -> _Compiled:
    return _Compiled(Path(path))


class PidxSchemas:
    """The official PIDX 1.61 Invoice schema, or nothing when no folder has it (then `checked` is
    False and only the portal's own checks run, as a Coupa sandbox without the cXML DTD)."""

    def __init__(self, schema_dir: Path | None):
        folder = schema_dir or default_schema_dir()
        self.invoice_xsd = folder / INVOICE_XSD if folder is not None else None
        if self.invoice_xsd is not None and not self.invoice_xsd.is_file():
            raise FileNotFoundError(f"no PIDX 1.61 Invoice schema at {self.invoice_xsd}")

    @property
    def checked(self) -> bool:
        return self.invoice_xsd is not None

    def invoice_errors(self, root: etree._Element) -> list[str]:
        """The schema's complaints about an invoice, first ones first (empty: valid or unchecked)."""
        if self.invoice_xsd is None:
            return []
        compiled = _compiled(str(self.invoice_xsd))
        with compiled.lock:
            if compiled.schema.validate(root):
                return []
            return [f"line {e.line}: {e.message}" for e in compiled.schema.error_log]


def unpack(content_type: str, body: bytes) -> tuple[bytes, list[Part]]:
    """The XML and the files of a multipart/related body; a plain body is the XML alone."""
    split = document_and_files(content_type, body)
    if split is None:
        raise DocumentError("the multipart body has no parts")
    xml, attached = split
    files = [
        Part(
            content_id=str(part.get("Content-ID", "")).strip().strip("<>"),
            filename=part.get_filename() or "attachment",
            content_type=part.get_content_type(),
            content=payload(part),
        )
        for part in attached
    ]
    return xml, files
