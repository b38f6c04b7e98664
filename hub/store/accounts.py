"""The web's tables: who may use the hub's pages and API, and what collectors keep on an invoice.

- `users`: people who log in to the pages (argon2 password hashes), their role and, for collectors,
  the customers whose invoices they act on (empty: all);
- `api_tokens`: tokens for the HTTP API, a person's or a system's (only a SHA-256 of the token is kept);
- `invoice_followups`: an invoice's owner and follow-up date (the notes themselves are audit events).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from hub.store.types import UTCDateTime


def _instant(nullable: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class UserRow(SQLModel, table=True):
    """A person who uses the web pages. `role` is viewer | collector | admin, or empty: no access."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(default="", max_length=20)
    #: Space-separated customer ids a collector acts on; empty: every customer.
    customers: str = Field(default="", max_length=2000)
    created_at: datetime = Field(sa_column=_instant())
    created_by: str = Field(max_length=200)
    disabled_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class TokenRow(SQLModel, table=True):
    """An API token: a user's (acts with the user's role) or a system's (its own role, no user)."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    role: str = Field(default="", max_length=20)  # a system token's role (a user's token: the user's)
    #: SHA-256 of the token (hex): tokens are 32 random bytes, so a fast hash is enough to keep at rest.
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=_instant())
    created_by: str = Field(max_length=200)
    last_used_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class FollowUpRow(SQLModel, table=True):
    """Who owns an invoice's problem and when to look at it again (each change is also an audit event)."""

    __tablename__ = "invoice_followups"

    invoice_id: int = Field(foreign_key="invoices.id", primary_key=True)
    owner: str | None = Field(default=None, max_length=100)
    follow_up_on: date | None = None
    updated_at: datetime = Field(sa_column=_instant())
    updated_by: str = Field(max_length=200)
