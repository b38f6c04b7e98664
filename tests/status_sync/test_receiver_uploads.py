"""Uploads abandoned or stalled mid-body, over real sockets to a receiver in its own process whose log
(stderr) is counted: one line per abandoned request at most, no traceback; a cap on the bodies read at
once (503 with Retry-After beyond it), a body timeout (408), and the receiver still answers after."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from bench.receiver_process import ROOT, SERVER

CAP = 8
BODY_TIMEOUT = 2.0


class Receiver:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(CAP), str(BODY_TIMEOUT)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/cxml/status"

    def stalled(
        self, declared: int = 50_000, sent: bytes = b"<?xml version='1.0'?><cXML" + b" " * 200
    ) -> socket.socket:
        """A connection that sends its headers and part of its body, then nothing."""
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        head = (
            f"POST /cxml/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        connection.sendall(head.encode() + sent)
        return connection

    def log(self) -> list[str]:
        """Stop the receiver; every line it logged."""
        assert self.process.stdin is not None and self.process.stderr is not None
        self.process.stdin.close()
        err = self.process.stderr.read()
        self.process.wait(timeout=30)
        return err.splitlines()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    if started.process.poll() is None:
        started.process.kill()
        started.process.wait(timeout=30)


def answer_of(connection: socket.socket) -> bytes:
    """What the receiver answered on `connection` before closing it (b"" if it only closed)."""
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_uploads_abandoned_mid_body_are_one_line_each_and_no_traceback(receiver: Receiver) -> None:
    abandoned = 60
    for _ in range(abandoned):
        connection = receiver.stalled()
        time.sleep(0.01)
        connection.close()  # the client goes away mid-body
    time.sleep(1.0)
    garbage = httpx.post(receiver.url, content=b"not xml", timeout=10)
    assert garbage.status_code == 400  # still serving
    lines = receiver.log()
    assert not [line for line in lines if "Traceback" in line or "Exception in ASGI" in line]
    mentions = [line for line in lines if "abandoned its upload" in line]
    assert 0 < len(mentions) <= abandoned
    assert len(lines) <= abandoned + 5, lines[:50]


def test_stalled_uploads_are_capped_then_timed_out_with_one_line_each(receiver: Receiver) -> None:
    stalled = 40
    connections = []
    for _ in range(stalled):
        connections.append(receiver.stalled())
        time.sleep(0.02)  # arrive in order: the first CAP take the slots
    answers = [answer_of(c) for c in connections]  # the refused at once, the others at the timeout
    for connection in connections:
        connection.close()
    statuses = [a.split(b"\r\n", 1)[0] for a in answers]
    assert statuses.count(b"HTTP/1.1 408 Request Timeout") == CAP
    assert statuses.count(b"HTTP/1.1 503 Service Unavailable") == stalled - CAP
    refused = next(a for a in answers if a.startswith(b"HTTP/1.1 503"))
    assert b"\r\nretry-after: 2\r\n" in refused.lower()
    ok = httpx.post(receiver.url, content=b"not xml", timeout=10)
    assert ok.status_code == 400  # the slots are free again
    lines = receiver.log()
    assert not [line for line in lines if "Traceback" in line]
    assert len([line for line in lines if "upload refused (408)" in line]) == CAP
    assert len([line for line in lines if "answered 503" in line]) == 1  # not one line per 503
    assert len(lines) <= CAP + 5, lines[:50]
