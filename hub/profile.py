"""The portal profile: which customer portal, which AR customers it serves, and how to reach it.

This is what a connector, the status sync and the daemon need to know about a customer portal: who
(`id`, `buyer`), which AR invoices (`match`), where and how (`connector`, `connection`, `limits`). The
buyer's field rules are not here: the rules language (`rules.schema.Profile`) extends this class with
them, so everything below the rules language works with a `PortalProfile` alone.

`Strict` is the one base for every settings block the hub reads from a file (profiles, connection
settings, AR adapter settings, the hub configuration): unknown keys are errors, values are frozen.
Its schema is built when a class first validates (`defer_build`): a command that imports a settings
class without reading one (the read-only commands import the profile for its types) does not pay for it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub.secrets import literal_secrets, secret_message

__all__ = ["Limits", "Match", "PortalProfile", "Strict"]


class Strict(BaseModel):
    """Settings read from a file: a misspelt key is an error, not a silently ignored line."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Match(Strict):
    """Which AR invoices this profile takes."""

    customer_id: list[str] = Field(min_length=1)


class Limits(Strict):
    per_minute: int = Field(default=30, ge=1, le=6000)


def _references_only(connection: dict[str, Any]) -> dict[str, Any]:
    for location, _value in literal_secrets(connection):
        raise ValueError(secret_message(location))
    return connection


#: A `connection:` block: the family's own settings, where every secret is a reference, never the value.
Connection = Annotated[dict[str, Any], AfterValidator(_references_only)]


class PortalProfile(Strict):
    """One customer portal: who, which AR customers, where and how (secrets only by reference)."""

    id: str
    buyer: str
    connector: str
    match: Match
    connection: Connection = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    version: str | None = None
    effective_from: date | None = None
    #: the files this profile was read from, most specific first (relative paths in `connection`,
    #: e.g. certificates, are relative to the first)
    sources: list[str] = Field(default_factory=list)
