"""Opening the store: engine set-up per dialect, migrations, sessions.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every transaction begins
IMMEDIATE: a claim never fails half-way on a lock upgrade. PostgreSQL (several daemons) claims work
with `FOR UPDATE SKIP LOCKED`; see hub/store/work.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from hub.errors import ConfigError
from hub.store.schema_head import HEAD

MIGRATIONS = Path(__file__).parent / "migrations"
#: The advisory lock key that serialises migrations on PostgreSQL ("portalhb" in ASCII).
MIGRATION_LOCK = 0x706F7274616C6862


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy would otherwise look for psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (the documented pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """The hub's database. One per process; sessions are short and never span a portal request."""

    def __init__(self, url: str, *, pool_size: int = 5):
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except Exception as exc:  # sqlalchemy raises ArgumentError with little context
            raise ConfigError(f"store URL {url!r} is not a database URL: {exc}") from exc
        self.dialect = parsed.get_backend_name()
        # SQLite: every transaction takes the write lock at BEGIN, so sessions run one at a time anyway.
        # Queueing this process's threads on a Python lock hands the database over the moment a session
        # ends; left to SQLite's busy handler, a waiting thread sleeps in steps of up to 100 ms (the
        # daemon's submitters, poller and feedback stalled ~0.5 s at the 99th percentile). Other
        # processes (a CLI command beside the daemon) still wait through the busy timeout.
        self._turn: AbstractContextManager[Any] = (
            threading.RLock() if self.dialect == "sqlite" else nullcontext()
        )
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30})
            _sqlite_pragmas(self.engine)
        elif self.dialect == "postgresql":
            self.engine = create_engine(self.url, pool_size=pool_size, pool_pre_ping=True)
        else:
            raise ConfigError(f"store URL {url!r}: only sqlite and postgresql are supported")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent; safe when several daemons start at once)."""
        if self.at_head():
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if self.dialect == "postgresql":
                # Daemons starting together would race to create the same tables: the first migrates,
                # the others wait here and then find the schema at head (the lock ends with the transaction).
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def at_head(self) -> bool:
        return self.revision() == HEAD

    def revision(self) -> str | None:
        """The schema revision the store is at (None: a new, empty store)."""
        with self.engine.connect() as connection:
            try:
                version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            except Exception:  # no such table yet: a new store
                return None
        return None if version is None else str(version)

    def display_url(self) -> str:
        """The store's URL with any password masked, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends normally, rolled back otherwise."""
        with self._turn, Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, migrate: bool = True) -> Store:
    store = Store(url)
    if migrate:
        store.migrate()
    return store
