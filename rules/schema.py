"""The rules file: one per customer portal, maintained by AR operations, reviewed like code.

A rules file is also the *profile* of that customer portal: which connector, which AR customers it
serves, how to reach it (secrets only by reference) and what the buyer demands of every invoice.
Baselines (`rules/baselines/*.yaml`) carry portal-wide rules and are pulled in with `extends`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.rule import RULE_ID, Rule

SECRET_REFERENCE = re.compile(r"^(env|file|secret):\S+$")
#: Keys under `connection` that hold secrets (the key ends with one of these words, e.g. shared_secret,
#: client_secret, access_token, totp_seed); their values must be references, never the secret itself.
SECRET_KEY = re.compile(
    r"(^|_)(secret|password|passphrase|totp|seed|private_key|client_key|api_key|token|mac_key)$", re.I
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ReferenceList(_Strict):
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


class ExampleInvoice(_Strict):
    """An example's invoice: a canonical JSON file (`from`, relative to the rules file) with fields
    overridden by path (`set`, e.g. {"lines[0].unit_of_measure": "bx"})."""

    from_: str = Field(alias="from")
    set: dict[str, Any] = Field(default_factory=dict)


class Example(_Strict):
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


class RuleSet(_Strict):
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


class Match(_Strict):
    """Which AR invoices this profile takes."""

    customer_id: list[str] = Field(min_length=1)


class Limits(_Strict):
    per_minute: int = Field(default=30, ge=1, le=6000)


class RulesFile(RuleSet):
    """A customer portal profile: a rule set plus who, where and how."""

    buyer: str
    connector: str
    match: Match
    connection: dict[str, Any] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)

    @field_validator("connection")
    @classmethod
    def _secrets_by_reference(cls, connection: dict[str, Any]) -> dict[str, Any]:
        for location, _value in literal_secrets(connection):
            raise ValueError(secret_message(location))
        return connection


def literal_secrets(value: Any, location: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(location, value) of every secret-named key whose value is not a secret reference."""
    found: list[tuple[tuple[str, ...], Any]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            here = (*location, str(key))
            if SECRET_KEY.search(str(key)) and not isinstance(inner, dict):
                if not (isinstance(inner, str) and SECRET_REFERENCE.match(inner)):
                    found.append((here, inner))
            else:
                found.extend(literal_secrets(inner, here))
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            found.extend(literal_secrets(inner, (*location, str(position))))
    return found


def secret_message(location: tuple[str, ...]) -> str:
    return (
        f"connection.{'.'.join(location)} holds a secret; a rules file may only reference it, e.g. "
        "'env:ACME_COUPA_SECRET' (environment) or 'secret:acme_coupa' (the secrets file)"
    )


class Profile(_Strict):
    """A rules file with its `extends` resolved: the effective rules, in order, and where they came from."""

    id: str
    buyer: str
    connector: str
    match: Match
    connection: dict[str, Any]
    limits: Limits
    rules: list[Rule]
    version: str | None = None
    effective_from: date | None = None
    sources: list[str]  # files, most specific first
    fingerprint: str  # hash of the effective rules: records which rules validated an invoice
    #: rule id -> "file:line" where the effective version of the rule is written
    origins: dict[str, str] = Field(default_factory=dict)
    #: reference list name -> its values (loaded from the files named in `reference:`)
    reference: dict[str, frozenset[str]] = Field(default_factory=dict)
    #: rule id -> absolute path of the DTD/XSD a `document_schema` rule names
    schema_files: dict[str, str] = Field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
