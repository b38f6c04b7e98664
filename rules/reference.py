"""Reference lists for `one_of_ref`: valid cost centers, PO numbers, UOM codes...

A list comes from a CSV file (one column: `column`, or the first) or a YAML file (a list, or a mapping
with `values:`) beside the rules file, or is written inline. Files are read when the rules file loads.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from rules.schema import ReferenceList


class ReferenceError(ValueError):
    """A reference list cannot be read; the message says what to fix."""


def load_reference(spec: ReferenceList, near: Path) -> frozenset[str]:
    if spec.values is not None:
        return frozenset(str(v).strip() for v in spec.values if str(v).strip())
    assert spec.file is not None
    path = (near.parent / spec.file).resolve()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ReferenceError(f"cannot read {spec.file} (looked for {path}): {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ReferenceError(f"{spec.file} is not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        return _from_csv(text, spec, path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _from_yaml(text, spec)
    raise ReferenceError(f"{spec.file}: a reference list is a .csv or .yaml file")


def _from_csv(text: str, spec: ReferenceList, path: Path) -> frozenset[str]:
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise ReferenceError(f"{spec.file} is empty")
    header = [h.strip() for h in rows[0]]
    if spec.column is None:
        position = 0
    elif spec.column in header:
        position = header.index(spec.column)
    else:
        raise ReferenceError(f"{spec.file} has no column {spec.column!r} (columns: {', '.join(header)})")
    values = {row[position].strip() for row in rows[1:] if len(row) > position and row[position].strip()}
    if not values:
        raise ReferenceError(f"{spec.file} has no values under {header[position]!r}")
    return frozenset(values)


def _from_yaml(text: str, spec: ReferenceList) -> frozenset[str]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReferenceError(f"{spec.file} is not valid YAML: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("values")
    if not isinstance(data, list):
        raise ReferenceError(f"{spec.file} must be a YAML list (or a mapping with `values:`)")
    return frozenset(str(v).strip() for v in data if v is not None and str(v).strip())
