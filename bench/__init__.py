"""Benchmarks: what the hub costs, measured against targets (see bench/README.md). Run `make bench`."""
