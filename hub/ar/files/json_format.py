"""JSON exports in the canonical invoice shape (`portalhub schema invoice` prints its JSON Schema).

`.json`: one invoice object, or an array of them (read whole, up to `max_document_bytes`).
`.jsonl` / `.ndjson`: one invoice per line, streamed (any size). `supplier` may be left out: the hub's
own supplier (portalhub.yaml) is used. Money may be a JSON number or a string; it is read as an exact
decimal either way (never through a float). Attachments carry their content as base64.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from hub.ar import ArRecord
from hub.ar.files.common import Export, FileProblem, Found, located
from hub.ar.files.entries import export_size, read_export
from hub.ar.files.settings import FilesSettings
from hub.ar.files.textio import describe_undecodable, open_text, undecodable
from hub.ar.rows import BadRecord, record_from
from hub.field_docs import documented
from hub.model import Invoice, Supplier

SCHEMA_ID = "https://portalhub.dev/schemas/invoice.json"


def invoice_json_schema() -> dict[str, Any]:
    """The JSON Schema of an invoice in a JSON export (the canonical model, `supplier` optional)."""
    schema = documented(Invoice).model_json_schema(mode="validation")
    schema["required"] = [name for name in schema.get("required", []) if name != "supplier"]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "portalhub invoice"
    schema["description"] = (
        "One invoice as the AR system issued it, in portalhub's canonical shape. Money is an exact "
        'decimal (a string such as "12.50" is safest); dates are YYYY-MM-DD. `supplier` may be left '
        "out: the hub's own supplier details are used. A .json file holds one invoice or an array of "
        "them; a .jsonl file one invoice per line."
    )
    return schema


def _invoice(data: Any, supplier: Supplier) -> Invoice:
    if not isinstance(data, dict):
        raise BadRecord(f"expected an invoice object, found {type(data).__name__}")
    data = dict(data)
    data.setdefault("supplier", supplier.model_dump())
    attachments = data.get("attachments")
    if isinstance(attachments, list):
        decoded = []
        for n, attachment in enumerate(attachments):
            if isinstance(attachment, dict) and isinstance(attachment.get("content"), str):
                try:
                    content = base64.b64decode(attachment["content"], validate=True)
                except binascii.Error:
                    raise BadRecord(f"attachments.{n}.content is not base64") from None
                attachment = {**attachment, "content": content}
            decoded.append(attachment)
        data["attachments"] = decoded
    return Invoice.model_validate(data)


def _record(data: Any, supplier: Supplier, fallback_key: str) -> ArRecord:
    number = data.get("invoice_number") if isinstance(data, dict) else None
    number = str(number).strip() if number not in (None, "") else None
    raw = {
        "invoice_number": number,
        "customer_id": data.get("customer_id") if isinstance(data, dict) else None,
    }
    return record_from(number or fallback_key, raw, number, lambda: _invoice(data, supplier))


def _loads(text: str | bytes) -> Any:
    # Exact decimals: a float would turn 0.1 into 0.1000000000000000055511151231257827.
    try:
        return json.loads(text, parse_float=Decimal)
    except RecursionError:
        # Thousands of nested brackets exhaust the parser's stack; no invoice nests that deep.
        raise ValueError("it nests arrays or objects too deeply to be an invoice") from None


def read_json(export: Export, settings: FilesSettings, supplier: Supplier) -> Iterator[Found]:
    """The records of a `.json` (whole) or `.jsonl` (streamed) export."""
    path = export.paths[0]
    if export.format == "jsonl":
        yield from _read_lines(export, supplier)
        return
    size = export_size(path)
    if size > settings.max_document_bytes:
        raise FileProblem(
            f"{path.name} is {size:,} bytes, over max_document_bytes ({settings.max_document_bytes:,}); "
            "export large batches as .jsonl (one invoice per line), which is streamed"
        )
    try:
        data = _loads(read_export(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FileProblem(f"{path.name} is not valid JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    for n, item in enumerate(items, 1):
        where = f"invoice {n}" if isinstance(data, list) else "document"
        found = _record(item, supplier, f"{path.name}:{where}")
        yield Found(located(found, path.name, where), where, path.name)


def _read_lines(export: Export, supplier: Supplier) -> Iterator[Found]:
    path = export.paths[0]
    text, encoding = open_text(path, "utf-8")  # JSON is UTF-8 (a BOM may say UTF-16)
    with text:
        for line_no, line in enumerate(text, 1):
            if not line.strip():
                continue
            where = f"line {line_no}"
            raw = {"file": path.name, "line": line_no}
            if undecodable(line):
                error = f"{path.name} {where}: {describe_undecodable(line.strip(), encoding, setting=None)}"
                yield Found(ArRecord(key=f"{path.name}:{where}", raw=raw, error=error), where, path.name)
                continue
            try:
                data = _loads(line)
            except ValueError as exc:
                error = f"{path.name} {where}: not valid JSON: {exc}"
                yield Found(ArRecord(key=f"{path.name}:{where}", raw=raw, error=error), where, path.name)
                continue
            record = _record(data, supplier, f"{path.name}:{where}")
            yield Found(located(record, path.name, where), where, path.name)
