"""The rules folder's outline, kept between commands while the folder does not change.

Reading the rules folder for a read-only command (bounded YAML, then the rules-file schema) costs more
than the rest of `status` (~60 ms of CPU for the demo's eight files, growing with every file), and the
outline changes only when a file does. It is kept in a small JSON file in the user's cache folder
(`PORTALHUB_CACHE_DIR`, else `$XDG_CACHE_HOME/portalhub`, else `~/.cache/portalhub`), one per rules
folder, under a key made of the content of every `*.yaml` in the folder and of the code that reads
them: any edit, added or removed file, or new portalhub version reads the folder again.

The cache is an optimisation only: a cache that cannot be read, written or trusted is ignored (the
folder is read as without it), and nothing but the outline is in it (ids, connectors, customers, file
names, problems without values: the same text the commands print).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.readonly.views import FolderOutline

#: Bumped when the outline's form changes.
FORMAT = 1

_ROOT = Path(__file__).resolve().parents[2]
#: The code whose answer is cached: the reader of the folder and the rules-file schema it checks against.
_SOURCES = (
    _ROOT / "hub" / "readonly" / "views.py",
    _ROOT / "hub" / "profile.py",
    _ROOT / "hub" / "secrets.py",
    _ROOT / "mappings" / "yaml_safety.py",
    *sorted((_ROOT / "rules").glob("*.py")),
)


def cache_dir() -> Path:
    explicit = os.environ.get("PORTALHUB_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "portalhub"


def outline_of(folder: Path, read: Callable[[Path], FolderOutline]) -> FolderOutline:
    """The outline of `folder`: from the cache when nothing changed since it was kept, else `read(folder)`
    (then kept)."""
    folder = folder.resolve()
    key = _key(folder)
    entry = cache_dir() / f"outline-{hashlib.sha256(str(folder).encode()).hexdigest()[:16]}.json"
    if key is not None:
        kept = _load(entry, key)
        if kept is not None:
            return kept
    outline = read(folder)
    if key is not None:
        _store(entry, key, outline)
    return outline


def _key(folder: Path) -> str | None:
    """A digest of the folder's YAML files (names and content) and of the code reading them; None when
    the folder cannot be listed (it is then read, and the reader says why)."""
    digest = hashlib.blake2b(f"{FORMAT}\0{folder}".encode(), digest_size=20)
    try:
        for source in _SOURCES:
            stat = source.stat()
            digest.update(f"{source.name}\0{stat.st_mtime_ns}\0{stat.st_size}\0".encode())
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                digest.update(path.name.encode() + b"\0")
                digest.update(path.read_bytes())  # content, not mtime: an edit within a second counts
                digest.update(b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def _load(entry: Path, key: str) -> FolderOutline | None:
    from hub.readonly.views import FolderOutline, ProfileOutline

    try:
        kept: Any = json.loads(entry.read_text(encoding="utf-8"))
        if kept.get("key") != key:
            return None
        return FolderOutline(
            profiles={p[1]: ProfileOutline(p[0], p[1], p[2], tuple(p[3])) for p in kept["profiles"]},
            broken={file: list(problems) for file, problems in kept["broken"].items()},
            files=dict(kept["files"]),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # absent, half-written or from elsewhere: read the folder


def _store(entry: Path, key: str, outline: FolderOutline) -> None:
    kept = {
        "key": key,
        "profiles": [[p.file, p.id, p.connector, list(p.customers)] for p in outline.profiles.values()],
        "broken": outline.broken,
        "files": outline.files,
    }
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(kept), encoding="utf-8")
        partial.replace(entry)  # atomic: another command reads the old entry or the new one
    except OSError:
        pass  # a read-only home: every command reads the folder, as without a cache
