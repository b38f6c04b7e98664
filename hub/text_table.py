"""Plain-text tables for the collectors' listings (`status`, `rejections`): the look of rich's tables (box
lines, a heavy header), laid out in one pass.

rich measures and lays out every cell through its renderables: ~5 s of CPU for the 3,030-row worklist
of a 100,000-invoice store, for text a collector could have read at once. Here a column is as wide as
its widest line; when the table is wider than the terminal, the columns that may wrap give up width,
the widest first, and their text wraps at spaces (a word longer than the column is folded). Nothing
is ever cut: the portal's words and the fix are the point of the listing. No markup is interpreted:
portal text such as `[rule-id]` prints as it is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

#: The narrowest a wrapping column is made before the table is allowed past the terminal's width.
MIN_WRAP_WIDTH = 8


@dataclass(frozen=True)
class Column:
    header: str
    wrap: bool = True  # False: always as wide as its widest cell (states, amounts, days)
    right: bool = False  # aligned right (counts)


def cell_width(text: str) -> int:
    """Terminal cells `text` takes: East Asian wide and full-width characters take two, combining
    marks none."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` cells, broken at whitespace; longer words folded. Every
    character but the whitespace at the breaks is kept."""
    if len(text) <= width and text.isascii() and " ".join(text.split()) == text:
        return [text]  # most cells fit as they are: the one line the loop below would make
    lines: list[str] = []
    measure = len if text.isascii() else cell_width  # one check per cell, not per word
    for paragraph in text.split("\n"):
        line, used = "", 0
        for word in paragraph.split():
            size = measure(word)
            if line and used + 1 + size <= width:
                line, used = f"{line} {word}", used + 1 + size
                continue
            if line:
                lines.append(line)
            while size > width:  # a word wider than the column: folded, never cut
                head, word = _split_at(word, width)
                lines.append(head)
                size = measure(word)
            line, used = word, size
        lines.append(line)
    return lines


def _split_at(word: str, width: int) -> tuple[str, str]:
    if word.isascii():
        return word[:width], word[width:]
    used = 0
    for index, char in enumerate(word):
        used += _char_width(char)
        if used > width:
            return word[: max(index, 1)], word[max(index, 1) :]
    return word, ""


def _pad(text: str, width: int, right: bool = False) -> str:
    if text.isascii():  # a character a cell: the string's own padding
        return text.rjust(width) if right else text.ljust(width)
    fill = " " * (width - cell_width(text))
    return fill + text if right else text + fill


def widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], total: int) -> list[int]:
    """Each column's width (cells, padding excluded) for a table at most `total` cells wide where it
    can be: the wrapping columns are narrowed, the widest first, down to `MIN_WRAP_WIDTH`."""
    natural = [cell_width(c.header) for c in columns]
    for index in range(len(columns)):
        for cell in {row[index] for row in rows}:  # each distinct text once: hints and words repeat
            size = max(map(cell_width, cell.split("\n"))) if "\n" in cell else cell_width(cell)
            if size > natural[index]:
                natural[index] = size
    room = total - (3 * len(columns) + 1)  # "│ " before each cell, " " after, the last "│"
    flexible = [i for i, c in enumerate(columns) if c.wrap]
    excess = sum(natural) - room
    result = list(natural)
    while excess > 0:
        wide = [i for i in flexible if result[i] > MIN_WRAP_WIDTH]
        if not wide:
            break
        widest = max(result[i] for i in wide)
        tops = [i for i in wide if result[i] == widest]
        below = max([result[i] for i in wide if result[i] < widest] + [MIN_WRAP_WIDTH])
        # Bring the widest columns down together, to the next width or as far as the excess needs.
        step = min(widest - below, -(-excess // len(tops)))
        for i in tops:
            cut = min(step, excess)
            result[i] -= cut
            excess -= cut
    return result


def render(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], *, width: int, title: str | None = None
) -> str:
    """The table as text, lines ending in a newline: the title (left), the header between heavy lines,
    one block of lines per row."""
    sizes = widths(columns, rows, width)
    out: list[str] = []
    if title:
        out.append(title)
    out.append("┏" + "┳".join("━" * (s + 2) for s in sizes) + "┓")
    out.append(
        "┃ " + " ┃ ".join(_pad(c.header, s, c.right) for c, s in zip(columns, sizes, strict=True)) + " ┃"
    )
    out.append("┡" + "╇".join("━" * (s + 2) for s in sizes) + "┩")
    # A cell's lines, wrapped and padded, by column and text: the hint and the portal's words repeat
    # down a worklist (most rows of a group share them), so each distinct text is laid out once.
    laid: list[dict[str, list[str]]] = [{} for _ in columns]
    blanks = [" " * size for size in sizes]
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            lines = laid[index].get(cell)
            if lines is None:
                column, size = columns[index], sizes[index]
                lines = laid[index][cell] = [
                    _pad(line, size, column.right)
                    for line in (wrap(cell, size) if column.wrap else cell.split("\n"))
                ]
            cells.append(lines)
        height = max(map(len, cells))
        if height == 1:
            out.append("│ " + " │ ".join(lines[0] for lines in cells) + " │")
            continue
        for n in range(height):
            out.append(
                "│ "
                + " │ ".join(
                    lines[n] if n < len(lines) else blank for lines, blank in zip(cells, blanks, strict=True)
                )
                + " │"
            )
    out.append("└" + "┴".join("─" * (s + 2) for s in sizes) + "┘")
    return "\n".join(out) + "\n"
