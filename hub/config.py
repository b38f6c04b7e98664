"""The hub's own configuration (`portalhub.yaml`): where the store, rules, secrets and AR system are.

Relative paths are relative to the config file. `PORTALHUB_STORE_URL` overrides `store_url` (so one
file serves several deployments), `PORTALHUB_WORKER_ID` names the daemon in leases and attempts, and
`PORTALHUB_CONFIG` names the file when `--config` is not given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigError
from hub.model import Supplier
from hub.notify.config import NotificationsConfig

DEFAULT_CONFIG_NAME = "portalhub.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlArColumns(_Strict):
    """Where the SQL adapter finds invoices, lines and customers, and where it writes statuses back.

    The defaults are the demo AR schema (fixtures/demo/ar_schema.sql); docs/ar-adapters.md has the
    full column mapping."""

    invoices_table: str = "ar_invoices"
    lines_table: str = "ar_invoice_lines"
    #: None: the customer's columns (customer_name, customer_duns, ...) are in the invoices view itself.
    customers_table: str | None = "ar_customers"
    status_table: str = "ar_portal_status"
    #: Only rows with this status are picked up (None: every row).
    ready_status: str | None = "posted"
    #: The column `ready_status` is compared with.
    status_column: str = "status"
    #: The AR system's own id of an invoice: the record key, and what joins lines to their invoice.
    key_column: str = "invoice_id"
    #: Also show the newest state on the invoice's own row (portal_state, portal_reason,
    #: portal_updated_at); turn off when the AR system only allows the status table to be written.
    mirror: bool = True
    #: The table with the portal_* columns (None: `invoices_table`; name the base table when
    #: `invoices_table` is a view that cannot be updated).
    mirror_table: str | None = None
    #: The column of `mirror_table` that holds the AR record's key (the row the mirror updates;
    #: None: `key_column`). The mirror keys on the record, never on the invoice number: two AR records
    #: with one number must not write over each other's status.
    mirror_key_column: str | None = None
    #: No longer used (the mirror keys on `mirror_key_column`); accepted so existing files still load.
    mirror_number_column: str = "invoice_number"
    #: The status table's column for the AR record's key (written when the table has it; the demo
    #: schema does). Without it a status row names its invoice by number only.
    status_key_column: str = "ar_key"


class ArConfig(_Strict):
    """The SQL adapter's settings (`ar: {kind: sql, url: ..., tables: {...}}`)."""

    kind: Literal["sql"] = "sql"
    url: str
    tables: SqlArColumns = Field(default_factory=SqlArColumns)


class AdapterConfig(BaseModel):
    """One AR adapter: `kind` is its name in the `portalhub.ar_adapters` entry-point group (built-ins:
    sql, files, webhook); every other key is the adapter's own setting, checked by the adapter when
    the hub starts (docs/ar-adapters.md). Without `kind` the block is the SQL adapter's, as before."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str = Field(default="sql", min_length=1)
    #: Relative paths in this block are relative to this folder (default: the config file's folder).
    base_dir: Path | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """The adapter's own settings: every key of the block but `kind` and `base_dir`."""
        return dict(self.model_extra or {})

    def resolved(self, base: Path) -> AdapterConfig:
        settings = self.settings
        if isinstance(settings.get("url"), str):  # a relative SQLite file, like store_url
            settings["url"] = _absolute_sqlite(settings["url"], base)
        base_dir = (
            self.base_dir if self.base_dir is None or self.base_dir.is_absolute() else base / self.base_dir
        )
        return AdapterConfig.model_validate({**settings, "kind": self.kind, "base_dir": base_dir or base})


