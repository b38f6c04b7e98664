"""Amounts as people and spreadsheets read them: in the currency's minor units, whatever the store.

PostgreSQL keeps money as NUMERIC(20, 4), so an amount read back is `Decimal('500.0000')`; SQLite keeps
the text written (`'500'`, `'500.00'`). Printed as read, the same invoice showed `500.0000 USD` on one
deployment and `500.00 USD` on another. Every amount shown (CLI tables, CSV and JSON, reports, e-mail
digests) goes through `amount_text` / `money_text`: quantized to the currency's ISO 4217 exponent (2 for
USD and EUR, 0 for JPY and KRW, 3 for KWD, BHD and the other dinars), never rounding away a digit that
is not zero (an amount with more precision than its currency keeps it: it is the value found, and a
collector must see it).

The table is ISO 4217's list of currencies whose exponent is not 2 (the 2-digit ones are the default);
no library: babel would bring ~30 MB of locale data for these few lines.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: ISO 4217 minor units of the active currencies whose exponent is not 2 (list one, 2024 edition).
MINOR_UNITS: dict[str, int] = {
    # no minor unit
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # thousandths
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # ten-thousandths (units of account)
    "CLF": 4,
    "UYW": 4,
}
DEFAULT_MINOR_UNITS = 2


def minor_units(currency: str | None) -> int:
    """The number of decimals of `currency` (ISO 4217 exponent); 2 for an unknown or missing code."""
    return MINOR_UNITS.get((currency or "").upper(), DEFAULT_MINOR_UNITS)


def amount_text(value: Decimal | str | int | None, currency: str | None, *, grouped: bool = False) -> str:
    """The amount with exactly the currency's decimals (`500.00` for USD, `500` for JPY, `1.500` for KWD),
    more only where the amount really has them; `grouped` adds thousands separators (for people, not
    for CSV or JSON). '' for None; text that is not a number is returned as it is."""
    if value is None or value == "":
        return ""
    if type(value) is str:
        plain = _as_written(value, minor_units(currency), grouped)
        if plain is not None:
            return plain
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return str(value)
    if not amount.is_finite():
        return str(value)
    places = minor_units(currency)
    exact = amount.normalize()
    exponent = exact.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    decimals = max(places, -exponent)
    quantized = amount.quantize(Decimal(1).scaleb(-decimals)) if decimals >= 0 else amount
    return f"{quantized:,.{decimals}f}" if grouped else f"{quantized:.{decimals}f}"


def _as_written(text: str, places: int, grouped: bool) -> str | None:
    """`amount_text` of an amount written as digits with exactly the currency's decimals (`-1234.50`
    for USD, what the stores and the worklist hold), without the Decimal arithmetic: ~5x faster for
    the thousands of amounts of a big worklist; None for any other form."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, fraction = text[len(sign) :].partition(".")
    if not (whole.isascii() and whole.isdigit()) or len(fraction) != places or (places and not dot):
        return None
    if places and not (fraction.isascii() and fraction.isdigit()):
        return None
    integral = f"{int(whole):,}" if grouped else str(int(whole))
    return f"{sign}{integral}.{fraction}" if places else f"{sign}{integral}"


def money_text(value: Decimal | str | int | None, currency: str | None) -> str:
    """`1,234.50 USD`: the amount for people, with thousands separators and its currency."""
    text = amount_text(value, currency, grouped=True)
    return f"{text} {currency}" if currency else text
