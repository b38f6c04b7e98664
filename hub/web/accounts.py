"""Users, roles and API tokens of the web pages and the HTTP API (kept in the store: hub/store/accounts.py).

Roles: `viewer` reads; `collector` also acts on invoices (of the customers listed on the user, or of
every customer when none is listed); `admin` acts on everything. A user without a role (or disabled)
is refused everything. Passwords are hashed with argon2id (argon2-cffi, its current parameters); API
tokens are 32 random bytes shown once, kept as SHA-256 and revocable.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import col, select

from hub.errors import ConfigError
from hub.store.accounts import TokenRow, UserRow

if TYPE_CHECKING:
    from hub.store.database import Store

ROLES = ("viewer", "collector", "admin")
TOKEN_PREFIX = "phub_"
_HASHER = PasswordHasher()
#: Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class AccountError(ConfigError):
    """A user or token command that cannot be done as asked (unknown user, name taken, bad role)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in user (`web:<name>`) or an API token (`api:<token name>`)."""

    name: str
    role: str
    actor: str
    customers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def can_read(self) -> bool:
        return self.role in ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_act_on(self, customer_id: str) -> bool:
        """May this principal change an invoice of `customer_id` (resubmit, cancel, notes, owner)?"""
        if self.role == "admin":
            return True
        return self.role == "collector" and (not self.customers or customer_id in self.customers)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def _customers(row: UserRow) -> tuple[str, ...]:
    return tuple(row.customers.split())


def add_user(
    store: Store,
    name: str,
    password: str,
    role: str,
    *,
    customers: tuple[str, ...] = (),
    by: str,
    now: datetime,
) -> None:
    """Create a user (names are unique; passwords of at least 10 characters)."""
    _check_role(role)
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise AccountError("a user name is 1 to 100 characters without spaces")
    if len(password) < 10:
        raise AccountError("a password has at least 10 characters")
    with store.session() as session:
        if session.exec(select(UserRow).where(col(UserRow.name) == name)).first() is not None:
            raise AccountError(f"user {name!r} exists already")
        session.add(
            UserRow(
                name=name,
                password_hash=_HASHER.hash(password),
                role=role,
                customers=" ".join(customers),
                created_at=now,
                created_by=by,
            )
        )


def list_users(store: Store) -> list[dict[str, Any]]:
    """Every user with role, customers, state and tokens (never a hash)."""
    with store.session() as session:
        users = session.exec(select(UserRow).order_by(col(UserRow.name))).all()
        tokens = session.exec(select(TokenRow).order_by(col(TokenRow.name))).all()
    return [
        {
            "name": u.name,
            "role": u.role or None,
            "customers": list(_customers(u)),
            "disabled": u.disabled_at is not None,
            "created_at": u.created_at.isoformat(),
            "tokens": [t.name for t in tokens if t.user_id == u.id and t.revoked_at is None],
        }
        for u in users
    ]


def list_tokens(store: Store) -> list[dict[str, Any]]:
    """Every API token (name, whose, role, when used, revoked): never the token or its hash."""
    with store.session() as session:
        names = {u.id: u.name for u in session.exec(select(UserRow))}
        tokens = session.exec(select(TokenRow).order_by(col(TokenRow.name))).all()
    return [
        {
            "name": t.name,
            "user": names.get(t.user_id) if t.user_id else None,
            "role": t.role or None,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked": t.revoked_at is not None,
        }
        for t in tokens
    ]


def disable_user(store: Store, name: str, now: datetime) -> None:
    """Disable a user: no login, its sessions and tokens refused from the next request on."""
    with store.session() as session:
        row = session.exec(select(UserRow).where(col(UserRow.name) == name)).first()
        if row is None:
            raise AccountError(f"no user {name!r}")
        row.disabled_at = row.disabled_at or now
        session.add(row)


def create_token(
    store: Store, name: str, *, user: str | None, role: str | None, by: str, now: datetime
) -> str:
    """A new API token, returned once (only its SHA-256 is kept): a user's (`user`, acting with the
    user's role) or a system's (`role`)."""
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise AccountError("a token name is 1 to 100 characters without spaces")
    if (user is None) == (role is None):
        raise AccountError("a token is either a user's (--user) or a system's with its own role (--role)")
    if role is not None:
        _check_role(role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.session() as session:
        if session.exec(select(TokenRow).where(col(TokenRow.name) == name)).first() is not None:
            raise AccountError(f"a token named {name!r} exists already")
        user_id = None
        if user is not None:
            owner = session.exec(select(UserRow).where(col(UserRow.name) == user)).first()
            if owner is None:
                raise AccountError(f"no user {user!r}")
            user_id = owner.id
        session.add(
            TokenRow(
                name=name,
                user_id=user_id,
                role=role or "",
                token_hash=token_digest(token),
                created_at=now,
                created_by=by,
            )
        )
    return token


def revoke_token(store: Store, name: str, now: datetime) -> None:
    with store.session() as session:
        row = session.exec(select(TokenRow).where(col(TokenRow.name) == name)).first()
        if row is None:
            raise AccountError(f"no token {name!r}")
        row.revoked_at = row.revoked_at or now
        session.add(row)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def login(store: Store, name: str, password: str) -> Principal | None:
    """The user, when the name and password match an enabled account (None otherwise, whatever the
    reason: the page tells nobody which part was wrong)."""
    with store.session() as session:
        row = session.exec(select(UserRow).where(col(UserRow.name) == name)).first()
        if row is None:
            _verify(_DUMMY_HASH, password)
            return None
        if not _verify(row.password_hash, password) or row.disabled_at is not None:
            return None
        if _HASHER.check_needs_rehash(row.password_hash):
            row.password_hash = _HASHER.hash(password)
            session.add(row)
        return _principal(row)


def _verify(digest: str, password: str) -> bool:
    try:
        return _HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


def _principal(row: UserRow) -> Principal:
    return Principal(name=row.name, role=row.role, actor=f"web:{row.name}", customers=_customers(row))


def session_user(store: Store, name: str) -> Principal | None:
    """The user a session cookie names, as it is now (a disabled user's session stops working)."""
    with store.session() as session:
        row = session.exec(select(UserRow).where(col(UserRow.name) == name)).first()
    if row is None or row.disabled_at is not None:
        return None
    return _principal(row)


def token_principal(store: Store, token: str, now: datetime) -> Principal | None:
    """Who an API token acts as (None: unknown, revoked, or its user disabled)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with store.session() as session:
        row = session.exec(select(TokenRow).where(col(TokenRow.token_hash) == token_digest(token))).first()
        if row is None or row.revoked_at is not None:
            return None
        role, customers = row.role, cast(tuple[str, ...], ())
        if row.user_id is not None:
            owner = session.get(UserRow, row.user_id)
            if owner is None or owner.disabled_at is not None:
                return None
            role, customers = owner.role, _customers(owner)
        # Written at most once a minute: a busy integration must not turn every read into a write.
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            row.last_used_at = now
            session.add(row)
        return Principal(name=row.name, role=role, actor=f"api:{row.name}", customers=customers)