class DaemonConfig(_Strict):
    ingest_seconds: float = Field(default=60, gt=0)
    submit_seconds: float = Field(default=5, gt=0)
    poll_seconds: float = Field(default=300, gt=0)
    feedback_seconds: float = Field(default=30, gt=0)
    housekeeping_seconds: float = Field(default=60, gt=0)
    #: A claimed invoice belongs to its worker this long; after it the worker is presumed dead.
    lease_seconds: float = Field(default=300, gt=0)
    #: Wait this long after an in-doubt send before asking the portal (it may still be processing).
    reconcile_after_seconds: float = Field(default=30, ge=0)
    backoff_initial_seconds: float = Field(default=30, gt=0)
    backoff_max_seconds: float = Field(default=3600, gt=0)
    #: After this many transient failures in a row an invoice is parked for `park_seconds` (with the
    #: reason in `portalhub status`) instead of being retried every `backoff_max_seconds` for ever.
    max_transient_attempts: int = Field(default=12, ge=1)
    park_seconds: float = Field(default=6 * 3600, gt=0)
    #: Where the portal cannot be asked (no status API), an unanswered send is resent under the same
    #: number (the portal refuses a number it holds) at most this many times, `reconcile_after_seconds`
    #: apart at the least; then it waits for a person, in the worklist.
    in_doubt_resends: int = Field(default=5, ge=0)
    #: An invoice IN_DOUBT this long is in the collectors' worklist (`portalhub rejections`).
    in_doubt_worklist_hours: float = Field(default=4, ge=0)


class ReceiverConfig(_Strict):
    """The inbound status receiver (cXML StatusUpdateRequests pushed by a network such as SAP Ariba).

    The daemon serves plain HTTP on `host:port`; put TLS in front of it with a reverse proxy and give
    the network the proxy's public URL for `path`."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8480, ge=0, le=65535)  # 0: any free port (tests)
    path: str = Field(default="/cxml/status", pattern=r"^/")
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)


class HubConfig(_Strict):
    store_url: str = "sqlite:///portalhub.db"
    rules_dir: Path = Path("rules.d")
    secrets_file: Path | None = None
    #: InvoiceDetail.dtd: when set, pre-flight validates every rendered cXML document against it.
    cxml_dtd: Path | None = None
    supplier: Supplier
    #: The AR adapter invoices come from; status events go back to it too unless `feedback` is set.
    ar: AdapterConfig
    #: Another adapter for the status events (e.g. `kind: webhook` beside `ar: {kind: sql}`).
    feedback: AdapterConfig | None = None
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    #: Serve the inbound status receiver while the daemon runs (None: no inbound statuses).
    receiver: ReceiverConfig | None = None
    evidence_dir: Path | None = None
    worker_id: str | None = None
    #: Who is told about blocked, rejected and disputed invoices and broken profiles (hub/notify).
    notifications: NotificationsConfig | None = None

    def resolved(self, base: Path) -> HubConfig:
        """Paths made absolute against `base` (the config file's folder); env overrides applied."""

        def absolute(path: Path | None) -> Path | None:
            return None if path is None else (path if path.is_absolute() else (base / path).resolve())

        return self.model_copy(
            update={
                "store_url": os.environ.get("PORTALHUB_STORE_URL") or _absolute_sqlite(self.store_url, base),
                "worker_id": os.environ.get("PORTALHUB_WORKER_ID") or self.worker_id,
                "rules_dir": absolute(self.rules_dir),
                "secrets_file": absolute(self.secrets_file),
                "cxml_dtd": absolute(self.cxml_dtd),
                "evidence_dir": absolute(self.evidence_dir),
                "ar": self.ar.resolved(base),
                "feedback": self.feedback.resolved(base) if self.feedback is not None else None,
            }
        )


def _absolute_sqlite(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def find_config(explicit: Path | None) -> Path:
    candidate = explicit or (
        Path(os.environ["PORTALHUB_CONFIG"]) if os.environ.get("PORTALHUB_CONFIG") else None
    )
    candidate = candidate or Path.cwd() / DEFAULT_CONFIG_NAME
    if not candidate.exists():
        raise ConfigError(
            f"no hub configuration at {candidate}; pass --config FILE, set PORTALHUB_CONFIG, "
            f"or run `portalhub demo` to see a working setup"
        )
    return candidate


def load_config(path: Path) -> HubConfig:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    try:
        config = HubConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path} is not a valid hub configuration:\n" + "\n".join(lines)) from exc
    return config.resolved(path.parent.resolve())
