"""`portalhub`: the command line, assembled from its command groups (hub/commands/), one per kind of
user. A command parses, calls the hub's services and prints (rich tables, or --json); it has no logic
of its own.

Exit codes: 0 ok; 1 violations or rejections found; 2 usage or configuration error.
Heavy modules are imported inside the commands, so `portalhub --help` stays fast.
"""

from __future__ import annotations

import gc
import os

from hub.commands import actions, audit, collectors, context, integration, operators, rules, trying

app = context.group(
    help="portalhub: gets every AR invoice into each buyer's procurement portal, checked before it is sent.",
    callback=context.global_options,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for group in (
    collectors.commands,  # collectors: status, show, rejections, quarantine
    actions.commands,  # collectors: validate, submit, resubmit, resolve-status, confirm, cancel
    audit.commands,
    rules.commands,  # rules maintainers: rules ..., profile release, recipe ...
    operators.commands,  # operators: run, migrate, report, web, config ..., users ...
    integration.commands,  # operators connecting an AR system: schema invoice, webhook verify
    trying.commands,  # newcomers: demo, sandbox
):
    app.add_typer(group)


def main() -> None:
    # Pydantic looks for third-party plugins (every installed package's entry points) before it builds its
    # first validator: ~15 ms of every command, and portalhub uses none. Set the variable to opt back in.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # Off while the command line is read; a command turns it on again unless it only answers and exits
    # (hub/commands/context.py `Command`, `ReadOnlyCommand`).
    gc.disable()
    app()


if __name__ == "__main__":
    main()
