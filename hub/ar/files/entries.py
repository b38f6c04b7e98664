"""What in the watched folder may be read, and opening it without following anything out of the folder.

Whoever can drop a file in the folder can also drop a symbolic link or a hard link to a file elsewhere
(`/etc/passwd`, another team's exports, the hub's own secrets). The rule: an export is a *regular* file
whose only name is the one in the folder. Symbolic links (to files or folders), hard links (a file with
more than one name: the other name may be anywhere on the same disk), named pipes, sockets and devices
are refused by what they *are*, with a reason that names the entry and never anything of what it
points at. Checked twice: on the entry (`lstat`) when the folder is scanned, and on the opened
descriptor (`O_NOFOLLOW`, then `fstat`) when it is read, so a swap between the two is caught too.

Files and notes written beside (done/, error/, status files) are created with `O_EXCL | O_NOFOLLOW` in
folders that are checked not to be links, so a link planted there cannot redirect a write either.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from hub.ar.files.common import FileProblem
from hub.errors import ConfigError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the scan must not hang the open
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_COPY_IT = "copy the export into the folder instead of linking it"


class NotAnExport(FileProblem):
    """The entry is not a regular file of the folder (a link, a pipe, a device): it is never read."""


def refusal(name: str, st: os.stat_result) -> str | None:
    """Why the entry `name` with status `st` (from `lstat` or `fstat`) may not be read; None if it may."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return (
            f"{name} is a symbolic link; portalhub reads only regular files placed in the folder itself, "
            f"never what a link points at: {_COPY_IT}"
        )
    if stat.S_ISDIR(mode):
        return f"{name} is a folder, not an export"
    if not stat.S_ISREG(mode):
        if stat.S_ISFIFO(mode):
            kind = "a named pipe"
        elif stat.S_ISSOCK(mode):
            kind = "a socket"
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = "a device"
        else:
            kind = "not a regular file"
        return f"{name} is {kind}; portalhub reads only regular files"
    if st.st_nlink > 1:
        return (
            f"{name} has {st.st_nlink} hard links (other names for the same file, possibly outside the "
            f"folder); portalhub reads only files whose one name is in the folder: {_COPY_IT}"
        )
    return None


def check_entry(path: Path) -> os.stat_result:
    """The entry's own status (`lstat`); raises NotAnExport when it may not be read."""
    st = os.lstat(path)
    if (reason := refusal(path.name, st)) is not None:
        raise NotAnExport(reason)
    return st


def open_export(path: Path) -> BinaryIO:
    """The export opened for reading, binary. Raises NotAnExport for anything but a regular file with one
    name (a link is not followed: `O_NOFOLLOW`; the checks run on the opened descriptor), FileNotFoundError
    when it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError:
        st = _lstat_or_none(path)
        reason = refusal(path.name, st) if st is not None else None
        if reason is not None:  # ELOOP: the entry is a link
            raise NotAnExport(reason) from None
        raise
    try:
        reason = refusal(path.name, os.fstat(fd))
        if reason is not None:
            raise NotAnExport(reason)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_export(path: Path) -> bytes:
    """The whole export (see `open_export`)."""
    with open_export(path) as file:
        return file.read()


def export_size(path: Path) -> int:
    """The size of the export itself (never of what a link points at); NotAnExport for a refused entry."""
    return check_entry(path).st_size


def _lstat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def real_folder(folder: Path, setting: str) -> Path:
    """`folder` created if missing, refused (ConfigError) when it is a link or not a folder: exports moved
    there and notes written there must not land wherever a planted link points."""
    with contextlib.suppress(FileExistsError):  # something that is not a folder: refused below
        folder.mkdir(parents=True, exist_ok=True)
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        what = (
            "a symbolic link; portalhub does not move exports or write files through links"
            if stat.S_ISLNK(st.st_mode)
            else "not a folder"
        )
        raise ConfigError(
            f"the files adapter's {setting} {folder} is {what}. Remove it (portalhub creates the folder) "
            f"or set `{setting}` to a real folder"
        )
    return folder


def create_new(path: Path) -> BinaryIO:
    """A new file at `path` for writing (an old file or link of that name is removed first, never
    written through)."""
    if os.path.lexists(path):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    return os.fdopen(fd, "wb")
