"""Answers kept between read-only commands while what they were worked out from does not change.

A read-only command (`status`, `show`, `rejections`, `quarantine`, `audit`) needs two things worked out
from files an operator edits: the rules folder's outline (bounded YAML, then the rules-file schema:
~60 ms of CPU for the demo's eight files, growing with every file) and what it needs of portalhub.yaml
(read and checked by the configuration's pydantic models: ~30 ms with their import), against ~200 ms
for the whole command. Both change only when a file does. Each is kept in a small JSON file in the
user's cache folder (`PORTALHUB_CACHE_DIR`, else `$XDG_CACHE_HOME/portalhub`, else
`~/.cache/portalhub`) under a key made of the content of the files it was worked out from, the
environment it read and the code that works it out: any edit, added or removed file, changed variable
or new portalhub version works it out again, with every check and message as without the cache.

Only answers are kept (profile ids, customers, file names, problems without values, the store's URL
when it holds no password), never a secret, in files readable by their owner only (`keep_file`, which
kept_rows.py writes the worklist's rows with). The cache is an optimisation only: a kept answer that
cannot be read, written or trusted is worked out again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Bumped when a kept answer's form changes.
FORMAT = 2

_ROOT = Path(__file__).resolve().parents[2]
#: The code whose answers are kept: the readers of the rules folder and of the configuration, and the
#: models they check against.
_SOURCES = (
    *sorted((_ROOT / "hub" / "readonly").glob("*.py")),
    *sorted((_ROOT / "hub" / "notify").glob("*.py")),
    *sorted((_ROOT / "rules").glob("*.py")),
    *(_ROOT / "hub" / name for name in ("config.py", "model.py", "states.py", "profile.py", "secrets.py")),
    _ROOT / "mappings" / "yaml_safety.py",
)


def cache_dir() -> Path:
    explicit = os.environ.get("PORTALHUB_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "portalhub"


def kept(
    kind: str,
    identity: str,
    inputs: Callable[[], Iterable[bytes]],
    work: Callable[[], T],
    dump: Callable[[T], Any | None],
    load: Callable[[Any], T],
) -> T:
    """The `kind` answer about `identity` (a folder, a file): kept when `inputs()` (the bytes it is
    worked out from) and the code are unchanged since it was kept, else `work()` (then kept). `dump`
    gives its JSON form (None: not to be kept), `load` reads it back. An error of `work` is raised,
    never kept."""
    key = key_of(kind, identity, inputs)
    entry = cache_dir() / f"{kind}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.json"
    if key is not None:
        try:
            found = json.loads(entry.read_text(encoding="utf-8"))
            if found.get("key") == key:
                return load(found["answer"])
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            pass  # absent, half-written or from elsewhere: worked out again
    answer = work()
    form = dump(answer) if key is not None else None
    if form is not None:
        keep_file(entry, {"key": key, "answer": form})
    return answer


def key_of(
    kind: str, identity: str, inputs: Callable[[], Iterable[bytes]], sources: Iterable[Path] = _SOURCES
) -> str | None:
    """A digest of the inputs and of the code that works the answer out (`sources`); None when an input
    cannot be read (then the answer is worked out, and its reader says what is wrong)."""
    digest = hashlib.blake2b(f"{FORMAT}\0{kind}\0{identity}\0".encode(), digest_size=20)
    try:
        for source in sources:
            stat = source.stat()
            digest.update(f"{source.name}\0{stat.st_mtime_ns}\0{stat.st_size}\0".encode())
        for part in inputs():
            digest.update(len(part).to_bytes(8, "big"))  # lengths too: ("ab", "c") is not ("a", "bc")
            digest.update(part)
    except OSError:
        return None
    return digest.hexdigest()


def keep_file(entry: Path, content: dict[str, Any]) -> None:
    """Write `content` as the JSON file `entry`, readable by its owner only from the first byte (kept
    answers name profiles, customers, and in the worklist's rows amounts and the portals' words), and
    atomically: another command reads the old file or the new one. Nothing is written where the folder
    cannot be."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = entry.with_suffix(f".{os.getpid()}.tmp")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(content, file, separators=(",", ":"))
        partial.replace(entry)
    except OSError:
        pass  # a read-only home: every command works its answers out, as without a cache
