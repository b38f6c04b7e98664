"""Building PIDX elements in schema order: the one way `mappings.pidx_invoice` makes elements.

`node("InvoiceLineItem", LineItemNumber="1", Pricing=...)` takes a container's parts by child name and
appends them in the order of its content model (`mappings.pidx_structure.CONTENT`), so the schema order
is written in one place; a part the model does not know is a bug and fails at once. Text a document
cannot hold (control characters) is a MappingError naming the element, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeAlias

from lxml import etree

from hub.errors import MappingError
from mappings.pidx_structure import CONTENT, NSMAP, local_name, qname

Part: TypeAlias = etree._Element | str | Sequence[etree._Element] | None


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
        # An empty leaf is invalid PIDX; an absent optional value is simply not written.
        return (leaf(name, value),) if value.strip() else ()
    elements = (value,) if isinstance(value, etree._Element) else tuple(value)
    for given in elements:
        if local_name(given) != name:
            raise ValueError(f"<{local_name(given)}> given for the <{name}> slot")
    return elements


def node(tag: str, attributes: Mapping[str, str | None] | None = None, /, **parts: Part) -> etree._Element:
    """<tag> with `parts` as children, in the order of its content model (pidx_structure.CONTENT)."""
    model = CONTENT[tag]
    unknown = set(parts) - {slot.name for slot in model}
    if unknown:
        raise ValueError(f"<{tag}> has no place for {sorted(unknown)} in pidx_structure.CONTENT")
    made = _element(tag, attributes)
    for slot in model:
        for child in _children(slot.name, parts.get(slot.name)):
            made.append(child)
    return made


def money(tag: str, amount: Decimal, attributes: Mapping[str, str | None] | None = None) -> etree._Element:
    """<tag><MonetaryAmount>amount</MonetaryAmount></tag>, the amount exactly as the Decimal has it."""
    return node(tag, attributes, MonetaryAmount=format(amount, "f"))
