"""Opening exported text files: the encoding, and bytes that do not fit it.

A byte-order mark decides (UTF-8, UTF-16 LE/BE); without one the configured encoding is used. Bytes
that do not decode are kept as surrogate escapes instead of failing the whole file, so one record
with a stray Latin-1 byte is quarantined with a precise message and the others go through.
"""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path
from typing import IO

from hub.ar.files.entries import open_export

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ESCAPED = re.compile("[\udc80-\udcff]")


def detect_encoding(path: Path, configured: str) -> str:
    with open_export(path) as file:
        head = file.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return configured


def open_text(path: Path, configured: str) -> tuple[IO[str], str]:
    """The file as text (newlines untouched, as the csv module wants) and the encoding used."""
    encoding = detect_encoding(path, configured)
    raw = open_export(path)
    return io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline=""), encoding


def undecodable(value: str) -> bool:
    return _ESCAPED.search(value) is not None


def describe_undecodable(value: str, encoding: str, setting: str | None = "csv.encoding") -> str:
    """Why a value did not decode, showing the bytes, and what to set instead (`setting`: the setting
    that chooses the encoding, None when only the exporter can fix it)."""
    shown = value.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
    if len(shown) > 60:
        shown = shown[:57] + "..."
    utf8 = encoding.replace("_", "-").lower().startswith("utf-8")
    if setting is None:
        hint = "export it as UTF-8"
    elif utf8:
        hint = f"the file seems to be Latin-1 / Windows-1252: export it as UTF-8, or set `{setting}: cp1252`"
    else:
        hint = f"export it as UTF-8, or set `{setting}` to the export's encoding"
    return f"{shown!r} has bytes that are not {encoding}: {hint}"
