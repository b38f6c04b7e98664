"""Uploads abandoned or stalled mid-body at the status receiver (issue 15): log lines and answers.

    .venv/bin/python -m bench.receiver_stalls [--connections 300] [--cap 32] [--body-timeout 3]

A receiver in its own process (bench/receiver_process.py), logging to stderr. First
`--connections` sockets each send their headers (Content-Length 50,000) and 105 bytes of body, then
close; then as many send the same and stall. Reported: the receiver's log lines for each, and what the
stalled ones were answered (408 for those being read when their time ran out, 503 for the others).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from bench.receiver_process import ROOT, SERVER
from bench.timing import report

HEAD = b"POST /cxml/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000\r\n\r\n<cXML" + b" " * 100


def run(connections: int, cap: int, body_timeout: float, abandon: bool) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(cap), str(body_timeout)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None and server.stderr is not None
    port = int(server.stdout.readline())
    held = []
    for _ in range(connections):
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(HEAD)
        if abandon:
            connection.close()
        else:
            held.append(connection)
    time.sleep(body_timeout + 2)
    answers: Counter[str] = Counter()
    for connection in held:
        connection.settimeout(5)
        try:
            answers[connection.recv(100).split(b"\r\n")[0].decode()] += 1
        except OSError as exc:
            answers[type(exc).__name__] += 1
        connection.close()
    server.stdin.close()
    lines = server.stderr.read().splitlines()
    server.wait(timeout=30)
    return {
        "uploads": f"{connections} {'abandoned' if abandon else 'stalled'}",
        "log lines": len(lines),
        "tracebacks": sum("Traceback" in line for line in lines),
        "answers": ", ".join(f"{n} x {a}" for a, n in sorted(answers.items())) or "-",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--cap", type=int, default=32)
    parser.add_argument("--body-timeout", type=float, default=3.0)
    args = parser.parse_args()
    rows = [run(args.connections, args.cap, args.body_timeout, abandon) for abandon in (True, False)]
    report("receiver_stalls", rows, ["uploads", "log lines", "tracebacks", "answers"])


if __name__ == "__main__":
    main()
