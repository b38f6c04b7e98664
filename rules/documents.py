"""Rules on the rendered document: XPath values, and validation against a DTD or XSD.

Schemas are loaded once per file and shared; an lxml DTD/XMLSchema object must not validate on two
threads at once, so each has its own lock.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

#: Prefixes document rules may use. cXML has no namespace; PIDX documents are in the PIDX 1.61 one.
XPATH_NAMESPACES = {"pidx": "http://www.pidx.org/schemas/v1.61"}


class SchemaError(ValueError):
    """A DTD or XSD named by a rule cannot be loaded."""


@lru_cache(maxsize=1024)
def xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression, namespaces=XPATH_NAMESPACES)


def xpath_problem(expression: str) -> str | None:
    """Why an XPath cannot work, or None. One run on an empty document catches what compiles but can
    never evaluate (unknown functions, prefixes, variables) at load time rather than in pre-flight."""
    try:
        xpath(expression)(etree.Element("cXML"))
    except (etree.XPathSyntaxError, etree.XPathEvalError) as exc:
        return f"XPath {expression!r} is not valid: {exc}"
    return None


def values(result: Any) -> list[str]:
    """XPath results as strings. An element counts by its text; an element with no text but with
    children or attributes is present (a structural element such as OrderReference)."""
    if isinstance(result, list):
        found = []
        for item in result:
            if isinstance(item, etree._Element):
                text = "".join(item.itertext()).strip()
                if not text and (len(item) or item.attrib):
                    text = f"<{item.tag}>"
            else:
                text = str(item).strip()
            found.append(text)
        return found
    if isinstance(result, bool):
        return ["true"] if result else []
    return [str(result)]


class _Schema:
    def __init__(self, path: Path, kind: str):
        try:
            if kind == "dtd":
                self.validator: Any = etree.DTD(str(path))
            else:
                parser = etree.XMLParser(resolve_entities=False, no_network=True)
                self.validator = etree.XMLSchema(etree.parse(str(path), parser))
        except (etree.DTDParseError, etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
            raise SchemaError(f"cannot load the {kind.upper()} {path}: {exc}") from exc
        self.lock = threading.Lock()

    def errors(self, tree: etree._Element) -> list[str]:
        with self.lock:
            if self.validator.validate(tree):
                return []
            return [error.message for error in self.validator.error_log.filter_from_errors()[:5]]


@lru_cache(maxsize=64)
def _load(path: str, kind: str, mtime: float) -> _Schema:
    return _Schema(Path(path), kind)


def schema_errors(path: str, kind: str, tree: etree._Element) -> list[str]:
    """The first few validation errors of `tree` against the DTD/XSD at `path` (none: valid)."""
    try:
        mtime = Path(path).stat().st_mtime
    except OSError as exc:
        raise SchemaError(f"cannot read the {kind.upper()} {path}: {exc.strerror}") from exc
    return _load(path, kind, mtime).errors(tree)
