"""The rules file: one per customer portal, maintained by AR operations, reviewed like code.

A rules file is also the *profile* of that customer portal: which connector, which AR customers it
serves, how to reach it (secrets only by reference) and what the buyer demands of every invoice.
Baselines (`rules/baselines/*.yaml`) carry portal-wide rules and are pulled in with `extends`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, field_validator, model_validator

from hub.profile import Connection, Limits, Match, PortalProfile, Strict
from rules.rule import RULE_ID, Rule

__all__ = ["Example", "ExampleInvoice", "Limits", "Match", "Profile", "ReferenceList", "RuleSet", "RulesFile"]


class ReferenceList(Strict):
    """Values a rule may check against (`one_of_ref`), from a CSV or YAML file beside the rules file
    (a CSV's `column`, its first one by default) or written inline as `values`."""

    file: str | None = None
    column: str | None = None
    values: list[str] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ReferenceList:
        if (self.file is None) == (self.values is None):
            raise ValueError("a reference list has either `file:` or `values:`")
        return self


class ExampleInvoice(Strict):
    """An example's invoice: a canonical JSON file (`from`, relative to the rules file) with fields
    overridden by path (`set`, e.g. {"lines[0].unit_of_measure": "bx"})."""

    from_: str = Field(alias="from")
    set: dict[str, Any] = Field(default_factory=dict)


class Example(Strict):
    """A rule test carried by the rules file: this whole invoice, run through every rule of the profile
    (baselines included), breaks exactly the rules in `fails` (none when `fails` is empty)."""

    name: str
    invoice: str | ExampleInvoice
    today: date | None = None  # for within_days rules; the invoice date when absent
    passes: list[str] = Field(default_factory=list)
    fails: list[str] = Field(default_factory=list)
    connector: str | None = None  # renders the document for document rules (a baseline has none)

    @model_validator(mode="after")
    def _says_something(self) -> Example:
        both = set(self.passes) & set(self.fails)
        if both:
            raise ValueError(f"rule(s) {sorted(both)} cannot both pass and fail")
        return self


class RuleSet(Strict):
    """A baseline: rules without a connection, shared by every profile of a portal family."""

    id: str = Field(pattern=RULE_ID)
    description: str | None = None
    version: str | None = None
    effective_from: date | None = None
    extends: list[str] = Field(default_factory=list)
    reference: dict[str, ReferenceList] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique_rule_ids(cls, rules: list[Rule]) -> list[Rule]:
        # A field validator, so the problem points at `rules:` rather than at the top of the file.
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice in this file; ids must be unique")
            seen.add(rule.id)
        return rules


class RulesFile(RuleSet):
    """A customer portal profile as written: a rule set plus who, where and how."""

    buyer: str
    connector: str
    match: Match
    connection: Connection = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)


class Profile(PortalProfile):
    """A rules file with its `extends` resolved: the portal profile (who, where, how) plus the effective
    rules, in order, and where they came from."""

    rules: list[Rule]
    fingerprint: str  # hash of the effective rules: records which rules validated an invoice
    #: rule id -> "file:line" where the effective version of the rule is written
    origins: dict[str, str] = Field(default_factory=dict)
    #: reference list name -> its values (loaded from the files named in `reference:`)
    reference: dict[str, frozenset[str]] = Field(default_factory=dict)
    #: rule id -> absolute path of the DTD/XSD a `document_schema` rule names
    schema_files: dict[str, str] = Field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
