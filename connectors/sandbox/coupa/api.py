"""The Coupa supplier API's query language and its XML form: `updated-at[gt]=…`, `status[in]=a,b`,
`customer[id]=…` filters over the records the API shows, and the `<invoice-headers>` document it answers
when JSON is not asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lxml import etree

_OPERATORS = {
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "gt_or_eq": lambda a, b: a >= b,
    "lt_or_eq": lambda a, b: a <= b,
    "not_eq": lambda a, b: a != b,
}


def filter_rows(rows: list[dict[str, Any]], name: str, value: str) -> list[dict[str, Any]]:
    if name in ("offset", "limit", "order_by", "dir", "fields"):
        return rows
    attribute, _, operator = name.partition("[")
    operator = operator.rstrip("]")
    if attribute == "customer":  # customer[name]=..., customer[id]=...
        return [r for r in rows if str((r.get("customer") or {}).get(operator)) == value]
    if attribute not in ("id", "invoice-number", "status", "updated-at", "created-at"):
        return rows
    if operator == "in":
        wanted = set(value.split(","))
        return [r for r in rows if str(r.get(attribute)) in wanted]
    if operator in ("contains", "starts_with"):
        test = (lambda s: value in s) if operator == "contains" else (lambda s: s.startswith(value))
        return [r for r in rows if test(str(r.get(attribute)))]
    if attribute.endswith("-at"):
        bound = (
            datetime.fromisoformat(value)
            if "T" in value
            else datetime.fromisoformat(value + "T00:00:00+00:00")
        )
        compare = _OPERATORS.get(operator or "gt_or_eq", _OPERATORS["gt_or_eq"])
        return [r for r in rows if compare(datetime.fromisoformat(r[attribute]), bound)]
    if operator in _OPERATORS:
        return [r for r in rows if _OPERATORS[operator](str(r.get(attribute)), value)]
    return [r for r in rows if str(r.get(attribute)) == value]


def xml_listing(page: list[dict[str, Any]]) -> bytes:
    root = etree.Element("invoice-headers", type="array")
    for record in page:
        header = etree.SubElement(root, "invoice-header")
        for key, value in record.items():
            node = etree.SubElement(header, key)
            if isinstance(value, dict):
                for inner_key, inner in value.items():
                    etree.SubElement(node, inner_key).text = str(inner)
            elif isinstance(value, list):
                node.set("type", "array")
                for item in value:
                    entry = etree.SubElement(node, "payment")
                    for inner_key, inner in item.items():
                        etree.SubElement(entry, inner_key).text = str(inner)
            elif value is not None:
                node.text = str(value).lower() if isinstance(value, bool) else str(value)
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return result
