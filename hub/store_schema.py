"""The store's schema revision, for the commands: checked before a command uses a store, and brought up to
date only by `portalhub migrate` (or a daemon starting on a new, empty store). A command never migrates
a store on the side: an upgrade is an operator's step, after a backup (docs/operations.md)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import HubConfig
from hub.errors import ConfigError
from hub.readonly import ReadOnlyHub
from hub.store.database import HEAD, open_store


class StoreSchemaError(ConfigError):
    """The store is new or at an older revision; the message says what to run."""


@dataclass(frozen=True)
class Migration:
    store: str  # the URL, password masked
    before: str | None  # None: a new store
    after: str | None
    head: str = HEAD

    def as_json(self) -> dict[str, str | None]:
        return {"store": self.store, "from": self.before, "to": self.after, "head": self.head}


def require_current_schema(store_url: str, *, initialize: bool = False) -> None:
    """Nothing when the store is at this version's schema; a new store is created when `initialize`
    (the daemon's first start); else StoreSchemaError naming what to run."""
    store = open_store(store_url, migrate=False)
    try:
        revision = store.revision()
        if revision == HEAD:
            return
        if revision is None and initialize:
            store.migrate()
            return
        where = store.display_url()
    finally:
        store.dispose()
    if revision is None:
        raise StoreSchemaError(
            f"the store {where} has no portalhub tables yet: run `portalhub migrate` (or start the daemon)"
        )
    raise StoreSchemaError(
        f"the store {where} is at schema revision {revision}; this portalhub needs {HEAD}: back it up, then "
        "run `portalhub migrate` (docs/operations.md)"
    )


def migrate_store(store_url: str) -> Migration:
    """`portalhub migrate`: the store brought to this version's schema."""
    store = open_store(store_url, migrate=False)
    try:
        before = store.revision()
        store.migrate()
        return Migration(store.display_url(), before, store.revision())
    finally:
        store.dispose()


def open_view(config: HubConfig) -> ReadOnlyHub:
    """The read-only hub of a configuration whose store is current (StoreSchemaError otherwise)."""
    require_current_schema(config.store_url)
    return ReadOnlyHub(config, open_store(config.store_url, migrate=False))
