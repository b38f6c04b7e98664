"""Helpers for the AR adapter tests: real folders, real files with real modification times."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from hub.ar import ArContext, ArRecord
from hub.ar.files import FilesArAdapter, FilesSettings
from hub.secrets import SecretsResolver
from tests.factories import SUPPLIER

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = ROOT / "fixtures" / "ar" / "exports"
#: How the sample exports name ACME in documents (cXML To credential, UBL party id).
CUSTOMERS = {"C-1": {"ids": ["DUNS:987654321"]}}


def context(base: Path, environ: dict[str, str] | None = None) -> ArContext:
    return ArContext(supplier=SUPPLIER, secrets=SecretsResolver(environ=environ or {}), base_dir=base)


def files_adapter(folder: Path, **settings: Any) -> FilesArAdapter:
    """A files adapter on `folder` (created); files count as settled at once unless told otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    values = {"folder": str(folder), "settle_seconds": 0, "customers": CUSTOMERS, **settings}
    return FilesArAdapter(FilesSettings.model_validate(values), context(folder.parent))


def drop(folder: Path, name: str, content: str | bytes, age: float = 60, encoding: str = "utf-8") -> Path:
    """Write an export as the AR system would, last modified `age` seconds ago."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def drop_fixture(folder: Path, name: str, as_name: str | None = None) -> Path:
    return drop(folder, as_name or name, (EXPORTS / name).read_bytes())


def pull(adapter: FilesArAdapter) -> list[ArRecord]:
    return list(adapter.pull())


def by_key(records: list[ArRecord]) -> dict[str, ArRecord]:
    return {r.key: r for r in records}


def files_in(folder: Path) -> list[str]:
    """Every file under `folder` (relative paths, sorted), the adapter's own state excluded."""
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and ".portalhub" not in p.parts
    )


CSV_HEADER = (
    "invoice_number,customer_id,customer_name,invoice_date,currency,po_number,subtotal,tax_total,total,"
    "line_no,description,quantity,uom,unit_price,amount"
)


def csv_row(number: str, line: int = 1, qty: str = "2", price: str = "12.50", **over: str) -> str:
    """One row of a combined CSV export (quoted as needed): an invoice of one line whose amount and totals
    follow qty x price unless given."""
    import csv
    import io
    from decimal import Decimal

    amount = over.pop("amount", None) or format(Decimal(qty) * Decimal(price), "f")
    total = over.pop("total", amount)
    values = {
        "invoice_number": number,
        "customer_id": "C-1",
        "customer_name": "ACME Manufacturing",
        "invoice_date": "2026-11-20",
        "currency": "USD",
        "po_number": "PO-100001",
        "subtotal": total,
        "tax_total": "0",
        "total": total,
        "line_no": str(line),
        "description": "Bearing",
        "quantity": qty,
        "uom": "EA",
        "unit_price": price,
        "amount": amount,
        **over,
    }
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([values[c] for c in CSV_HEADER.split(",")])
    return buffer.getvalue()


def hub_config(
    root: Path,
    ar: dict[str, Any],
    feedback: dict[str, Any] | None = None,
    sandbox_url: str = "http://127.0.0.1:9",
) -> Path:
    """A portalhub.yaml in `root` with the test Coupa profile (rules.d) and secrets; returns its path."""
    import yaml

    from tests.factories import API_SECRET, SECRET, profile_yaml

    rules = root / "rules.d"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "acme-coupa.yaml").write_text(yaml.safe_dump(profile_yaml(sandbox_url)), encoding="utf-8")
    (root / "secrets.yaml").write_text(
        yaml.safe_dump({"acme_shared_secret": SECRET, "coupa_api_secret": API_SECRET}), encoding="utf-8"
    )
    config: dict[str, Any] = {
        "store_url": "sqlite:///hub.db",
        "rules_dir": "rules.d",
        "secrets_file": "secrets.yaml",
        "supplier": SUPPLIER.model_dump(mode="json"),
        "ar": ar,
        "daemon": {"backoff_initial_seconds": 10, "reconcile_after_seconds": 0},
    }
    if feedback is not None:
        config["feedback"] = feedback
    path = root / "portalhub.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
