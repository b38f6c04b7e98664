"""The rules file: one per customer portal, maintained by AR operations, reviewed like code.

A rules file is also the *profile* of that customer portal: which connector, which AR customers it
serves, how to reach it (secrets only by reference) and what the buyer demands of every invoice.
Baselines (`rules/baselines/*.yaml`) carry portal-wide rules and are pulled in with `extends`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.model import RejectionCategory

RULE_ID = r"^[a-z0-9][a-z0-9._-]*$"
SECRET_REFERENCE = re.compile(r"^(env|file|secret):\S+$")
#: Keys under `connection` that hold secrets (the key ends with one of these words, e.g. shared_secret,
#: client_secret, access_token, totp_seed); their values must be references, never the secret itself.
SECRET_KEY = re.compile(
    r"(^|_)(secret|password|passphrase|totp|seed|private_key|client_key|api_key|token|mac_key)$", re.I
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LengthRange(_Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class WithinDays(_Strict):
    """A date may lie at most `past` days before and `future` days after today."""

    past: int | None = Field(default=None, ge=0)
    future: int | None = Field(default=None, ge=0)


CONSTRAINTS = ("required", "pattern", "one_of", "length", "min", "max", "within_days")


class Rule(_Strict):
    """One check. It targets a canonical `field` (with `[*]` over lists) or an XPath in the rendered
    `document`, and carries one or more constraints. Absent values only fail `required`."""

    id: str = Field(pattern=RULE_ID)
    field: str | None = None
    document: str | None = None
    required: bool | None = None
    pattern: str | None = None
    one_of: list[str] | None = None
    length: LengthRange | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    within_days: WithinDays | None = None
    message: str | None = None  # may use {field} and {value}
    hint: str | None = None  # what to change in the AR system
    severity: Literal["error", "warning"] = "error"
    category: RejectionCategory | None = None
    disabled: bool = False  # switches off an inherited rule of the same id

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern {value!r} is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _well_formed(self) -> Rule:
        if self.disabled:
            return self
        if (self.field is None) == (self.document is None):
            raise ValueError(
                "a rule targets exactly one of `field` (canonical invoice) or `document` (XPath)"
            )
        # `is not`, not `not in`: min: 0 is a constraint, and Decimal(0) == False.
        if not any(
            getattr(self, name) is not None and getattr(self, name) is not False for name in CONSTRAINTS
        ):
            raise ValueError(f"a rule needs at least one constraint: {', '.join(CONSTRAINTS)}")
        if self.document is not None and self.within_days is not None:
            raise ValueError("within_days applies to date fields of the invoice, not to document XPaths")
        return self


class RuleSet(_Strict):
    """A baseline: rules without a connection, shared by every profile of a portal family."""

    id: str = Field(pattern=RULE_ID)
    description: str | None = None
    version: str | None = None
    extends: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

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
    effective_from: date | None = None

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

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
