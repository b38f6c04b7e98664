"""`portalhub rules suggest`: rules that would have caught the portal's rejections before sending.

Input: the rejections and disputes a portal returned for one profile that no pre-flight rule caught
(with the portal's words verbatim), and the invoices the portal accepted (evidence of what works).
Output: grouped suggestions, each a YAML snippet with its evidence. Nothing is ever applied: AR
operations review the snippet and put it in the rules file themselves.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.model import Invoice

_NUMBERS = re.compile(r"\b[\w-]*\d[\w./-]*\b")


@dataclass(frozen=True)
class Rejection:
    invoice_number: str
    category: str | None
    text: str  # the portal's words, verbatim
    invoice: Invoice | None
    sent_at: datetime | None = None  # when the hub sent it (for back-dating)


@dataclass
class Suggestion:
    title: str
    category: str
    evidence: list[tuple[str, str]] = field(default_factory=list)  # (invoice number, portal words)
    snippet: str = ""
    reference_file: tuple[str, list[str]] | None = None  # (file name, values) to create beside the rules file

    @property
    def count(self) -> int:
        return len(self.evidence)


def shape(text: str) -> str:
    """The portal's words with invoice numbers, amounts and dates masked, so alike rejections group."""
    return " ".join(_NUMBERS.sub("#", text.lower()).split())


def suggest(
    profile_id: str, rejections: Sequence[Rejection], accepted: Sequence[Invoice]
) -> list[Suggestion]:
    groups: dict[tuple[str, str], list[Rejection]] = defaultdict(list)
    for rejection in rejections:
        groups[(rejection.category or "other", shape(rejection.text))].append(rejection)
    suggestions = []
    for (category, _), members in sorted(groups.items(), key=lambda item: -len(item[1])):
        suggestion = _propose(profile_id, category, members, accepted)
        suggestion.evidence = [(r.invoice_number, r.text) for r in members]
        suggestions.append(suggestion)
    return suggestions


_BACKDATED = re.compile(r"back-?dated (?:more than |by more than )?(\d+)", re.I)
_EXTRINSIC = re.compile(r"extrinsic\s+([A-Za-z][\w-]*)", re.I)
_PO_UNKNOWN = re.compile(r"\bPO\b.*\bnot found|\bPO number\b.*\b(invalid|unknown)", re.I)
_CONTRACT_UNKNOWN = re.compile(r"contract\b.*\bnot found", re.I)
_UOM = re.compile(r"\bUOM\b|unit of measure", re.I)
_TAX_ID = re.compile(r"tax ?id", re.I)
_NON_PO = re.compile(r"non-?PO|INV-143", re.I)


def _propose(
    profile_id: str, category: str, members: list[Rejection], accepted: Sequence[Invoice]
) -> Suggestion:
    text = members[0].text
    rule_id = f"{profile_id}-learned"
    if match := _BACKDATED.search(text):
        days = int(match.group(1))
        return Suggestion(
            f"the buyer refuses invoices back-dated more than {days} days",
            category,
            snippet=_yaml(
                f"{rule_id}-backdating",
                ["field: invoice_date", f"within_days: {{past: {days}, future: 0}}"],
                f"the buyer accepts invoice dates at most {days} days back",
                "Re-date the invoice to today in AR, or ask the buyer's AP for an exception.",
            ),
        )
    if match := _EXTRINSIC.search(text):
        name = match.group(1)
        return Suggestion(
            f"the buyer requires the {name} extrinsic",
            category,
            snippet=_yaml(
                f"{rule_id}-{name.lower()}",
                [f"document: \"//InvoiceDetailRequestHeader/Extrinsic[@name='{name}']\"", "required: true"],
                f"the buyer requires {name} on every invoice",
                f"Set {name} on the invoice in AR.",
            ),
        )
    if _TAX_ID.search(text):
        return Suggestion(
            "the buyer requires the supplier's tax ID",
            category,
            snippet=_yaml(
                f"{rule_id}-tax-id",
                ["field: supplier.tax_id", "required: true"],
                "the buyer requires our tax ID on invoices",
                "Set supplier.tax_id in the hub configuration.",
            ),
        )
    if _NON_PO.search(text):
        return Suggestion(
            "the buyer refuses invoices without a PO",
            category,
            snippet=_yaml(
                f"{rule_id}-po-required",
                ["field: po_number", "required: true"],
                "the buyer accepts only PO-backed invoices",
                "Enter the customer's PO number in AR.",
            ),
        )
    if _PO_UNKNOWN.search(text):
        known = sorted({i.po_number for i in accepted if i.po_number})
        return _listed(
            rule_id,
            "po-numbers",
            "po_number",
            "PO numbers the buyer accepted",
            known,
            category,
            "Check the PO number against the customer's PO.",
        )
    if _CONTRACT_UNKNOWN.search(text):
        known = sorted({i.contract_number for i in accepted if i.contract_number})
        return _listed(
            rule_id,
            "contracts",
            "contract_number",
            "contracts the buyer accepted",
            known,
            category,
            "Check the contract number against the customer's agreement.",
        )
    if _UOM.search(text):
        known = sorted({line.unit_of_measure for i in accepted for line in i.lines})
        return Suggestion(
            "the buyer refuses units of measure that differ from the PO",
            category,
            snippet=_yaml(
                f"{rule_id}-uom",
                ['field: "lines[*].unit_of_measure"', f"one_of: [{', '.join(known)}]"],
                "the unit of measure must be one the buyer's POs use ({value} is not)",
                "Use the unit of measure of the PO line.",
            ),
        )
    if category == "duplicate":
        return Suggestion(
            "invoice numbers already used at the portal",
            category,
            snippet="# No rule can see the portal's history: check the AR numbering (a number keyed at the\n"
            "# portal by hand, or reused after a void). Reissue under a new number where needed.",
        )
    return Suggestion(
        f"{category}: no rule could be derived from the portal's words",
        category,
        snippet=f"# {text}\n# Write a rule for this by hand (docs/rules.md); add the invoices above as `examples:`.",
    )


def _listed(
    rule_id: str, name: str, field_name: str, what: str, values: list[str], category: str, hint: str
) -> Suggestion:
    list_name = name.replace("-", "_")
    file_name = f"{rule_id.removesuffix('-learned')}-{name}.csv"
    snippet = (
        f"# {what}, from the invoices it accepted (review before use):\n"
        f"reference:\n  {list_name}: {{file: {file_name}}}\nrules:\n"
        + _yaml(
            f"{rule_id}-{name}",
            [f"field: {field_name}", f"one_of_ref: {list_name}"],
            f"{{value}} is not one of the {what}",
            hint,
            indent=2,
        )
    )
    return Suggestion(
        f"{field_name} values the buyer does not know",
        category,
        snippet=snippet,
        reference_file=(file_name, values),
    )


def _yaml(rule_id: str, body: list[str], message: str, hint: str, indent: int = 0) -> str:
    pad = " " * indent
    lines = [f"{pad}- id: {rule_id}"] + [f"{pad}  {line}" for line in body]
    lines += [f'{pad}  message: "{message}"', f'{pad}  hint: "{hint}"']
    return "\n".join(lines)


def caught_share(blocked_before_sending: int, rejected_by_portal: int) -> float | None:
    """How many problems pre-flight caught, of all it could have: the measure of the rules files."""
    total = blocked_before_sending + rejected_by_portal
    return blocked_before_sending / total if total else None
