"""What a collector does next after a portal refused an invoice: one sentence per rejection category,
and, where a rule in the profile's rules file could have caught the problem before sending, where to
write it (`portalhub rules suggest --profile X` proposes the rule from the portal's refusals)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.states import InvoiceState, RejectionCategory

C = RejectionCategory

#: One next step per category (a test holds every RejectionCategory to having one).
NEXT_STEPS: dict[RejectionCategory, str] = {
    C.PO: "Check the PO (or contract) number against the customer's PO, correct it in AR, then "
    "`portalhub resubmit` the invoice.",
    C.PRICE_QUANTITY: "Compare price, quantity and unit of measure with the PO line, correct the invoice in "
    "AR, then `portalhub resubmit` it.",
    C.DUPLICATE: "The portal already has this number: check whether it was sent before (`portalhub show`); "
    "if it was not, reissue it in AR under a new number.",
    C.TAX: "Check the tax amounts, rates and the tax ID the customer expects; correct them in AR, then "
    "`portalhub resubmit`.",
    C.MISSING_FIELD: "Fill in the field the portal names in AR (the portal's words above say which), then "
    "`portalhub resubmit`.",
    C.DATES: "Re-date the invoice within the customer's window in AR (or ask their AP for an exception), "
    "then `portalhub resubmit`.",
    C.ATTACHMENTS: "Attach the document the portal asks for (usually the invoice PDF) to the AR record, "
    "then `portalhub resubmit`.",
    C.CREDENTIALS: "Nothing to fix on the invoice: AR operations must fix the profile's credentials "
    "(`portalhub config check --connect`); the hub sends it again by itself.",
    C.DOCUMENT: "The portal refused the document's format: report it to AR operations with the invoice "
    "number and the portal's words; resubmit once they have fixed the profile.",
    C.DISPUTED: "The buyer disputed it: read their reason, agree the correction with them, then issue it "
    "from AR (a corrected invoice, or a credit memo and a rebill) and `portalhub resubmit`.",
    C.CONFIG: "Nothing to fix on the invoice: AR operations must fix the rules file or profile "
    "(`portalhub config check`); the invoice waits.",
    C.OTHER: "Read the portal's words, fix the invoice in AR, then `portalhub resubmit`; ask the "
    "customer's AP when the words are unclear.",
}

#: Problems a rule on the invoice (or the rendered document) can check before anything is sent.
CAUGHT_BY_A_RULE = frozenset(
    {C.PO, C.PRICE_QUANTITY, C.TAX, C.MISSING_FIELD, C.DATES, C.ATTACHMENTS, C.DOCUMENT}
)
REFUSED = frozenset({InvoiceState.REJECTED.value, InvoiceState.DISPUTED.value})


def sentence(category: str | None) -> str:
    """The next step for a category (its value, e.g. `po`); the general one for anything unknown."""
    try:
        return NEXT_STEPS[RejectionCategory(category or C.OTHER.value)]
    except ValueError:
        return NEXT_STEPS[C.OTHER]


def rules_line(rules_file: str | Path) -> str:
    """`file:line` of the `rules:` list in a rules file (where a new rule goes); the file's first
    line when it has none yet."""
    path = Path(rules_file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return f"{path}:1"
    for number, line in enumerate(lines, 1):
        if line.startswith("rules:"):
            return f"{path}:{number}"
    return f"{path}:1"


def next_step(hub: Any, head: dict[str, Any]) -> dict[str, Any] | None:
    """After a portal's refusal (REJECTED or DISPUTED): what to do next, and where a rule could have
    caught it before sending; None for any other state. `hub` is any hub with profiles (full) or
    profile outlines (hub/readonly/); `head` is `show`'s invoice (hub/services.py `timeline`)."""
    from hub.worklist import CATEGORY_LABELS

    if head["state"] not in REFUSED:
        return None
    # A dispute is the buyer's call whatever its reason (as on the worklist).
    disputed = head["state"] == InvoiceState.DISPUTED.value
    category = (C.DISPUTED.value if disputed else head["category"]) or "other"
    step: dict[str, Any] = {
        "category": category,
        "category_label": CATEGORY_LABELS.get(category, category),
        "sentence": sentence(category),
        "rules_file": None,
        "suggest": None,
    }
    profile_id = head["profile_id"]
    if profile_id and category in CAUGHT_BY_A_RULE:
        file = _rules_file_of(hub, profile_id)
        if file:
            step["rules_file"] = rules_line(file)
            step["suggest"] = f"portalhub rules suggest --profile {profile_id}"
    return step


def _rules_file_of(hub: Any, profile_id: str) -> str | None:
    if hasattr(hub, "rules_file"):  # the rules folder in outline (hub/readonly/)
        found: str | None = hub.rules_file(profile_id)
        return found
    profile = getattr(hub, "profiles", {}).get(profile_id)
    return str(profile.sources[0]) if profile is not None and profile.sources else None
