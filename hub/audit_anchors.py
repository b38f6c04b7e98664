"""Anchors for the audit chain: signed checkpoints of every invoice's chain head, kept outside the database.

A hash chain kept only in the database cannot prove itself to whoever owns the database: with the
append-only triggers dropped, cutting events off the end and rolling the invoice's head back, editing
an event and recomputing every hash after it, or deleting an invoice with all its events (or every
event of every invoice) leaves chains that `audit verify` finds whole. A checkpoint records, at one
instant, each invoice's head (its newest `seq` and hash) and the number of invoices and events, signs
it with HMAC-SHA256 under a key that is not in the database (`audit.anchor_key`, a secret reference),
and appends it as one JSON line to a file outside the database (optionally also to syslog).
`verify_anchors` then checks the store against the file:

- every anchored head is still in its chain at its position with its hash (a cut tail, a rolled-back
  head, a rehashed chain and a deleted invoice all break this);
- the store holds at least as many invoices and events as the newest anchor counted (events are
  append-only, so counts only grow: an emptied store shows);
- every anchor's signature is valid, and the file is itself chained (`n` counts lines from 1, `prev` is
  the sha256 of the line before), so a line edited, removed or inserted shows; a cut *tail* of the
  file shows as a newest anchor older than `max_age` (the checkpoint job writes one every interval).

What anchors cannot prove: anything written after the newest anchor (up to one interval of events
can be changed without a trace), and anything at all against someone who holds the key and the file.

Size: a checkpoint lists only the heads of invoices with events since the one before it, and every
`full_every`-th checkpoint lists every head (so an invoice whose event was committed out of id order
is anchored by the next full one at the latest).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import logging.handlers
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from hub.audit import Problem
from hub.errors import ConfigError
from hub.store.tables import EventRow, InvoiceRow

if TYPE_CHECKING:
    from hub.config import AuditConfig
    from hub.runtime import Hub

log = logging.getLogger(__name__)
VERSION = 1
ALGORITHM = "hmac-sha256"
MIN_KEY_LENGTH = 32
_TAIL_BLOCK = 64 * 1024


def anchor_key(value: str) -> bytes:
    """The key as bytes, refused when too short to resist guessing (ConfigError saying what to do)."""
    if len(value) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"the audit anchor key must be at least {MIN_KEY_LENGTH} characters "
            "(for example the output of `openssl rand -hex 32`), kept outside the database"
        )
    return value.encode("utf-8")


def _key_id(key: bytes) -> str:
    # Names the key in each anchor (a verifier with another key says so) without revealing it.
    return hmac.new(key, b"portalhub audit anchor key id", hashlib.sha256).hexdigest()[:16]


def _canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _signature(key: bytes, record: dict[str, Any]) -> str:
    unsigned = {k: v for k, v in record.items() if k != "sig"}
    return hmac.new(key, _canonical(unsigned).encode("utf-8"), hashlib.sha256).hexdigest()


def _line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def _last_line(file: Any) -> str | None:
    """The last line of the open binary file (without its newline), read from the end."""
    end = file.seek(0, os.SEEK_END)
    data = b""
    position = end
    while position > 0:
        step = min(_TAIL_BLOCK, position)
        position -= step
        file.seek(position)
        data = file.read(step) + data
        if data.rstrip(b"\n").count(b"\n") >= 1:
            break
    lines = data.rstrip(b"\n").split(b"\n")
    return lines[-1].decode("utf-8") if lines and lines[-1] else None


def _heads(session: Session, after_event_id: int | None) -> dict[str, list[Any]]:
    query = select(
        InvoiceRow.id, InvoiceRow.invoice_number, InvoiceRow.event_seq, InvoiceRow.event_head
    ).where(col(InvoiceRow.event_seq) > 0)
    if after_event_id is not None:
        changed = select(EventRow.invoice_id).where(col(EventRow.id) > after_event_id).distinct()
        query = query.where(col(InvoiceRow.id).in_(changed))
    return {str(row[0]): [row[1], row[2], row[3]] for row in session.exec(query)}


def _counts(session: Session) -> tuple[int, int, int]:
    invoices = session.exec(select(func.count()).select_from(InvoiceRow)).one()
    events = session.exec(select(func.count()).select_from(EventRow)).one()
    last_id = session.exec(select(func.max(EventRow.id))).one()
    return int(invoices), int(events), int(last_id or 0)


def checkpoint(
    session: Session,
    key: bytes,
    anchors_file: Path,
    now: datetime,
    *,
    full_every: int = 24,
    to_syslog: bool = False,
) -> dict[str, Any]:
    """Append one signed checkpoint of the store to `anchors_file` (created if missing; locked while
    written, so two processes on one machine keep its chain whole) and return it."""
    anchors_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(anchors_file, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "r+b") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        previous_line = _last_line(file)
        previous: dict[str, Any] | None = None
        if previous_line is not None:
            try:
                previous = json.loads(previous_line)
                if not hmac.compare_digest(str(previous.get("sig", "")), _signature(key, previous)):
                    previous = None
            except ValueError:
                previous = None
            if previous is None:
                log.warning(
                    "the last line of %s is not a valid anchor: writing a full checkpoint", anchors_file
                )
        # Counts first, heads after: both only grow, so heads are never older than the counts.
        invoices, events, last_event_id = _counts(session)
        full = previous is None or int(previous.get("since_full", 0)) + 1 >= full_every
        after = None if full or previous is None else int(previous.get("last_event_id", 0))
        record: dict[str, Any] = {
            "v": VERSION,
            "n": int(previous["n"]) + 1 if previous is not None else _count_lines(file) + 1,
            "prev": _line_hash(previous_line) if previous_line is not None else None,
            "at": now.isoformat(),
            "invoices": invoices,
            "events": events,
            "last_event_id": last_event_id,
            "full": full,
            "since_full": 0 if full or previous is None else int(previous["since_full"]) + 1,
            "heads": _heads(session, after),
            "alg": ALGORITHM,
            "key_id": _key_id(key),
        }
        record["sig"] = _signature(key, record)
        line = _canonical(record)
        file.write(line.encode("utf-8") + b"\n")
        file.flush()
        os.fsync(file.fileno())
    if to_syslog:
        _to_syslog(record)
    return record


def _count_lines(file: Any) -> int:
    file.seek(0)
    return sum(1 for _ in file)


#: Where `syslog: true` sends each checkpoint's summary (the local syslog daemon's socket).
SYSLOG_ADDRESS = "/dev/log"


def _to_syslog(record: dict[str, Any]) -> None:
    """A short copy (no heads) to the local syslog, which usually ships off the machine: a second
    witness of the file's newest line. The file is the record: a syslog that is down is a warning."""
    summary = {k: record[k] for k in ("n", "prev", "at", "invoices", "events", "last_event_id", "sig")}
    message = f"portalhub audit anchor {_canonical(summary)}"
    try:
        handler = logging.handlers.SysLogHandler(address=SYSLOG_ADDRESS)
    except OSError as exc:
        log.warning("audit anchor %d not sent to syslog (%s): %s", record["n"], SYSLOG_ADDRESS, exc)
        return
    try:
        handler.emit(logging.LogRecord("portalhub.audit", logging.INFO, "", 0, message, None, None))
    finally:
        handler.close()


