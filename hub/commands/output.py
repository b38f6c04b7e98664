"""What every command prints with: the consoles, the exit codes, JSON, and the few text shapes
(amounts, portal words, rules-file lines, the violations table) several commands share.

Exit codes: 0 ok; 1 violations or rejections found; 2 usage or configuration error.
Commands print through `output.out` and `output.err` looked up when they print, so a test can put
its own console in their place.
"""

from __future__ import annotations

import json
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.table import Table

OK, FOUND, USAGE = 0, 1, 2

# Tables are for people; piped into a file or CI log they should not fold at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)  # error text is copied and grepped: never hard-wrapped

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str, code: int = USAGE) -> NoReturn:
    """Say what is wrong on standard error and stop with `code` (2: usage or configuration)."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    text = json.dumps(data, default=str, indent=2, ensure_ascii=False)
    if out.is_terminal:
        out.print_json(text)
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


def violations_table(title: str, violations: list[dict[str, Any]]) -> Table:
    """Each broken rule: where it is written, the value found, what was expected, and the fix."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("Severity", "Rule", "Written at", "Field", "Found", "Expected", "Problem", "Fix"):
        table.add_column(column, overflow="fold")
    for v in violations:
        found = "" if v.get("value") is None else str(v["value"])
        table.add_row(
            v.get("severity", "error"),
            escape(v["rule_id"]),
            escape(relative(v.get("source"))),
            escape(v["field"]),
            escape(found),
            escape(v.get("expected") or ""),
            escape(v["message"]),
            escape(v.get("hint") or ""),
        )
    return table
