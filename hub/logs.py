"""What the hub tells an operator in its log, and in which shape.

INFO (the default) is what an operator reads: the daemon's start and stop, every invoice state change
in one line, and each failure once with its cause. DEBUG is everything else (the scheduler's own
chatter included). `--log-format json` writes one JSON object per line with the same fields, for log
shippers. Every line goes through the secret redactor, whatever logger wrote it.

State changes are logged by `hub.transition_log` when their transaction commits.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from hub.secrets import REDACTOR, RedactingFilter

#: Fields a log line may carry beyond its message (`extra=`), in the JSON form as they are.
FIELDS = ("invoice", "profile", "from_state", "to_state", "portal_id", "reason", "job", "worker")


class JsonFormatter(logging.Formatter):
    """One object per line: time, level, logger, message, and the record's portalhub fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return REDACTOR(json.dumps(entry, ensure_ascii=False, default=str))


def configure(level: int = logging.INFO, fmt: str = "text", stream: Any = None) -> None:
    """Set up the root logger for a command: level, shape, redaction of every line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # The scheduler logs every job start and end at INFO: that is detail, not news.
    scheduler_level = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    logging.getLogger("apscheduler").setLevel(scheduler_level)
    for noisy in ("httpx", "httpcore", "zeep", "urllib3", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING) if level > logging.DEBUG else level)
