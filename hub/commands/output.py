"""What every command prints with: the consoles, the exit codes, JSON, and the few text shapes
(amounts, portal words, rules-file lines, the violations table) several commands share.

Exit codes: 0 ok; 1 violations or rejections found; 2 usage or configuration error.
Commands print through `output.out` and `output.err` looked up when they print, so a test can put
its own console in their place.

rich is imported when a command first prints through it: the collectors' questions (`status`,
`rejections`) print plain text (`page`, `line`, hub/text_table.py), and rich's console with its
markup, styles and segments is ~40 ms of a command that answers in ~200.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from hub.text_table import Column

    out: Console
    err: Console

OK, FOUND, USAGE = 0, 1, 2
#: Tables are for people; piped into a file or CI log they should not fold at 80 columns.
PIPED_WIDTH = 200


def __getattr__(name: str) -> Any:
    """`out` and `err`, rich's consoles, made at their first use."""
    if name not in ("out", "err"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    if name == "out":
        console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
    else:
        console = Console(stderr=True, soft_wrap=True)  # error text is copied and grepped: never hard-wrapped
    globals()[name] = console
    return console


def _console(name: str) -> Console:
    console: Console = globals()[name] if name in globals() else __getattr__(name)
    return console


def escape(text: str) -> str:
    """`text` as rich markup that prints it as it is (a `[rule-id]` must print, not be taken for markup)."""
    from rich.markup import escape as markup_escape

    return markup_escape(text)


def page() -> tuple[TextIO, int]:
    """Where plain text goes and how wide it may be: `out`'s file and width once a console is made (a
    test's), else standard output at the terminal's width (`PIPED_WIDTH` when piped, as `out`)."""
    console = globals().get("out")
    if console is not None:
        return console.file, console.width
    if sys.stdout.isatty():
        return sys.stdout, shutil.get_terminal_size().columns
    return sys.stdout, PIPED_WIDTH


def table(columns: Sequence[Column], cells: Sequence[Sequence[str]], title: str) -> None:
    """A plain-text table (hub/text_table.py) where `page` says, no wider than it allows."""
    from hub.text_table import render

    file, width = page()
    file.write(render(columns, cells, width=width, title=title))


_STYLES = {"bold": "1", "red": "31", "yellow": "33"}


def line(text: str, style: str | None = None) -> None:
    """One line of plain text (nothing in it is markup) where `page` says; in `style` (bold, red,
    yellow) on a terminal that takes it (not with NO_COLOR, as rich)."""
    file, _ = page()
    if style and file.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb":
        text = f"\x1b[{_STYLES[style]}m{text}\x1b[0m"
    file.write(text + "\n")


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str, code: int = USAGE) -> NoReturn:
    """Say what is wrong on standard error and stop with `code` (2: usage or configuration)."""
    _console("err").print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    text = json.dumps(data, default=str, indent=2, ensure_ascii=False)
    console = globals().get("out")
    if console.is_terminal if console is not None else sys.stdout.isatty():
        _console("out").print_json(text)
    else:
        # Piped into jq, a file or a script: the same text, without rich's highlighter (it took ~7 s
        # and ~400 MB to print the 5,000-row worklist of a big store).
        sys.stdout.write(text + "\n")


def short(text: str | None, width: int = 110) -> str:
    """Portal and AR words, shortened and escaped: a `[rule-id]` must print, not be taken for markup."""
    text = (text or "").replace("\n", " ")
    return escape(text if len(text) <= width else text[: width - 1] + "…")


def money_text(value: Any, currency: str | None) -> str:
    """`1,234.50 USD` (hub/money.py)."""
    from hub.money import money_text as text

    return text(value, currency)


def relative(source: str | None) -> str:
    """A rules-file line (`path:line`) relative to the working folder when it is inside it."""
    if not source:
        return "(built in)"
    path, _, line = source.rpartition(":")
    with suppress(ValueError):  # outside the working folder: keep it absolute
        path = str(Path(path).relative_to(Path.cwd()))
    return f"{path}:{line}"


def violations_table(title: str, violations: list[dict[str, Any]]) -> None:
    """Each broken rule: where it is written, the value found, what was expected, and the fix."""
    from hub.text_table import Column

    columns = [Column("Severity", wrap=False), Column("Rule"), Column("Written at"), Column("Field")]
    columns += [Column(name) for name in ("Found", "Expected", "Problem", "Fix")]
    cells = [
        [
            v.get("severity", "error"),
            v["rule_id"],
            relative(v.get("source")),
            v["field"],
            "" if v.get("value") is None else str(v["value"]),
            v.get("expected") or "",
            v["message"],
            v.get("hint") or "",
        ]
        for v in violations
    ]
    table(columns, cells, title)
