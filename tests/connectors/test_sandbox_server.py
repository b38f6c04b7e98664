"""The sandbox's HTTP server itself: what it adds to a round trip, and its request counters."""

from __future__ import annotations

import statistics
import time

import httpx

from connectors.sandbox.server import Reply, SandboxServer


def test_a_round_trip_costs_no_more_than_the_configured_latency() -> None:
    # The benchmarks set `latency` as the portal's round trip; the server must not add its own stall.
    # Writing the headers and the body in two small segments with Nagle on costs a delayed ACK (~40 ms)
    # per answer; on loopback a round trip is about a millisecond.
    with SandboxServer(lambda request: Reply(200, b"x" * 300)) as server, httpx.Client() as client:
        client.post(f"{server.url}/warm-up", content=b"y" * 2000)
        times = []
        for _ in range(15):
            started = time.perf_counter()
            response = client.post(f"{server.url}/invoices", content=b"y" * 2000)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200

    assert statistics.median(times) < 0.025
    assert server.requests["POST /invoices"] == 15


def test_the_configured_latency_is_added_to_every_answer() -> None:
    with SandboxServer(lambda request: Reply(204), latency=0.1) as server, httpx.Client() as client:
        started = time.perf_counter()
        client.get(f"{server.url}/a")
        elapsed = time.perf_counter() - started

    assert 0.1 <= elapsed < 0.5
    assert server.requests == {"GET /a": 1}