@dataclass
class AnchorVerification:
    anchors: int = 0
    heads: int = 0
    newest: datetime | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_anchors(
    session: Session, key: bytes, anchors_file: Path, now: datetime, max_age: timedelta | None = None
) -> AnchorVerification:
    """Check the store against the anchors in `anchors_file` (see the module docstring)."""
    result = AnchorVerification()
    try:
        text = anchors_file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.problems.append(Problem("anchors file", None, f"cannot read {anchors_file}: {exc}"))
        return result
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    anchored: dict[int, tuple[str, int, str, int]] = {}  # invoice id -> (number, seq, hash, anchor n)
    newest: dict[str, Any] | None = None
    previous_line: str | None = None
    key_id = _key_id(key)

    def problem(where: str, why: str) -> None:
        result.problems.append(Problem(where, None, why))

    for index, line in enumerate(lines, start=1):
        where = f"anchors line {index}"
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            problem(where, "is not a JSON anchor: the file was edited")
            previous_line = line
            continue
        if record.get("n") != index:
            problem(where, f"is anchor {record.get('n')}, expected {index}: anchors were removed or inserted")
        expected_prev = _line_hash(previous_line) if previous_line is not None else None
        if record.get("prev") != expected_prev:
            problem(where, "does not follow the line before it: an anchor was removed, inserted or edited")
        previous_line = line
        if record.get("key_id") != key_id:
            problem(where, "was signed with another key (or its key id was edited)")
            continue
        if not hmac.compare_digest(str(record.get("sig", "")), _signature(key, record)):
            problem(where, "its signature does not match its content: the anchor was edited")
            continue
        if newest is not None:
            for count in ("invoices", "events"):
                if int(record[count]) < int(newest[count]):
                    problem(where, f"counts fewer {count} than the anchor before it")
        newest = record
        result.anchors += 1
        for invoice_id, (number, seq, head) in record["heads"].items():
            anchored[int(invoice_id)] = (number, int(seq), head, index)
    result.heads = len(anchored)
    if newest is None:
        if not lines:
            problem("anchors file", f"{anchors_file} holds no anchor")
        return result
    result.newest = datetime.fromisoformat(newest["at"])
    if max_age is not None and now - result.newest > max_age:
        problem(
            "anchors file",
            f"the newest anchor is from {newest['at']}, older than {max_age}: later anchors were cut off "
            "the file, or the checkpoint job is not running",
        )
    invoices, events, _ = _counts(session)
    for name, have in (("invoices", invoices), ("events", events)):
        if have < int(newest[name]):
            problem(
                "store",
                f"holds {have} {name}, but anchor {newest['n']} counted {newest[name]}: {name} were deleted",
            )
    table = EventRow.__table__  # type: ignore[attr-defined]
    found: set[int] = set()
    query = select(table.c.invoice_id, table.c.seq, table.c.hash).execution_options(yield_per=5000)
    for invoice_id, seq, head in session.execute(query):
        want = anchored.get(invoice_id)
        if want is None or want[1] != seq:
            continue
        found.add(invoice_id)
        if head != want[2]:
            result.problems.append(
                Problem(
                    want[0],
                    seq,
                    f"is not the event anchor {want[3]} recorded at this position: the history up to "
                    "there was rewritten",
                )
            )
    for invoice_id, (number, seq, _, n) in sorted(anchored.items()):
        if invoice_id not in found:
            result.problems.append(
                Problem(
                    number,
                    seq,
                    f"anchor {n} recorded this invoice's history up to event {seq}; the store no longer holds "
                    "that event: events (or the invoice) were removed",
                )
            )
    return result


