"""Building PIDX 1.61 elements: the names every PIDX module shares and the one way
`mappings.pidx_invoice` makes elements.

`node("InvoiceLineItem", LineItemNumber="1", Pricing=...)` appends the parts in the order they are
given, so the renderer writes each content model's order once, where it builds that element. The
official schema (SCHEMA_PIDX_1.61_Invoice.xsd, read from the shared references, never copied here)
is the judge of that order: pre-flight validates every rendered document against it when its path
is configured, and the tests validate every document they render. Text a document cannot hold
(control characters) is a MappingError naming the element, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeAlias

from lxml import etree

from hub.errors import MappingError
from mappings.portal_values import plain_decimal

PIDX_NS = "http://www.pidx.org/schemas/v1.61"
PIDX_VERSION = "1.61"
#: Older OpenInvoice integrations (pidXML 1.0); responses in it are read, documents are never written in it.
PIDX_NS_LEGACY = "http://www.api.org/pidXML/v1.0"
NSMAP = {"pidx": PIDX_NS}
#: The root's attributes are namespace-qualified (`form="qualified"` in the schema).
TRANSACTION_PURPOSE = f"{{{PIDX_NS}}}transactionPurposeIndicator"
VERSION = f"{{{PIDX_NS}}}version"

Part: TypeAlias = etree._Element | str | Sequence[etree._Element] | None


def qname(local: str) -> str:
    """`{http://www.pidx.org/schemas/v1.61}local`."""
    return f"{{{PIDX_NS}}}{local}"


def local_name(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname


def _element(tag: str, attributes: Mapping[str, str | None] | None) -> etree._Element:
    try:
        return etree.Element(
            qname(tag), {k: v for k, v in (attributes or {}).items() if v is not None}, nsmap=NSMAP
        )
    except ValueError:
        # lxml refuses control characters; name the element, never the value.
        raise MappingError(
            f"an attribute of <{tag}> would carry a character XML cannot hold; remove it in the AR system"
        ) from None


def leaf(tag: str, text: str, attributes: Mapping[str, str | None] | None = None) -> etree._Element:
    """<tag attributes...>text</tag>."""
    made = _element(tag, attributes)
    try:
        made.text = text
    except ValueError:
        raise MappingError(
            f"<{tag}> would carry a character XML cannot hold (a control character, U+FFFE or U+FFFF); "
            "remove it from the invoice in the AR system"
        ) from None
    return made


def _children(name: str, value: Part) -> tuple[etree._Element, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # An absent optional value is simply not written (an empty element says nothing to a portal).
        return (leaf(name, value),) if value.strip() else ()
    elements = (value,) if isinstance(value, etree._Element) else tuple(value)
    for given in elements:
        if local_name(given) != name:
            raise ValueError(f"<{local_name(given)}> given for the <{name}> slot")
    return elements


def node(tag: str, attributes: Mapping[str, str | None] | None = None, /, **parts: Part) -> etree._Element:
    """<tag> with `parts` as children, in the order given (the schema's order, written by the caller)."""
    made = _element(tag, attributes)
    for name, value in parts.items():
        for child in _children(name, value):
            made.append(child)
    return made


def money(tag: str, amount: Decimal, attributes: Mapping[str, str | None] | None = None) -> etree._Element:
    """<tag><MonetaryAmount>amount</MonetaryAmount></tag>, the amount exactly as the Decimal has it."""
    return node(tag, attributes, MonetaryAmount=plain_decimal(amount))
