"""XML exports: one invoice per document, a cXML InvoiceDetailRequest or a UBL 2.1 Invoice/CreditNote,
told apart by the root element. Parsed only through mappings.xml_safety.parse_untrusted (no entities,
no DTD loading, no network)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lxml import etree

from hub.ar import ArRecord
from hub.ar.files.common import Export, FileProblem, Found
from hub.ar.files.cxml_format import cxml_number, invoice_from_cxml
from hub.ar.files.entries import export_size, read_export
from hub.ar.files.settings import FilesSettings
from hub.ar.files.ubl_format import ROOTS, invoice_from_ubl, ubl_number
from hub.ar.rows import record_from
from hub.model import Invoice, Supplier
from mappings.xml_safety import UntrustedXMLError, parse_untrusted


def read_xml(export: Export, settings: FilesSettings, supplier: Supplier) -> Iterator[Found]:
    """The one record of an XML export."""
    path = export.paths[0]
    size = export_size(path)
    if size > settings.max_document_bytes:
        raise FileProblem(
            f"{path.name} is {size:,} bytes, over max_document_bytes ({settings.max_document_bytes:,})"
        )
    try:
        root = parse_untrusted(read_export(path))
    except UntrustedXMLError as exc:
        raise FileProblem(f"{path.name} cannot be read as XML: {exc}") from None
    build: Callable[[etree._Element, FilesSettings, Supplier], Invoice]
    if root.tag == "cXML":
        kind, number, build = "cxml", cxml_number(root), invoice_from_cxml
    elif root.tag in ROOTS:
        kind, number, build = f"ubl-{ROOTS[root.tag].lower()}", ubl_number(root), invoice_from_ubl
    else:
        qname = etree.QName(root)
        where = f" in namespace {qname.namespace}" if qname.namespace else ""
        raise FileProblem(
            f"{path.name} is not a cXML InvoiceDetailRequest or a UBL 2.1 Invoice/CreditNote "
            f"(its root element is <{qname.localname}>{where})"
        )
    # The raw record names the document, never copies it: a cXML export may carry a SharedSecret.
    raw = {"file": path.name, "format": kind, "invoice_number": number}
    record = record_from(number or f"{path.name}", raw, number, lambda: build(root, settings, supplier))
    if record.error is not None:
        record = ArRecord(
            key=record.key, raw=raw, error=f"{path.name}: {record.error}", invoice_number=number
        )
    yield Found(record, "document", path.name)
