"""The store's schema revision, for the commands: checked before a command uses a store, and brought up to
date only by `portalhub migrate` (or a daemon starting on a new, empty store). A command never migrates
a store on the side: an upgrade is an operator's step, after a backup (docs/operations.md).

The check reads `alembic_version` through the database driver (hub/store_reader.py): a command that
only reads never imports SQLAlchemy; migrating does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.errors import ConfigError
from hub.store.schema_head import HEAD
from hub.store_reader import StoreReader, display_url

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.readonly import StoreView
    from hub.readonly.settings import ViewSettings


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
    reader = StoreReader.open(store_url)
    try:
        revision = reader.revision() if reader is not None else None
    finally:
        if reader is not None:
            reader.close()
    _require(store_url, revision, initialize=initialize)


def _require(store_url: str, revision: str | None, *, initialize: bool) -> None:
    if revision == HEAD:
        return
    if revision is None and initialize:
        from hub.store.database import open_store

        store = open_store(store_url, migrate=False)
        try:
            store.migrate()
        finally:
            store.dispose()
        return
    where = display_url(store_url)
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
    from hub.store.database import open_store

    store = open_store(store_url, migrate=False)
    try:
        before = store.revision()
        store.migrate()
        return Migration(store.display_url(), before, store.revision())
    finally:
        store.dispose()


def open_view(config: HubConfig | ViewSettings) -> StoreView:
    """The read-only view of a configuration whose store is current (StoreSchemaError otherwise): one
    connection, through the database driver, answers the schema check and the question."""
    from hub.readonly import StoreView

    reader = StoreReader.open(config.store_url)
    try:
        _require(config.store_url, reader.revision() if reader is not None else None, initialize=False)
    except BaseException:
        if reader is not None:
            reader.close()
        raise
    assert reader is not None  # a store at HEAD exists
    return StoreView(config, reader)
