"""A canonical value as the portal wants it typed: the recipe's value map (AR code -> portal code),
then its date or number format. Pure: used by `render` (a value the map lacks blocks the invoice
before sending) and by the steps that type it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from connectors.webportal.recipe import FieldFormat, NumberFormat, Recipe
from connectors.webportal.recipe.model import DATE_FIELDS
from hub.errors import MappingError


def _number(text: str, spec: NumberFormat) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text  # not a number (a part id in a numeric-looking field): typed as it is
    if spec.places is not None:
        value = value.quantize(Decimal(1).scaleb(-spec.places), rounding=ROUND_HALF_UP)
    whole, _, fraction = format(value, "f").partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    if spec.thousands_separator:
        groups: list[str] = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = spec.thousands_separator.join([whole, *groups])
    return sign + whole + (spec.decimal_separator + fraction if fraction else "")


def portal_value(recipe: Recipe, field: str, text: str) -> str:
    """`text` (the web form's canonical value of `field`) as the portal wants it."""
    spec: FieldFormat | None = recipe.format_of(field)
    if spec is None:
        return text
    if spec.map is not None:
        if text not in spec.map:
            raise MappingError(
                f"{field} {text!r} has no value in the portal's recipe ({recipe.name}: fields.{field}.map "
                f"knows {', '.join(sorted(spec.map)) or 'nothing'}); add it to the recipe or correct the invoice"
            )
        text = spec.map[text]
    if spec.date is not None and field in DATE_FIELDS:
        text = date.fromisoformat(text).strftime(spec.date)
    if spec.number is not None:
        text = _number(text, spec.number)
    return text


def portal_instant(recipe: Recipe, field: str, instant: datetime) -> str:
    """An instant (the poll's `updated_since`) written in the portal's zone and format."""
    spec = recipe.format_of(field) or FieldFormat()
    local = instant.astimezone(ZoneInfo(spec.timezone))
    return local.strftime(spec.datetime or "%Y-%m-%d %H:%M:%S")