def settings(hub: Hub) -> tuple[AuditConfig, bytes]:
    """The audit section and its key; ConfigError when either is missing or the key is too short."""
    audit = hub.config.audit
    if audit is None:
        raise ConfigError(
            "audit anchors are not configured: add `audit: {anchor_key: env:PORTALHUB_AUDIT_KEY}` to "
            "portalhub.yaml (the key is a secret reference; see docs/audit.md)"
        )
    return audit, anchor_key(hub.secrets.resolve(audit.anchor_key))


def checkpoint_hub(hub: Hub) -> dict[str, Any]:
    """One checkpoint of the hub's store to its configured anchors file (the daemon job and
    `portalhub audit checkpoint`)."""
    audit, key = settings(hub)
    try:
        with hub.store.session() as session:
            return checkpoint(
                session,
                key,
                audit.anchors_file,
                hub.clock.now(),
                full_every=audit.full_every,
                to_syslog=audit.syslog,
            )
    except OSError as exc:
        raise ConfigError(
            f"cannot write the audit anchors file {audit.anchors_file}: {exc.strerror or exc}; "
            "fix `audit.anchors_file` or the folder's permissions"
        ) from None


def verify_hub(
    hub: Hub, session: Session, anchors_file: Path | None = None, max_age: timedelta | None = None
) -> AnchorVerification:
    """The hub's store (read in `session`) against `anchors_file` (default: the configured one).
    `max_age` defaults to twice the checkpoint interval plus a minute: an anchors file whose newest line
    is older was cut."""
    audit, key = settings(hub)
    if max_age is None:
        max_age = timedelta(seconds=2 * audit.checkpoint_seconds + 60)
    return verify_anchors(session, key, anchors_file or audit.anchors_file, hub.clock.now(), max_age)
