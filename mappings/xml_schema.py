"""Validating a parsed document against a DTD or an XSD: the one way the project does it (the portal
families' document checks in pre-flight, the `document_schema` rule of the rules language).

Each schema file is compiled once per process and shared (keyed by path and modification time, so an
edited file is read again); an lxml DTD/XMLSchema object must not validate on two threads at once, so
each has its own lock. An XSD is read with entities and network access off.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from lxml import etree

SchemaKind = Literal["dtd", "xsd"]
#: How many validation errors are reported: the first ones say what is wrong; the rest are echoes.
MAX_ERRORS = 5


class SchemaError(ValueError):
    """A DTD or XSD cannot be read or compiled."""


class _Schema:
    def __init__(self, path: Path, kind: str):
        try:
            if kind == "dtd":
                self.validator: Any = etree.DTD(str(path))
            else:
                parser = etree.XMLParser(resolve_entities=False, no_network=True)
                self.validator = etree.XMLSchema(etree.parse(str(path), parser))
        except (etree.DTDParseError, etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
            raise SchemaError(f"cannot load the {kind.upper()} {path}: {exc}") from exc
        self.lock = threading.Lock()

    def errors(self, tree: etree._Element) -> list[str]:
        with self.lock:
            if self.validator.validate(tree):
                return []
            return [error.message for error in self.validator.error_log.filter_from_errors()[:MAX_ERRORS]]


@lru_cache(maxsize=64)
def _load(path: str, kind: str, mtime_ns: int) -> _Schema:
    return _Schema(Path(path), kind)


def schema_errors(path: str | Path, kind: SchemaKind | str, tree: etree._Element) -> list[str]:
    """The first few validation errors of `tree` against the DTD/XSD at `path` (none: valid);
    SchemaError when the file cannot be read or compiled."""
    try:
        mtime = os.stat(path).st_mtime_ns  # one system call: this runs for every document checked
    except OSError as exc:
        raise SchemaError(f"cannot read the {kind.upper()} {path}: {exc.strerror}") from exc
    return _load(os.fspath(path), kind, mtime).errors(tree)
