"""`portalhub rules suggest`: rules that would have caught the portal's rejections before sending.

Input: the rejections and disputes a portal returned for one profile that no pre-flight rule caught
(with the portal's words verbatim), and the invoices the portal accepted (evidence of what works).
Output: grouped suggestions, each a YAML snippet with its evidence. Nothing is ever applied: AR
operations review the snippet and put it in the rules file themselves.

Portals say the same thing in different words ("back-dated more than 2 days" on Coupa, "TRC-017: The
invoice can only be back-dated by 2 calendar days" from an Ariba buyer), so rejections are read against
a vocabulary (`VOCABULARY`, grown from ../shared/refs/PORTALS.md and the baselines' citations) and
grouped by the rule they point at, not by their wording; the evidence says which rejections, how many,
and which wording matched. An allow-list is proposed only from values the portal accepted at least
twice: a value seen once is an anecdote, and a list of them blocks the next legitimate value.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    #: which wordings of the vocabulary matched, with how many rejections each (e.g. {"Ariba: can only be
    #: back-dated by N calendar days": 1})
    wordings: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.evidence)


def shape(text: str) -> str:
    """The portal's words with invoice numbers, amounts and dates masked, so alike rejections group."""
    return " ".join(_NUMBERS.sub("#", text.lower()).split())


#: An allow-list takes only values the portal accepted on at least this many invoices.
MIN_SEEN = 2
_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "fourteen": 14, "fifteen": 15, "thirty": 30,
}  # fmt: skip
_N = r"(\d+|" + "|".join(_WORD_NUMBERS) + r")"


@dataclass(frozen=True)
class Wording:
    """One way portals say a rule was broken: which rule it points at (`kind`), and where it is seen."""

    kind: str
    pattern: re.Pattern[str]
    seen: str  # the portal and its words, as PORTALS.md or a baseline cites them


VOCABULARY: tuple[Wording, ...] = (
    Wording("backdating", re.compile(rf"back-?dated\s+(?:by\s+)?more\s+than\s+{_N}\s+(?:calendar\s+)?days?", re.I), "Coupa: back-dated more than N days"),
    Wording("backdating", re.compile(rf"(?:can|may)\s+only\s+be\s+back-?dated\s+(?:by\s+)?{_N}\s+(?:calendar\s+)?days?", re.I), "Ariba buyer rule: can only be back-dated by N calendar days"),
    Wording("backdating", re.compile(rf"(?:older|earlier)\s+than\s+{_N}\s+(?:calendar\s+)?days?", re.I), "invoice date older than N days"),
    Wording("extrinsic", re.compile(r"extrinsic\s+([A-Za-z][\w-]*)", re.I), "Coupa: Missing tags: Extrinsic X is required"),
    Wording("tax_id", re.compile(r"\bINV-98\b|tax ?id", re.I), "Ariba INV-98: tax ID missing"),
    Wording("non_po", re.compile(r"\bINV-143\b|non-?PO", re.I), "Ariba INV-143: cannot create a non-PO invoice"),
    Wording("po_unknown", re.compile(r"\bPO\b.*\bnot found|\bPO number\b.*\b(invalid|unknown)|invalid order/document reference|\bINV-13\b|obsolete or (a )?duplicate order|invalid PO line item", re.I), "Coupa 417 Invalid order/document reference; Ariba INV-13 obsolete order; PO not found"),
    Wording("contract_unknown", re.compile(r"contract\b.*\bnot found", re.I), "contract not found"),
    Wording("uom", re.compile(r"\bUOM\b|unit of measure", re.I), "Coupa 500: invalid UOM"),
    Wording("invoice_number", re.compile(r"\bINVOICE_NO_ID\b|no invoice number", re.I), "Ariba INVOICE_NO_ID"),
    Wording("duplicate", re.compile(r"\bINVOICE_DUPLICATE\b|already been (used|received)", re.I), "Ariba INVOICE_DUPLICATE; Coupa 417 number already used"),
    Wording("document_schema", re.compile(r"did not validate successfully with DTD|could not parse cXML", re.I), "Coupa 406: did not validate with the DTD"),
)  # fmt: skip


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _WORD_NUMBERS[word.lower()]


def _meaning(rejection: Rejection) -> tuple[str, Wording | None, re.Match[str] | None]:
    """The rule a rejection points at (a key: alike rejections in other words share it)."""
    for wording in VOCABULARY:
        match = wording.pattern.search(rejection.text)
        if match:
            if wording.kind == "backdating":
                return f"backdating:{_number(match.group(1))}", wording, match
            if wording.kind == "extrinsic":
                return f"extrinsic:{match.group(1)}", wording, match
            return wording.kind, wording, match
    if rejection.category == "duplicate":
        return "duplicate", None, None
    return f"other:{rejection.category or 'other'}:{shape(rejection.text)}", None, None


