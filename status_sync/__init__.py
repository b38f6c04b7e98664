"""Status coming back: incremental polling with cursors, applying portal statuses to invoices, and the
feedback outbox that carries every event to the AR system once.

Sits beside `connectors` under the hub's orchestration: it uses the store and the lifecycle, never
the daemon, the pipeline or the CLI.
"""
