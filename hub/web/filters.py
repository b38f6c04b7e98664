"""Reading the worklist's filters from a query string, alike for the pages and the API: the CLI's
`portalhub rejections` options (customer, portal, category, age, amount), checked the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.worklist import CATEGORY_LABELS


class BadFilter(ValueError):
    """A filter value that cannot be used; the message says which and what it takes."""


@dataclass(frozen=True)
class Filters:
    customer: str | None = None
    portal: str | None = None
    categories: tuple[str, ...] = ()
    older_than_days: int | None = None
    min_amount: Decimal | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `hub.services.rejections`."""
        return {
            "customer": self.customer,
            "portal": self.portal,
            "categories": self.categories,
            "older_than_days": self.older_than_days,
            "min_amount": self.min_amount,
        }

    def as_query(self) -> list[tuple[str, str]]:
        """The filters back as query parameters (for paging links)."""
        pairs: list[tuple[str, str]] = []
        if self.customer:
            pairs.append(("customer", self.customer))
        if self.portal:
            pairs.append(("portal", self.portal))
        pairs.extend(("category", c) for c in self.categories)
        if self.older_than_days is not None:
            pairs.append(("older_than_days", str(self.older_than_days)))
        if self.min_amount is not None:
            pairs.append(("min_amount", str(self.min_amount)))
        return pairs


def _one(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    value = value.strip() if isinstance(value, str) else None
    return value or None


def parse_filters(params: Mapping[str, Any], categories: Sequence[str]) -> Filters:
    """Filters from query parameters; `categories` are the repeated `category` values."""
    chosen = tuple(c for c in categories if c)
    unknown = sorted(set(chosen) - set(CATEGORY_LABELS))
    if unknown:
        raise BadFilter(f"unknown category {', '.join(unknown)}; use one of: {', '.join(CATEGORY_LABELS)}")
    older = _one(params, "older_than_days")
    if older is not None and not (older.isdigit() and len(older) < 6):
        raise BadFilter(f"older_than_days takes a number of days such as 7, not {older!r}")
    least = _one(params, "min_amount")
    amount: Decimal | None = None
    if least is not None:
        try:
            amount = Decimal(least)
        except InvalidOperation:
            raise BadFilter(f"min_amount takes a number such as 1000 or 250.50, not {least!r}") from None
        if not amount.is_finite():
            raise BadFilter(f"min_amount takes a number such as 1000 or 250.50, not {least!r}")
    return Filters(
        customer=_one(params, "customer"),
        portal=_one(params, "portal"),
        categories=chosen,
        older_than_days=int(older) if older is not None else None,
        min_amount=amount,
    )


def parse_paging(params: Mapping[str, Any], *, default: int = 100, most: int = 500) -> tuple[int, int]:
    """(limit, offset) from `limit` and `offset` (or an opaque `cursor` from a previous page)."""
    try:
        limit = int(params.get("limit") or default)
        offset = int(params.get("cursor") or params.get("offset") or 0)
    except ValueError:
        raise BadFilter("limit and offset take whole numbers; cursor is the one a page gave") from None
    if not 1 <= limit <= most:
        raise BadFilter(f"limit is between 1 and {most}")
    if offset < 0:
        raise BadFilter("offset is 0 or more")
    return limit, offset
