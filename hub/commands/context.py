"""What every command runs in: the global options (`--config`, `-v`, `--log-format`), logging set up
when a command runs, the configured hub or its read-only view, dates given on the command line, and
the question asked before a command changes what a portal holds.

Heavy modules (the store, the hub's builder, the log redaction with pydantic) are imported only when
a command runs, never for a help page.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from hub.commands import output

if TYPE_CHECKING:
    from typer._click import Context as ClickContext  # Typer's own copy of Click

    from hub.config import HubConfig
    from hub.readonly import StoreView
    from hub.runtime import Hub

#: The global options of this invocation (set by `global_options`, read by the commands).
settings: dict[str, Any] = {"config": None, "verbose": 0, "log_format": "text"}


def global_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Hub configuration (default: $PORTALHUB_CONFIG or ./portalhub.yaml)."
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug).")
    ] = 0,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format", help="text, or json: one object per line for log shippers.", case_sensitive=False
        ),
    ] = "text",
) -> None:
    if log_format.lower() not in ("text", "json"):
        output.fail(f"--log-format must be text or json, not {log_format!r}")
    settings.update(config=config, verbose=verbose, log_format=log_format.lower())


def configure_logging(level: int | None = None) -> None:
    """The root logger for this command (hub/logs.py): `-v` decides the level unless one is given."""
    from hub.logs import configure

    if level is None:
        level = logging.WARNING - 10 * min(settings["verbose"], 2)
    configure(level, settings["log_format"])


class Group(TyperGroup):
    """Help as plain text, its commands in one section per kind of user (`rich_help_panel`). Typer's
    boxed help imports rich's Markdown and traceback renderers (with Pygments): ~60 ms more on every
    `--help` than the page itself takes (issue 18's target is 150 ms for the whole command)."""

    def format_commands(self, ctx: ClickContext, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in commands if command is not None and not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        for name, command in shown:
            panel = getattr(command, "rich_help_panel", None) or "Commands"
            sections.setdefault(panel, []).append((name, command.get_short_help_str(limit)))
        for panel, rows in sections.items():
            with formatter.section(panel):
                formatter.write_dl(rows)


def group(**options: Any) -> typer.Typer:
    """A command group (the top level, `rules`, `config`, ...): plain help (see `Group`)."""
    return typer.Typer(cls=Group, rich_markup_mode=None, **options)


class Command(TyperCommand):
    """A command that sets up logging (with its secret redaction) when it runs. The group's options
    are read before a sub-command's `--help` is seen, so doing it there would make every help page
    import the redaction (pydantic, YAML) for nothing. The cyclic garbage collector, off while the
    command line is read (`cli.main`), is on again: the command may run for hours."""

    def invoke(self, ctx: ClickContext) -> Any:
        gc.enable()
        configure_logging()
        return super().invoke(ctx)


class ReadOnlyCommand(Command):
    """A collector's question answered from the store and exit (`status`, `show`, `rejections`, ...):
    the garbage collector stays off. Such a command lives a fraction of a second and leaves little
    cyclic garbage, while the collector's passes over the ~200,000 objects its imports create cost
    ~10 ms of its ~200 ms (issue 18's target)."""

    def invoke(self, ctx: ClickContext) -> Any:
        configure_logging()
        return TyperCommand.invoke(self, ctx)


def config_path() -> Path:
    """The configuration file this invocation uses (ConfigError when there is none)."""
    from hub.config_file import find_config

    return find_config(settings["config"])


def load_configuration() -> HubConfig:
    """The configuration of this invocation, or exit 2 saying why it cannot be read."""
    from hub.config import load_config
    from hub.errors import ConfigError

    try:
        return load_config(config_path())
    except ConfigError as exc:
        output.fail(str(exc))


@contextmanager
def opened_hub(*, initialize: bool = False) -> Iterator[Hub]:
    """The hub of the configured deployment. Its store must be at this version's schema: commands never
    migrate it on the side (`portalhub migrate` does); `initialize` lets the daemon create a new one."""
    from hub.errors import ConfigError
    from hub.runtime import build_hub
    from hub.store_schema import require_current_schema

    config = load_configuration()
    try:
        require_current_schema(config.store_url, initialize=initialize)
        hub = build_hub(config, migrate=False)
    except ConfigError as exc:
        output.fail(str(exc))
    try:
        yield hub
    except ConfigError as exc:
        output.fail(str(exc))
    finally:
        hub.close()


@contextmanager
def opened_view() -> Iterator[StoreView]:
    """The store and configuration only, for commands that answer without sending (hub/readonly/):
    no connector, no compiled rules, no AR adapter, so no deployment secret is needed. The settings
    they read of the configuration are kept while its file does not change (hub/readonly/settings.py)."""
    from hub.errors import ConfigError
    from hub.readonly.settings import view_settings
    from hub.store_schema import open_view

    try:
        view = open_view(view_settings(config_path()))
    except ConfigError as exc:
        output.fail(str(exc))
    try:
        yield view
    except ConfigError as exc:
        output.fail(str(exc))
    finally:
        view.close()


def since(value: str | None) -> datetime | None:
    """A date (2026-11-01) or a number of days ago (7d), as the start of that day in UTC."""
    if not value:
        return None
    if value.endswith("d") and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(days=int(value[:-1]))
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        output.fail(f"--since takes a date (2026-11-01) or a number of days (7d), not {value!r}")


def period(start: str, end: str | None) -> tuple[datetime, datetime]:
    """`--since` and `--until` (default now) as a period."""
    first = since(start)
    last = since(end) if end else datetime.now(UTC)
    assert first is not None and last is not None
    return first, last


def interactive() -> bool:
    """Is a person at a terminal to answer a question (standard input and error both terminals)?"""
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm(action: str, yes: bool) -> None:
    """Ask before a command that changes what a portal holds. With --yes, no question. Without a
    terminal and without --yes, refuse (exit 2): a script must say it means it."""
    if yes:
        return
    if not interactive():
        output.fail(
            f"{action}: not done. This changes what the portal holds; without a terminal to ask, pass --yes"
        )
    if not typer.confirm(f"{action}?", default=False, err=True):
        output.err.print("nothing done")
        raise typer.Exit(output.USAGE)
