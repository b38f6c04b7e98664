"""A status receiver in its own process, logging to stderr, for the stalled-uploads benchmark
(bench/receiver_stalls.py) and its test (tests/status_sync/test_receiver_uploads.py): run `SERVER` with
`python -c SERVER <cap> <body timeout seconds>` from `ROOT`; it prints its port, serves until stdin closes."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SERVER = """
import logging, sys
from datetime import UTC, datetime
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
from hub.http_listener import HttpListener
from status_sync.receiver import StatusReceiver

# No store, no profiles: the bodies here never get that far, and a garbage one is refused (400) first.
receiver = StatusReceiver(
    store=None, profiles=dict, connector=None, secrets=None, now=lambda: datetime.now(UTC),
    max_concurrent_uploads=int(sys.argv[1]), body_timeout_seconds=float(sys.argv[2]),
)
server = HttpListener(receiver.app(), path="/cxml/status").start()
print(server.port, flush=True)
sys.stdin.read()
server.stop()
"""
