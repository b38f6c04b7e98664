"""The hub's own configuration (`portalhub.yaml`): where the store, rules, secrets and AR system are.

Relative paths are relative to the config file. `PORTALHUB_STORE_URL` overrides `store_url` (so one
file serves several deployments), `PORTALHUB_WORKER_ID` names the daemon in leases and attempts, and
`PORTALHUB_CONFIG` names the file when `--config` is not given.
"""

from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ConfigError
from hub.model import Supplier
from hub.notify.config import NotificationsConfig
from hub.profile import Strict


class SqlArColumns(Strict):
    """Where the SQL adapter finds invoices, lines and customers, and where it writes statuses back.

    The defaults are the demo AR schema (fixtures/demo/ar_schema.sql); docs/ar-adapters.md has the
    full column mapping."""

    invoices_table: str = "ar_invoices"
    """The table or view with one row per invoice header."""
    lines_table: str = "ar_invoice_lines"
    """The table or view with the invoice lines, joined to the header by `key_column`."""
    customers_table: str | None = "ar_customers"
    """The customers table; null: the customer's columns (customer_name, customer_duns, ...) are in the invoices view itself."""
    status_table: str = "ar_portal_status"
    """The table portal statuses and rejection reasons are written to (one row per status event)."""
    ready_status: str | None = "posted"
    """Only rows with this status are picked up (null: every row)."""
    status_column: str = "status"
    """The column `ready_status` is compared with."""
    key_column: str = "invoice_id"
    """The AR system's own id of an invoice: the record key, and what joins lines to their invoice."""
    mirror: bool = True
    """Also show the newest state on the invoice's own row (portal_state, portal_reason, portal_updated_at); turn off when the AR system only allows the status table to be written."""
    mirror_table: str | None = None
    """The table with the portal_* columns (null: `invoices_table`; name the base table when `invoices_table` is a view that cannot be updated)."""
    mirror_key_column: str | None = None
    """The column of `mirror_table` that holds the AR record's key (the row the mirror updates; null: `key_column`). The mirror keys on the record, never on the invoice number: two AR records with one number must not write over each other's status."""
    mirror_number_column: str = "invoice_number"
    """No longer used (the mirror keys on `mirror_key_column`); accepted so existing files still load."""
    status_key_column: str = "ar_key"
    """The status table's column for the AR record's key (written when the table has it; the demo schema does). Without it a status row names its invoice by number only."""
    changed_column: str | None = None
    """A column of the invoices table the AR system moves forward on every change of an invoice, header or lines (a last-modified time or a row version; a view can give the newest of the header's and the lines'). With it, each ingest reads only the rows changed since the last reads (see `changes_margin_seconds`, `full_read_minutes`); null: each ingest reads every ready row."""


class ArConfig(Strict):
    """The SQL adapter's settings (`ar: {kind: sql, url: ..., tables: {...}}`)."""

    kind: Literal["sql"] = "sql"
    """Always `sql` for this adapter."""
    url: str
    """The AR database: any SQLAlchemy URL (a relative SQLite file is relative to the config file)."""
    tables: SqlArColumns = Field(default_factory=SqlArColumns)
    """Table and column names, when the AR system's differ from the defaults."""
    changes_margin_seconds: float = Field(default=60, ge=0)
    """With `tables.changed_column`: how late a change may become visible after the time it carries (an AR transaction stamps rows when it starts and shows them when it commits). Each ingest reads from the newest value seen by a read at least this old."""
    full_read_minutes: float = Field(default=60, gt=0)
    """With `tables.changed_column`: every this many minutes an ingest reads every ready row anyway, for changes the column did not show (a transaction longer than the margin, a line edited without its header, a clock set back)."""


