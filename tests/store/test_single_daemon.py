"""One daemon per SQLite store, whatever path leads to the file: real processes holding the lock, a
second one through the same path, a symbolic link and a hard link in another folder is refused."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys
from hub.errors import ConfigError
from hub.store.database import Store
from hub.store.single_daemon import only_daemon

store = Store(sys.argv[1])
try:
    with only_daemon(store):
        print("locked", flush=True)
        sys.stdin.read()  # held until the test closes our stdin
except ConfigError as exc:
    print("refused:", exc, flush=True)
"""


class Daemons:
    def __init__(self) -> None:
        self.running: list[subprocess.Popen[str]] = []

    def start(self, database: Path) -> tuple[subprocess.Popen[str], str]:
        """A process taking the daemon lock of `sqlite:///database`; its first line (locked/refused)."""
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, f"sqlite:///{database}"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.running.append(process)
        assert process.stdout is not None
        return process, process.stdout.readline().strip()

    def stop(self, process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(timeout=30) == 0


@pytest.fixture
def daemons() -> Iterator[Daemons]:
    started = Daemons()
    yield started
    for process in started.running:
        process.kill()
        process.wait(timeout=30)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "hub.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    return path


def test_a_second_daemon_on_the_same_path_is_refused_and_may_start_once_the_first_stops(
    store: Path, daemons: Daemons
) -> None:
    first, said = daemons.start(store)
    assert said == "locked"
    _, second = daemons.start(store)
    assert (
        second.startswith("refused: another portalhub daemon (pid ") and "SQLite serves one daemon" in second
    )
    daemons.stop(first)
    _, third = daemons.start(store)
    assert third == "locked"


def test_a_symbolic_link_to_the_store_meets_the_same_lock(
    store: Path, tmp_path: Path, daemons: Daemons
) -> None:
    link = tmp_path / "elsewhere" / "same.db"
    link.parent.mkdir()
    link.symlink_to(store)
    first, said = daemons.start(store)
    assert said == "locked"
    _, second = daemons.start(link)
    assert second.startswith("refused: another portalhub daemon (pid ")
    daemons.stop(first)
    _, said = daemons.start(link)  # and the other way round
    assert said == "locked"
    _, again = daemons.start(store)
    assert again.startswith("refused:")


def test_a_hard_link_to_the_store_in_another_folder_meets_the_same_lock(
    store: Path, tmp_path: Path, daemons: Daemons
) -> None:
    link = tmp_path / "elsewhere" / "other-name.db"
    link.parent.mkdir()
    os.link(store, link)
    first, said = daemons.start(link)
    assert said == "locked"
    _, second = daemons.start(store)
    assert second.startswith("refused: another portalhub daemon (")
    daemons.stop(first)
    _, said = daemons.start(store)
    assert said == "locked"


def test_the_lock_dies_with_its_process(store: Path, daemons: Daemons) -> None:
    first, said = daemons.start(store)
    assert said == "locked"
    first.kill()  # kill -9: nothing runs on the way out
    first.wait(timeout=30)
    _, said = daemons.start(store)
    assert said == "locked"
