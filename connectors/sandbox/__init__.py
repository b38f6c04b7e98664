"""Sandbox portals: real servers on 127.0.0.1 that behave like the real portals (refs/PORTALS.md).

They serve the demo, the tests and the benchmarks; connectors talk to them over real sockets.
"""
