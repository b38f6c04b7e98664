"""Building PIDX 1.61 elements: the names every PIDX module shares and the one way
`mappings.pidx_invoice` makes elements.

`node("InvoiceLineItem", LineItemNumber="1", Pricing=...)` appends the parts in the order they are
given, so the renderer writes each content model's order once, where it builds that element. The
official schema (SCHEMA_PIDX_1.61_Invoice.xsd, read from the shared references, never copied here)
is the judge of that order: pre-flight validates every rendered document against it when its path
is configured, and the tests validate every document they render. Text a document cannot hold
(control characters) is a MappingError naming the element, never the value.

Elements are written as text (`Markup`), not built with lxml's element API: a 10-line invoice (~300
elements) cost ~0.8 ms as a tree and its serialisation, ~0.1 ms as text. The text is byte for byte
what lxml's `tostring(..., pretty_print=True)` gives for the same tree (escaping from
`mappings.xml_writer`; tests/mappings/test_pidx_elements.py compares the two on generated text):
every element on its own line, indented two spaces per level, the prefix `pidx:` declared once on
the root. Where a line break and indentation go is marked with NUL, which no XML text can hold
(`xml_writer` refuses it), so a parent indents its children's lines with one `str.replace` and text
with line breaks of its own is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeAlias

from lxml import etree

from hub.errors import MappingError
from mappings.portal_values import plain_decimal
from mappings.xml_writer import attribute, text

PIDX_NS = "http://www.pidx.org/schemas/v1.61"
PIDX_VERSION = "1.61"
#: Older OpenInvoice integrations (pidXML 1.0); responses in it are read, documents are never written in it.
PIDX_NS_LEGACY = "http://www.api.org/pidXML/v1.0"
NSMAP = {"pidx": PIDX_NS}
#: The root's attributes are namespace-qualified (`form="qualified"` in the schema).
TRANSACTION_PURPOSE = "pidx:transactionPurposeIndicator"
VERSION = "pidx:version"
#: Declared on the root element only (`node(..., root=True)`).
NS_DECLARATION = f'xmlns:pidx="{PIDX_NS}"'
#: Where a line break goes, followed by the indentation relative to the element it is in.
_BREAK = "\x00"
_INDENT = _BREAK + "  "
_TAG = re.compile(r"<pidx:([^ />]+)")


class Markup(str):
    """A whole element, written (`node`, `leaf`, `money`); a plain `str` part is text to write."""

    __slots__ = ()


Part: TypeAlias = Markup | str | Sequence[Markup] | None


def qname(local: str) -> str:
    """`{http://www.pidx.org/schemas/v1.61}local`."""
    return f"{{{PIDX_NS}}}{local}"


def local_name(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname


def _start(tag: str, attributes: Mapping[str, str | None] | None, root: bool = False) -> str:
    start = f"<pidx:{tag} {NS_DECLARATION}" if root else f"<pidx:{tag}"
    if attributes:
        for name, value in attributes.items():
            if value is not None:
                try:
                    start += f' {name}="{attribute(tag, value)}"'
                except MappingError:
                    # Name the element, never the value.
                    raise MappingError(
                        f"an attribute of <{tag}> would carry a character XML cannot hold; "
                        "remove it in the AR system"
                    ) from None
    return start


def leaf(tag: str, value: str, attributes: Mapping[str, str | None] | None = None) -> Markup:
    """<tag attributes...>text</tag>."""
    return Markup(f"{_start(tag, attributes)}>{text(tag, value)}</pidx:{tag}>")


def _slot(name: str, given: Markup) -> Markup:
    # The slot's name and the element's must agree (a renderer's mistake, not bad data).
    end = 6 + len(name)
    if given[6:end] != name or given[end : end + 1] not in (" ", "/", ">"):
        found = _TAG.match(given)
        raise ValueError(f"<{found[1] if found else given[:20]}> given for the <{name}> slot")
    return given


def node(
    tag: str, attributes: Mapping[str, str | None] | None = None, /, *, root: bool = False, **parts: Part
) -> Markup:
    """<tag> with `parts` as children, in the order given (the schema's order, written by the caller);
    `root`: the document element, which declares the namespace."""
    children: list[str] = []
    for name, value in parts.items():
        if value is None:
            continue
        if isinstance(value, Markup):
            children.append(_slot(name, value))
        elif isinstance(value, str):
            # An absent optional value is simply not written (an empty element says nothing to a portal).
            if value.strip():
                children.append(f"<pidx:{name}>{text(name, value)}</pidx:{name}>")
        else:
            children.extend(_slot(name, element) for element in value)
    start = _start(tag, attributes, root)
    if not children:
        return Markup(start + "/>")
    # Each child one level deeper: its own line breaks get two more spaces.
    inner = "".join([_INDENT + child.replace(_BREAK, _INDENT) for child in children])
    return Markup(f"{start}>{inner}{_BREAK}</pidx:{tag}>")


def money(tag: str, amount: Decimal, attributes: Mapping[str, str | None] | None = None) -> Markup:
    """<tag><MonetaryAmount>amount</MonetaryAmount></tag>, the amount exactly as the Decimal has it."""
    return node(tag, attributes, MonetaryAmount=plain_decimal(amount))


def document(root: Markup) -> bytes:
    """The whole document: the XML declaration, the root element, a final line break."""
    body = root.replace(_BREAK, "\n")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'.encode()
