"""SQLite serves one daemon: a second one on the same store file refuses to start.

Several daemons coordinate through row locks (`FOR UPDATE SKIP LOCKED`) that SQLite does not have;
PostgreSQL is the store for several daemons. The lock is an exclusive `flock` on the database file
itself, so every path to it (a symbolic link, a hard link in another folder, `..` in the URL) meets
the same lock: a lock file named after the path would be a different file for each path, and two
daemons on one SQLite file through a hard link would also give it two journals (corruption). SQLite
locks with POSIX `fcntl` locks, which on Linux are independent of `flock`. The kernel releases the
lock when the process dies (kill -9 included), so a crash never leaves a stale lock behind. Who holds
it is written to `<database, links resolved>.daemon-lock` for the message a second daemon prints.
"""

from __future__ import annotations

import contextlib
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
    real = Path(os.path.realpath(database))
    holder_path = Path(str(real) + ".daemon-lock")
    fd = os.open(real, os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(holder_path) or "another process"
            raise ConfigError(
                f"another portalhub daemon ({holder}) is running on the SQLite store {database}; SQLite "
                "serves one daemon. Stop it, or move the store to PostgreSQL (store_url: postgresql://...) "
                "to run several daemons."
            ) from None
        with contextlib.suppress(OSError):  # only the message needs it
            holder_path.write_text(f"pid {os.getpid()}", encoding="utf-8")
        yield
    finally:
        # Closing a descriptor of the database drops this process's POSIX locks on it (SQLite's own):
        # the block ends when the daemon's jobs have returned, so no transaction holds one then.
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
