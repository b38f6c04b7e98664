"""Cross-field checks: arithmetic with a tolerance, and attachments.

The model already refuses an invoice whose sums are off by more than a cent; these rules let a buyer
be stricter (tolerance 0), check tax rates, and hold the total within what is left on the PO.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from hub.model import Invoice, TaxLine
from rules.conditions import search
from rules.constraints import Finding
from rules.rule import AttachmentRule, Rule

DEFAULT_TOLERANCE = Decimal("0.01")
#: A check's problems: (concrete field, value found, finding).
Problems = Iterator[tuple[str, Any, Finding]]


def run_check(rule: Rule, invoice: Invoice) -> Problems:
    tolerance = rule.tolerance if rule.tolerance is not None else DEFAULT_TOLERANCE
    if rule.check == "line_amounts":
        yield from _line_amounts(invoice, tolerance)
    elif rule.check == "summary_totals":
        yield from _summary_totals(invoice, tolerance)
    elif rule.check == "tax_rates":
        yield from _tax_rates(invoice, tolerance)
    elif rule.check == "po_remaining":
        yield from _po_remaining(invoice, tolerance)


def _off(found: Decimal, expected: Decimal, tolerance: Decimal) -> bool:
    return abs(found - expected) > tolerance


def _line_amounts(invoice: Invoice, tolerance: Decimal) -> Problems:
    for position, line in enumerate(invoice.lines):
        expected = line.quantity * line.unit_price
        if _off(line.amount, expected, tolerance):
            yield (
                f"lines[{position}].amount",
                line.amount,
                Finding(
                    "line_amounts",
                    f"line {line.line_number}: amount {{value}} is not quantity x unit price = {expected}",
                    f"{expected} (within {tolerance})",
                ),
            )


def _summary_totals(invoice: Invoice, tolerance: Decimal) -> Problems:
    lines = sum((line.amount for line in invoice.lines), Decimal(0))
    taxes = sum((t.amount for line in invoice.lines for t in line.taxes), Decimal(0)) + sum(
        (t.amount for t in invoice.taxes), Decimal(0)
    )
    total = invoice.subtotal + invoice.tax_total + invoice.charges_total
    for field, found, expected, what in (
        ("subtotal", invoice.subtotal, lines, "the sum of the line amounts"),
        ("tax_total", invoice.tax_total, taxes, "the sum of the taxes"),
        ("total", invoice.total, total, "subtotal + tax + charges"),
    ):
        if _off(found, expected, tolerance):
            yield (
                field,
                found,
                Finding(
                    "summary_totals",
                    f"{{field}} {{value}} is not {what} = {expected}",
                    f"{expected} (within {tolerance})",
                ),
            )


def _tax_lines(invoice: Invoice) -> Iterator[tuple[int | None, int, TaxLine]]:
    """(line position or None for a header tax, index, tax): where is written out only for a problem."""
    for position, line in enumerate(invoice.lines):
        for index, tax in enumerate(line.taxes):
            yield position, index, tax
    for index, tax in enumerate(invoice.taxes):
        yield None, index, tax


_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


def _tax_rates(invoice: Invoice, tolerance: Decimal) -> Problems:
    for position, index, tax in _tax_lines(invoice):
        rate, base = tax.rate_percent, tax.taxable_amount
        if rate is None or base is None:
            continue  # nothing to compute from; a `required` rule on rate/base says so if it matters
        expected = (base * rate / _HUNDRED).quantize(_CENT)
        if abs(tax.amount - expected) > tolerance:
            yield (
                f"taxes[{index}].amount" if position is None else f"lines[{position}].taxes[{index}].amount",
                tax.amount,
                Finding(
                    "tax_rates",
                    f"tax {{value}} is not {tax.rate_percent}% of {tax.taxable_amount} = {expected}",
                    f"{expected} (within {tolerance})",
                ),
            )


def _po_remaining(invoice: Invoice, tolerance: Decimal) -> Problems:
    po = invoice.purchase_order
    if po is None or po.remaining_amount is None:
        return
    if invoice.total > po.remaining_amount + tolerance:
        yield (
            "total",
            invoice.total,
            Finding(
                "po_remaining",
                f"total {{value}} is more than the {po.remaining_amount} left on PO {invoice.po_number}",
                f"at most {po.remaining_amount}",
            ),
        )


def run_attachments(rule: AttachmentRule, invoice: Invoice) -> Problems:
    files = invoice.attachments
    if rule.count is not None:
        low, high = rule.count.min, rule.count.max
        if (low is not None and len(files) < low) or (high is not None and len(files) > high):
            span = f"{low if low is not None else 0}..{high if high is not None else 'any'}"
            yield (
                "attachments",
                len(files),
                Finding(
                    "count",
                    f"the invoice has {{value}} attachment(s), {span} expected",
                    f"{span} attachments",
                ),
            )
    for position, attachment in enumerate(files):
        where = f"attachments[{position}]"
        if rule.content_types is not None and attachment.content_type not in rule.content_types:
            listed = ", ".join(rule.content_types)
            yield (
                f"{where}.content_type",
                attachment.content_type,
                Finding("content_type", f"{attachment.filename} is {{value}}, not {listed}", listed),
            )
        if rule.max_bytes is not None and attachment.size > rule.max_bytes:
            yield (
                f"{where}.size",
                attachment.size,
                Finding(
                    "max_bytes",
                    f"{attachment.filename} is {{value}} bytes, over {rule.max_bytes}",
                    f"at most {rule.max_bytes} bytes",
                ),
            )
        if rule.filename_pattern is not None and not search(rule.filename_pattern, attachment.filename):
            yield (
                f"{where}.filename",
                attachment.filename,
                Finding(
                    "filename_pattern",
                    f"file name {{value}} does not match {rule.filename_pattern}",
                    f"matching {rule.filename_pattern}",
                ),
            )
