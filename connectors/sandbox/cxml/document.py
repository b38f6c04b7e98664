"""A cXML document as a portal receives it: parsed with entities, network and DTD loading off, then
validated against the official DTD that its DOCTYPE names (loaded from the reference folder, never
from the document or the network).

Which DTD: the DOCTYPE's system id names a file and a version
(`http://xml.cxml.org/schemas/cXML/1.2.037/InvoiceDetail.dtd`). Without a DOCTYPE, or with a bare
file name, the `cXML@version` attribute gives the version and the file is the one the document needs
(`InvoiceDetail.dtd` for an invoice: cXML.dtd does not declare InvoiceDetailRequest). When the
reference folder does not hold that version, the nearest older one of the same file is used (cXML
versions only add to their DTDs), else the oldest newer one; the refusal names the DTD used.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

#: Where the official cXML DTDs are (`<folder>/<version>/<file>.dtd`) when the caller does not say.
REFS_ENV = "PORTALHUB_CXML_REFS"
INVOICE_DTD = "InvoiceDetail.dtd"
CORE_DTD = "cXML.dtd"

_SYSTEM_ID = re.compile(
    r"^(?:(?:https?://xml\.cxml\.org/schemas/cXML/)?(?P<version>\d+\.\d+(?:\.\d+)?)/)?(?P<file>[A-Za-z]+\.dtd)$"
)
_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?$")


class UnreadableDocument(Exception):
    """Not well-formed XML, or XML a portal will not read (entity declarations)."""


@dataclass(frozen=True)
class CxmlDocument:
    """A parsed cXML document and what its prolog says."""

    root: etree._Element
    system_id: str | None  # the DOCTYPE's system id, None without a DOCTYPE

    @property
    def version(self) -> str:
        return self.root.get("version", "")

    @property
    def payload(self) -> etree._Element | None:
        """The Request's, Response's or Message's first child: what the document is about."""
        for holder in ("Request", "Message", "Response"):
            node = self.root.find(holder)
            if node is not None:
                if holder == "Response":
                    return node
                return next(iter(node), None)
        return None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def read_document(data: bytes) -> CxmlDocument:
    """Parse bytes from outside; UnreadableDocument when they are not a usable XML document."""
    if not data.strip():
        raise UnreadableDocument("the body is empty")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise UnreadableDocument(f"not well-formed XML: {exc}") from None
    info = root.getroottree().docinfo
    internal = info.internalDTD
    if internal is not None and any(True for _ in internal.iterentities()):
        raise UnreadableDocument("the DOCTYPE declares entities; refused")
    return CxmlDocument(root=root, system_id=info.system_url or None)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class DtdChoice:
    version: str
    filename: str
    path: Path
    exact: bool  # False: the named version is not held and a neighbour is used

    def __str__(self) -> str:
        return f"{self.version}/{self.filename}"


class DtdLibrary:
    """The official DTDs in a reference folder; validates a document against the one it names.

    lxml DTD objects are not safe to share between threads, so each has its lock."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._held: dict[str, list[str]] = {}
        for path in sorted(folder.glob("*/*.dtd")):
            if _VERSION.match(path.parent.name):
                self._held.setdefault(path.name, []).append(path.parent.name)
        for versions in self._held.values():
            versions.sort(key=_version_key)
        self._dtds: dict[Path, tuple[etree.DTD, threading.Lock]] = {}
        self._lock = threading.Lock()

    @classmethod
    def configured(cls, folder: Path | str | None) -> DtdLibrary | None:
        """The library at `folder`, else at $PORTALHUB_CXML_REFS; None when neither names a folder."""
        chosen = folder or os.environ.get(REFS_ENV)
        if not chosen:
            return None
        path = Path(chosen)
        if not path.is_dir():
            raise FileNotFoundError(f"the cXML reference folder {path} does not exist")
        return cls(path)

    def choose(self, document: CxmlDocument, needs: str = INVOICE_DTD) -> DtdChoice | str:
        """The DTD to validate `document` with, or why there is none (a refusal's words)."""
        version, filename = document.version or None, needs
        if document.system_id is not None:
            named = _SYSTEM_ID.match(document.system_id.strip())
            if named is None:
                return f"the DOCTYPE names {document.system_id!r}, which is not an official cXML DTD"
            filename = named.group("file")
            version = named.group("version") or version
        held = self._held.get(filename)
        if not held:
            return f"{filename} is not an official cXML DTD this portal knows"
        if version is None or not _VERSION.match(version):
            version = held[-1]
        if version in held:
            return DtdChoice(version, filename, self.folder / version / filename, exact=True)
        older = [v for v in held if _version_key(v) < _version_key(version)]
        nearest = older[-1] if older else held[0]
        return DtdChoice(nearest, filename, self.folder / nearest / filename, exact=False)

    def problems(self, document: CxmlDocument, choice: DtdChoice, limit: int = 3) -> list[str]:
        """What the DTD finds wrong with the document (line and message), empty when it is valid."""
        dtd, lock = self._load(choice.path)
        with lock:
            if dtd.validate(document.root):
                return []
            errors = list(dtd.error_log.filter_from_errors())
        return [f"line {e.line}: {e.message}" for e in errors[:limit]] or ["the document is not valid"]

    def _load(self, path: Path) -> tuple[etree.DTD, threading.Lock]:
        with self._lock:
            if path not in self._dtds:
                self._dtds[path] = (etree.DTD(str(path)), threading.Lock())
            return self._dtds[path]