class AdapterConfig(BaseModel):
    """One AR adapter: `kind` is its name in the `portalhub.ar_adapters` entry-point group (built-ins:
    sql, files, webhook); every other key is the adapter's own setting, checked by the adapter when
    the hub starts (docs/ar-adapters.md). Without `kind` the block is the SQL adapter's."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    kind: str = Field(default="sql", min_length=1, examples=["sql", "files", "webhook"])
    """The adapter's name: sql (a database table or view), files (a folder of exports), webhook (status events POSTed as signed JSON), or a third-party adapter's name."""
    base_dir: Path | None = None
    """Relative paths in this block are relative to this folder (default: the config file's folder)."""

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


class DaemonConfig(Strict):
    """How often the daemon runs each step, and how it waits after failures (all in seconds)."""

    ingest_seconds: float = Field(default=60, gt=0)
    """Read new and changed invoices from the AR system, and rules files that changed, this often."""
    submit_seconds: float = Field(default=5, gt=0)
    """Look for READY invoices to send this often (per portal profile)."""
    poll_seconds: float = Field(default=300, gt=0)
    """Ask each portal for status changes this often (profiles that poll)."""
    feedback_seconds: float = Field(default=30, gt=0)
    """Write status events back to the AR system this often."""
    housekeeping_seconds: float = Field(default=60, gt=0)
    """Expire dead workers' leases and reconcile in-doubt sends this often."""
    lease_seconds: float = Field(default=300, gt=0)
    """A claimed invoice belongs to its worker this long; after it the worker is presumed dead."""
    reconcile_after_seconds: float = Field(default=30, ge=0)
    """Wait this long after an in-doubt send before asking the portal (it may still be processing)."""
    backoff_initial_seconds: float = Field(default=30, gt=0)
    """The first wait after a transient portal failure (doubled on each failure, with jitter)."""
    backoff_max_seconds: float = Field(default=3600, gt=0)
    """The longest wait between two tries of one invoice."""
    max_transient_attempts: int = Field(default=12, ge=1)
    """After this many transient failures in a row an invoice is parked for `park_seconds` (with the reason in `portalhub status`) instead of being retried every `backoff_max_seconds` for ever."""
    park_seconds: float = Field(default=6 * 3600, gt=0)
    """How long a parked invoice waits before it is tried again."""
    heartbeat_seconds: float = Field(default=15, gt=0)
    """Write this daemon's heartbeat (which jobs ran when, and how they ended) to the store this often."""
    shutdown_grace_seconds: float = Field(default=30, gt=0)
    """After SIGTERM the daemon waits this long for the jobs in flight (a send is finished and recorded), then exits anyway (exit code 3), naming the jobs it left: it never hangs on a stuck job."""
    in_doubt_resends: int = Field(default=5, ge=0)
    """Where the portal cannot be asked (no status API), an unanswered send is resent under the same number (the portal refuses a number it holds) at most this many times, `reconcile_after_seconds` apart at the least; then it waits for a person, in the worklist."""
    in_doubt_worklist_hours: float = Field(default=4, ge=0)
    """An invoice IN_DOUBT this long is in the collectors' worklist (`portalhub rejections`)."""


class ReceiverConfig(Strict):
    """The inbound status receiver: statuses a portal pushes (for the families that take pushes, e.g.
    SAP Ariba's StatusUpdateRequests); the profile's connector reads and authenticates each one.

    The daemon serves plain HTTP on `host:port`; put TLS in front of it with a reverse proxy and give
    the portal the proxy's public URL for `path`."""

    enabled: bool = True
    """Serve the receiver while the daemon runs."""
    host: str = "127.0.0.1"
    """The address to listen on (keep 127.0.0.1 behind a reverse proxy)."""
    port: int = Field(default=8480, ge=0, le=65535)
    """The port to listen on (0: any free port, for tests)."""
    path: str = Field(default="/cxml/status", pattern=r"^/")
    """The URL path the portal posts its statuses to."""
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    """A larger request body is refused with 413 before it is read."""
    max_concurrent_uploads: int = Field(default=32, ge=1)
    """Bodies read at once before anyone is authenticated; one more is answered 503 with Retry-After."""
    body_timeout_seconds: float = Field(default=30, gt=0)
    """A body must arrive within this many seconds (else 408): a stalled upload holds no slot longer."""


class ListenerConfig(Strict):
    """The daemon's HTTP listener: `/healthz` and `/metrics` (docs/operations.md). With `receiver:`
    set, the receiver's host and port are the listener's, and it serves all three."""

    enabled: bool = True
    """Serve `/healthz` and `/metrics` while the daemon runs."""
    host: str = "127.0.0.1"
    """The address to listen on (no credentials are asked: keep it on 127.0.0.1 or behind a proxy)."""
    port: int = Field(default=8480, ge=0, le=65535)
    """The port to listen on (0: any free port; a second daemon on one machine needs its own)."""


class AuditConfig(Strict):
    """Signed checkpoints of the audit chain kept outside the database (hub/audit_anchors.py)."""

    anchor_key: str = Field(pattern=r"^(env|file|secret):.+")
    """HMAC-SHA256 key by secret reference (env:NAME, file:/path, secret:name); never in the database."""
    anchors_file: Path = Path("audit-anchors.jsonl")
    """The append-only JSONL file the checkpoints go to (relative to this file's folder)."""
    checkpoint_seconds: float = Field(default=3600, gt=0)
    """How often the daemon writes a checkpoint; also what `audit verify --anchors` expects (x2)."""
    full_every: int = Field(default=24, ge=1)
    """Every n-th checkpoint lists every chain head; the others only the heads that moved."""
    syslog: bool = False
    """Also send a summary of each checkpoint to the local syslog (/dev/log)."""


class WebConfig(Strict):
    """The collectors' web pages and the HTTP API (docs/web.md): served by `portalhub web`, and by the
    daemon while it runs when this section is present."""

    host: str = "127.0.0.1"
    """The address to listen on (keep 127.0.0.1 behind a reverse proxy that terminates TLS)."""
    port: int = Field(default=8780, ge=0, le=65535)
    """The port to listen on (0: any free port, for tests)."""
    session_secret: str | None = None
    """A secret reference (env:NAME, file:/path, secret:name) that signs session cookies; unset: a random one per process (everyone logs in again after a restart)."""
    secure_cookies: bool = False
    """Send the session cookie over HTTPS only (set it when the proxy serves HTTPS)."""


class HubConfig(Strict):
    """The hub's configuration file, `portalhub.yaml` (relative paths are relative to this file)."""

    store_url: str = Field(
        default="sqlite:///portalhub.db",
        examples=["sqlite:///portalhub.db", "postgresql://portalhub@db/portalhub"],
    )
    """Where the hub keeps invoices, sends and events: an SQLite file (one daemon) or a PostgreSQL URL (several daemons); PORTALHUB_STORE_URL overrides it."""
    rules_dir: Path = Path("rules.d")
    """The folder of rules files, one per customer portal (`<profile id>.yaml`)."""
    secrets_file: Path | None = None
    """A YAML file of named secrets, read by `secret:name` references (keep it out of git, mode 600)."""
    cxml_dtd: Path | None = None
    """InvoiceDetail.dtd: when set, pre-flight validates every rendered cXML document against it."""
    pidx_xsd: Path | None = None
    """SCHEMA_PIDX_1.61_Invoice.xsd: when set, pre-flight validates every rendered PIDX invoice against it."""
    document_schemas: dict[str, Path] = Field(default_factory=dict)
    """More schema files for pre-flight's document check, by the name a portal family reads (its docs say which); `cxml_dtd` and `pidx_xsd` are two such names."""
    supplier: Supplier
    """Who sends the invoices: the supplier's name, identifiers, tax id and remit-to address."""
    ar: AdapterConfig
    """The AR adapter invoices come from; status events go back to it too unless `feedback` is set."""
    feedback: AdapterConfig | None = None
    """Another adapter for the status events (e.g. `kind: webhook` beside `ar: {kind: sql}`)."""
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    """The daemon's step intervals, leases and backoff."""
    receiver: ReceiverConfig | None = None
    """Serve the inbound status receiver while the daemon runs (null: no inbound statuses)."""
    listener: ListenerConfig = Field(default_factory=ListenerConfig)
    """The daemon's `/healthz` and `/metrics` (on by default, on 127.0.0.1:8480)."""
    evidence_dir: Path | None = None
    """Where web-portal submissions keep their screenshots and pages (null: no evidence is kept)."""
    worker_id: str | None = None
    """This daemon's name in leases and attempts (default: host and process id); PORTALHUB_WORKER_ID overrides it."""
    notifications: NotificationsConfig | None = None
    """Who is told about blocked, rejected and disputed invoices and broken profiles (hub/notify)."""
    audit: AuditConfig | None = None
    """Anchors of the audit chain outside the database (null: `audit verify` checks the chains only)."""
    web: WebConfig | None = None
    """The collectors' web pages and API (null: `portalhub web` uses its defaults, the daemon serves none)."""

    def schema_files(self) -> dict[str, Path]:
        """Every configured schema file by name, for the families' `check_document` (pre-flight)."""
        named = {"cxml_dtd": self.cxml_dtd, "pidx_xsd": self.pidx_xsd, **self.document_schemas}
        return {name: path for name, path in named.items() if path is not None}

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
                "pidx_xsd": absolute(self.pidx_xsd),
                "document_schemas": {
                    name: path if path.is_absolute() else (base / path).resolve()
                    for name, path in self.document_schemas.items()
                },
                "evidence_dir": absolute(self.evidence_dir),
                "ar": self.ar.resolved(base),
                "feedback": self.feedback.resolved(base) if self.feedback is not None else None,
                "audit": self.audit.model_copy(update={"anchors_file": absolute(self.audit.anchors_file)})
                if self.audit is not None
                else None,
            }
        )


