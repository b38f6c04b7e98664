"""The command line's commands, in groups by who uses them; `cli.py` assembles them into `portalhub`.

- `collectors`, `actions`, `audit`: collectors at a terminal (how things stand, one invoice's story,
  the worklist; check, send, resubmit, cancel, confirm; who did what);
- `rules`: AR operations maintaining one rules file per customer portal (`rules`, `recipe`, `profile`);
- `operators`, `integration`: running a deployment (the daemon, the store, the configuration, reports,
  the web pages and their users; AR-side schemas and webhook signatures);
- `trying`: someone trying portalhub (`demo`, `sandbox`).

`context` and `output` are what every command shares. A command parses, calls the hub's services
(hub/services.py, hub/operations.py and the service modules tests/test_command_layers.py lists) and
prints; it opens no store and imports no connector, mapping or rules internals. Every heavy import sits
inside the command that needs it, so `portalhub --help` loads Typer and rich and little else.

The command modules keep their annotations as objects (no `from __future__ import annotations`): Typer
reads the signature of every command to build the tree at each start, and annotations kept as strings
are compiled then, ~35 ms of every command (tests/test_cli_collectors.py checks it).
"""
