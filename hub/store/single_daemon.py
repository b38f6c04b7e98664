"""SQLite serves one daemon: a second one on the same store file refuses to start.

Several daemons coordinate through row locks (`FOR UPDATE SKIP LOCKED`) that SQLite does not have;
PostgreSQL is the store for several daemons. The lock is an exclusive `flock` on a file beside the
database, released by the kernel when the process dies (kill -9 included), so a crash never leaves a
stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.errors import ConfigError
from hub.store.database import Store


@contextmanager
def only_daemon(store: Store) -> Iterator[None]:
    """Hold the store's daemon lock while the block runs (a no-op for PostgreSQL)."""
    if not store.is_sqlite:
        yield
        return
    database = make_url(store.url).database or ""
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database + ".daemon-lock")
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigError(
                f"another portalhub daemon ({holder}) is running on the SQLite store {database}; SQLite "
                "serves one daemon. Stop it, or move the store to PostgreSQL (store_url: postgresql://...) "
                "to run several daemons."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()
