"""Rules on the rendered document: XPath values. Validation against a DTD or XSD (the
`document_schema` rule) is mappings.xml_schema, the one way the project validates a document."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lxml import etree

#: Prefixes document rules may use. cXML has no namespace; PIDX documents are in the PIDX 1.61 one.
XPATH_NAMESPACES = {"pidx": "http://www.pidx.org/schemas/v1.61"}


@lru_cache(maxsize=1024)
def xpath(expression: str) -> etree.XPath:
    # Plain strings: a rule reads the values, never where an attribute or text came from.
    return etree.XPath(expression, namespaces=XPATH_NAMESPACES, smart_strings=False)


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
                # An element without children holds its text alone (most values: no join needed).
                text = (item.text or "").strip() if not len(item) else "".join(item.itertext()).strip()
                if not text and (len(item) or item.attrib):
                    text = f"<{item.tag}>"
            else:
                text = str(item).strip()
            found.append(text)
        return found
    if isinstance(result, bool):
        return ["true"] if result else []
    return [str(result)]
