"""Status coming back: incremental polling with cursors, applying portal statuses to invoices, and the
feedback outbox that carries every event to the AR system once.

Steps like the pipeline's, run by the daemon: each takes the hub (`status_sync.sync_hub.SyncHub`, the
parts of `hub.runtime.Hub` they use) and uses the store, the lifecycle, the AR sink and the connector
contract; never the daemon, the pipeline, the rules language or the CLI.
"""
