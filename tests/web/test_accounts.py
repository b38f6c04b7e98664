"""Users and tokens in the store (argon2 hashes, tokens hashed at rest, disable, revoke, roles), the
login throttle, and the CLI's `users` commands: on SQLite, and on PostgreSQL where the server is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from hub.store.accounts import TokenRow, UserRow
from hub.store.database import Store
from hub.web.accounts import (
    AccountError,
    Principal,
    add_user,
    create_token,
    disable_user,
    list_tokens,
    list_users,
    login,
    revoke_token,
    session_user,
    token_digest,
    token_principal,
)
from hub.web.security import LoginThrottle, csrf_ok, csrf_token

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PASSWORD = "a long enough password"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Store:
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def test_passwords_are_argon2_hashes_and_logins_check_them(store: Store) -> None:
    add_user(store, "cole", PASSWORD, "collector", customers=("C-1001",), by="test", now=NOW)
    with store.session() as session:
        row = session.exec(select(UserRow)).one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    who = login(store, "cole", PASSWORD)
    assert who == Principal(name="cole", role="collector", actor="web:cole", customers=("C-1001",))
    assert login(store, "cole", PASSWORD + "x") is None
    assert login(store, "nobody", PASSWORD) is None
    assert who.can_act_on("C-1001") and not who.can_act_on("C-2002")


def test_roles_decide_reading_and_acting() -> None:
    viewer = Principal("v", "viewer", "web:v")
    everyone = Principal("c", "collector", "web:c")
    admin = Principal("a", "admin", "web:a", customers=("C-1",))
    none = Principal("n", "", "web:n")
    assert viewer.can_read and not viewer.can_act_on("C-1")
    assert everyone.can_act_on("C-1") and everyone.can_act_on("C-2")
    assert admin.can_act_on("C-2") and admin.is_admin
    assert not none.can_read and not none.can_act_on("C-1")


def test_bad_users_are_refused_with_the_reason(store: Store) -> None:
    with pytest.raises(AccountError, match="unknown role"):
        add_user(store, "x", PASSWORD, "boss", by="t", now=NOW)
    with pytest.raises(AccountError, match="10 characters"):
        add_user(store, "x", "short", "viewer", by="t", now=NOW)
    add_user(store, "x", PASSWORD, "viewer", by="t", now=NOW)
    with pytest.raises(AccountError, match="exists already"):
        add_user(store, "x", PASSWORD, "viewer", by="t", now=NOW)


def test_tokens_are_hashed_at_rest_revocable_and_die_with_their_user(store: Store) -> None:
    add_user(store, "ada", PASSWORD, "admin", by="t", now=NOW)
    mine = create_token(store, "ada-laptop", user="ada", role=None, by="t", now=NOW)
    system = create_token(store, "erp", user=None, role="viewer", by="t", now=NOW)
    with store.session() as session:
        kept = {t.name: t.token_hash for t in session.exec(select(TokenRow))}
    assert kept == {"ada-laptop": token_digest(mine), "erp": token_digest(system)}
    assert mine not in str(kept)
    assert token_principal(store, mine, NOW) == Principal("ada-laptop", "admin", "api:ada-laptop")
    assert token_principal(store, system, NOW) == Principal("erp", "viewer", "api:erp")
    assert token_principal(store, "phub_guess", NOW) is None
    assert list_tokens(store)[0]["last_used_at"] == NOW.isoformat()
    revoke_token(store, "erp", NOW)
    assert token_principal(store, system, NOW) is None
    disable_user(store, "ada", NOW)
    assert token_principal(store, mine, NOW) is None
    assert session_user(store, "ada") is None and login(store, "ada", PASSWORD) is None
    assert list_users(store)[0]["disabled"] is True
    with pytest.raises(AccountError, match="either a user's"):
        create_token(store, "both", user="ada", role="viewer", by="t", now=NOW)


def test_the_throttle_refuses_after_five_failures_per_name_until_they_age_out() -> None:
    now = [0.0]
    throttle = LoginThrottle(attempts=5, window=900, clock=lambda: now[0], address_attempts=8)
    for _ in range(5):
        assert throttle.retry_after("user:ada", "ip:1.2.3.4") == 0
        throttle.failed("user:ada", "ip:1.2.3.4")
    assert throttle.retry_after("user:ada", "ip:1.2.3.4") == 901
    assert throttle.retry_after("user:cole", "ip:1.2.3.4") == 0  # the address has 3 failures left
    for _ in range(3):
        throttle.failed("user:cole", "ip:1.2.3.4")
    assert throttle.retry_after("user:vic", "ip:1.2.3.4") > 0  # the address is spent
    now[0] = 901.0
    assert throttle.retry_after("user:ada", "ip:1.2.3.4") == 0


def test_csrf_tokens_belong_to_their_session() -> None:
    mine: dict[str, object] = {}
    theirs: dict[str, object] = {}
    token = csrf_token(mine)
    assert csrf_token(mine) == token and csrf_ok(mine, token)
    assert not csrf_ok(theirs, token) and not csrf_ok(mine, None) and not csrf_ok(mine, token + "x")
    assert csrf_token(theirs) != token


def test_the_users_commands(tmp_path: Path) -> None:
    import yaml

    from cli import app
    from hub.demo.workspace import DEMO_SUPPLIER

    config = tmp_path / "portalhub.yaml"
    (tmp_path / "exports").mkdir()
    (tmp_path / "rules.d").mkdir()
    config.write_text(
        yaml.safe_dump(
            {
                "store_url": "sqlite:///hub.db",
                "rules_dir": "rules.d",
                "supplier": DEMO_SUPPLIER,
                "ar": {"kind": "files", "folder": "exports"},
            }
        )
    )
    runner = CliRunner()
    base = ["--config", str(config)]
    assert runner.invoke(app, [*base, "migrate"]).exit_code == 0
    added = runner.invoke(
        app,
        [*base, "users", "add", "cole", "--role", "collector", "--customer", "C-1", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    token = runner.invoke(app, [*base, "users", "token", "cole-cli", "--user", "cole"])
    assert token.exit_code == 0 and token.stdout.strip().startswith("phub_")
    listed = runner.invoke(app, [*base, "users", "list", "--json"])
    assert '"cole-cli"' in listed.stdout and token.stdout.strip() not in listed.stdout
    assert runner.invoke(app, [*base, "users", "disable", "cole"]).exit_code == 0
    assert '"disabled": true' in runner.invoke(app, [*base, "users", "list", "--json"]).stdout
    refused = runner.invoke(
        app, [*base, "users", "add", "x", "--role", "boss", "--password-stdin"], input=PASSWORD
    )
    assert refused.exit_code == 2 and "unknown role" in refused.output
