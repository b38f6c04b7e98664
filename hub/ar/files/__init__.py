"""The files AR adapter (`kind: files`): invoice exports in a folder (CSV, JSON, cXML, UBL 2.1), statuses
written back as CSV or JSONL files. See docs/ar-adapters.md."""

from __future__ import annotations

from hub.ar.files.adapter import FilesArAdapter
from hub.ar.files.json_format import invoice_json_schema
from hub.ar.files.settings import CsvSettings, CustomerEntry, FilesSettings

__all__ = ["CsvSettings", "CustomerEntry", "FilesArAdapter", "FilesSettings", "invoice_json_schema"]