def suggest(
    profile_id: str, rejections: Sequence[Rejection], accepted: Sequence[Invoice]
) -> list[Suggestion]:
    groups: dict[str, list[tuple[Rejection, Wording | None, re.Match[str] | None]]] = defaultdict(list)
    for rejection in rejections:
        key, wording, match = _meaning(rejection)
        groups[key].append((rejection, wording, match))
    suggestions = []
    for key, members in sorted(groups.items(), key=lambda item: -len(item[1])):
        rejection, _, match = members[0]
        category = rejection.category or "other"
        suggestion = _propose(profile_id, key, category, rejection.text, match, accepted)
        suggestion.evidence = [(r.invoice_number, r.text) for r, _, _ in members]
        wordings: dict[str, int] = defaultdict(int)
        for _, wording, _ in members:
            wordings[wording.seen if wording else "the portal's own words"] += 1
        suggestion.wordings = dict(wordings)
        suggestions.append(suggestion)
    return suggestions


def _propose(
    profile_id: str,
    key: str,
    category: str,
    text: str,
    match: re.Match[str] | None,
    accepted: Sequence[Invoice],
) -> Suggestion:
    rule_id = f"{profile_id}-learned"
    kind = key.split(":", 1)[0]
    if kind == "backdating":
        days = int(key.split(":")[1])
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
    if kind == "extrinsic":
        name = key.split(":", 1)[1]
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
    if kind == "tax_id":
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
    if kind == "non_po":
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
    if kind == "invoice_number":
        return Suggestion(
            "the portal refuses invoices without a number",
            category,
            snippet=_yaml(
                f"{rule_id}-invoice-number",
                ["field: invoice_number", "required: true"],
                "every invoice needs its number",
                "Give the invoice its number in AR.",
            ),
        )
    if kind == "po_unknown":
        return _listed(
            rule_id,
            "po-numbers",
            "po_number",
            "PO numbers the buyer accepted",
            _seen_twice(i.po_number for i in accepted),
            category,
            "Check the PO number against the customer's PO.",
        )
    if kind == "contract_unknown":
        return _listed(
            rule_id,
            "contracts",
            "contract_number",
            "contracts the buyer accepted",
            _seen_twice(i.contract_number for i in accepted),
            category,
            "Check the contract number against the customer's agreement.",
        )
    if kind == "uom":
        known = _seen_twice(sorted({line.unit_of_measure for line in i.lines}) for i in accepted)
        if not known:
            return Suggestion(
                "the buyer refuses units of measure that differ from the PO",
                category,
                snippet="# No unit was accepted on two invoices yet: too little to list. Compare the unit of\n"
                "# measure with the PO line by hand; `portalhub rules suggest` proposes a list once it has one.",
            )
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
    if kind == "duplicate":
        return Suggestion(
            "invoice numbers already used at the portal",
            category,
            snippet="# No rule can see the portal's history: check the AR numbering (a number keyed at the\n"
            "# portal by hand, or reused after a void). Reissue under a new number where needed.",
        )
    if kind == "document_schema":
        return Suggestion(
            "the portal refuses documents its DTD does not accept",
            category,
            snippet="# Add a document_schema rule with the portal's DTD (docs/rules.md, Document rules), e.g.\n"
            "# - id: " + rule_id + "-dtd\n#   document_schema: {dtd: refs:cxml/<version>/InvoiceDetail.dtd}",
        )
    return Suggestion(
        f"{category}: no rule could be derived from the portal's words",
        category,
        snippet=f"# {text}\n# Write a rule for this by hand (docs/rules.md); add the invoices above as `examples:`.",
    )


def _seen_twice(values: Iterable[Any]) -> list[str]:
    """Values accepted on at least MIN_SEEN invoices (each invoice counts once), sorted."""
    counts: Counter[str] = Counter()
    for value in values:
        if isinstance(value, list):
            counts.update(str(v) for v in value if v)
        elif value:
            counts[str(value)] += 1
    return sorted(value for value, seen in counts.items() if seen >= MIN_SEEN)


def _listed(
    rule_id: str, name: str, field_name: str, what: str, values: list[str], category: str, hint: str
) -> Suggestion:
    if not values:
        return Suggestion(
            f"{field_name} values the buyer does not know",
            category,
            snippet=f"# No {field_name} was accepted on {MIN_SEEN} invoices yet: an allow-list of values seen\n"
            f"# once would block the next legitimate one. {hint}",
        )
    list_name = name.replace("-", "_")
    file_name = f"{rule_id.removesuffix('-learned')}-{name}.csv"
    snippet = (
        f"# {what} on at least {MIN_SEEN} invoices (review before use):\n"
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
