"""Parsing XML that comes from outside (portals, AR files, inbound status requests).

Entity resolution, DTD loading and network access are off. A document that declares entities in an
internal subset is refused outright: no portal document needs them, and they are how XML bombs and
external-entity reads arrive.
"""

from __future__ import annotations

import threading

from lxml import etree

from hub.errors import MappingError


class UntrustedXMLError(MappingError):
    """The bytes are not well-formed XML, or carry constructs we refuse (entity declarations)."""


_LOCAL = threading.local()


def _parser() -> etree.XMLParser:
    # One parser per thread (an lxml parser must not parse on two threads at once), not one per
    # document: pre-flight parses every document it renders.
    parser: etree.XMLParser | None = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_untrusted(data: bytes | str) -> etree._Element:
    """Parse outside XML safely; raise UntrustedXMLError with the parser's reason when it is not usable."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not raw.strip():
        raise UntrustedXMLError("empty document")
    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise UntrustedXMLError(f"not well-formed XML: {exc}") from exc
    internal = root.getroottree().docinfo.internalDTD
    if internal is not None and any(True for _ in internal.iterentities()):
        raise UntrustedXMLError("the document declares entities in its DOCTYPE; refused")
    return root