def _absolute_sqlite(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def load_config(path: Path) -> HubConfig:
    """The configuration in `path`, checked; every problem names the file, line and key (with a "did you
    mean" for a misspelt key), all problems at once."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = f":{exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1: a hub configuration is a YAML mapping (store_url:, supplier:, ar:, ...)"
        )
    try:
        config = HubConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{path} is not a valid hub configuration:\n" + "\n".join(config_problems(path, exc))
        ) from exc
    return config.resolved(path.parent.resolve())


def config_problems(path: Path, exc: ValidationError) -> list[str]:
    """One line per problem: `file:line: key.path: what is wrong` (+ a suggestion for an unknown key)."""
    # The node tree is read only when something is wrong: a good file loads without it.
    from mappings.yaml_safety import RulesFileError, read_yaml

    try:
        document = read_yaml(path)
    except RulesFileError:
        document = None
    problems = []
    for error in exc.errors():
        location = [part for part in error["loc"] if not isinstance(part, str) or "[" not in part]
        line = document.line_of(location) if document is not None else None
        where = ".".join(str(part) for part in location)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key" + _suggestion(location)
        elif error["type"] == "missing":
            message = "required key missing"
        problems.append(f"  {path}{f':{line}' if line else ''}: {where}: {message}")
    return problems


def _suggestion(location: list[str | int]) -> str:
    """` (did you mean 'x'?)` when an unknown key is close to a key the model has at that place."""
    *parent, key = location
    known = _keys_at(HubConfig, parent)
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f"; the keys here are: {', '.join(known)}" if known else ""


def _keys_at(model: type[BaseModel], location: list[str | int]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in location:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if current is not None else None
        if field is None:
            return []
        current = _model_in(field.annotation)
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `X`, `X | None` or `list[X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
