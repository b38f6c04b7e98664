"""The core of portalhub: canonical model, store, pipeline, daemon, AR adapters, registry, errors, config.

Kept import-free on purpose: `hub.model` and `hub.errors` are imported by the pure layers
(`mappings`, `rules`), which must not pull in the store or the scheduler.
"""
