"""The XML form of Coupa's REST answers, read into the JSON form the rest of the mapping uses.

Coupa answers XML unless asked for JSON (PORTALS.md, "Coupa": same hyphenated names in both). A
listing is `<invoice-headers type="array">` of `<invoice-header>`; a value may be typed
(`type="integer" | "decimal" | "boolean" | "dateTime"`), absent-but-named (`nil="true"`), a nested
object (`dispute-reason` with `code`, `description`) or an array (`payments type="array"` of elements).
An answer that is not such a listing is a MappingError naming what was found.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from hub.errors import MappingError
from mappings.xml_safety import parse_untrusted


def _value(node: etree._Element) -> Any:
    if node.get("nil") == "true":
        return None
    children = list(node)
    if node.get("type") == "array":
        return [_value(child) for child in children]
    if children:
        return {child.tag: _value(child) for child in children}
    text = (node.text or "").strip()
    if node.get("type") == "boolean":
        if text not in ("true", "false"):
            raise MappingError(f"Coupa <{node.tag}> (line {node.sourceline}) {text!r} is not a boolean")
        return text == "true"
    # Numbers stay text: money is read as Decimal, ids as strings, by the record mapping.
    return text


def records_from_xml(body: bytes) -> list[dict[str, Any]]:
    """The invoice records of an XML listing (`<invoice-headers type="array">`), each as a dict of
    the hyphenated attribute names, as the JSON answer would have them."""
    root = parse_untrusted(body)
    if root.tag != "invoice-headers":
        raise MappingError(f"expected a Coupa <invoice-headers> listing, got <{root.tag}>")
    records = []
    for header in root:
        if header.tag != "invoice-header":
            raise MappingError(f"unexpected <{header.tag}> (line {header.sourceline}) in <invoice-headers>")
        records.append({child.tag: _value(child) for child in header})
    return records
