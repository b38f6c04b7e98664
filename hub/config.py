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

DEFAULT_CONFIG_NAME = "portalhub.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlArColumns(_Strict):
    """Where the SQL adapter finds invoices, lines and customers, and where it writes statuses back.

    The defaults are the demo AR schema (fixtures/demo/ar_schema.sql)."""

    invoices_table: str = "ar_invoices"
    lines_table: str = "ar_invoice_lines"
    customers_table: str = "ar_customers"
    status_table: str = "ar_portal_status"
    #: Only rows with this status are picked up (None: every row).
    ready_status: str | None = "posted"


class ArConfig(_Strict):
    kind: Literal["sql"] = "sql"
    url: str
    tables: SqlArColumns = Field(default_factory=SqlArColumns)


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
    ar: ArConfig
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    #: Serve the inbound status receiver while the daemon runs (None: no inbound statuses).
    receiver: ReceiverConfig | None = None
    evidence_dir: Path | None = None
    worker_id: str | None = None

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
                "ar": self.ar.model_copy(update={"url": _absolute_sqlite(self.ar.url, base)}),
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
