"""Sorting a portal's free-text rejection into a category a collector can act on.

Portals' code lists are never complete and buyers write their own messages, so the words decide when
the code does not. The portal's text is always kept verbatim beside the category.
"""

from __future__ import annotations

import re

from hub.model import RejectionCategory

# Order matters: the first pattern that matches wins (a duplicate PO reference is a duplicate).
_WORDS: tuple[tuple[re.Pattern[str], RejectionCategory], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), category)
    for pattern, category in (
        (r"duplicate|already (been )?(used|exists|received|submitted)", RejectionCategory.DUPLICATE),
        (
            r"credential|shared ?secret|not allowed|unauthori[sz]ed|forbidden|not enabled",
            RejectionCategory.CREDENTIALS,
        ),
        (r"\bDTD\b|could not parse|schema|not well-formed|version of document", RejectionCategory.DOCUMENT),
        (r"\btax", RejectionCategory.TAX),
        (r"unit of measure|\bUOM\b|price|quantity|amount exceeds", RejectionCategory.PRICE_QUANTITY),
        (
            r"purchase order|\bPO\b|order reference|order/document reference|contract|non-PO",
            RejectionCategory.PO,
        ),
        (r"attachment|\bPDF\b", RejectionCategory.ATTACHMENTS),
        (r"back-?dated|\bdate\b|future|expired", RejectionCategory.DATES),
        (r"missing|required|invalid attributes|must (be|have) ", RejectionCategory.MISSING_FIELD),
    )
)


def categorize(text: str | None, default: RejectionCategory = RejectionCategory.OTHER) -> RejectionCategory:
    """The category the portal's words point to, or `default` when they say nothing recognisable."""
    if text:
        for pattern, category in _WORDS:
            if pattern.search(text):
                return category
    return default
