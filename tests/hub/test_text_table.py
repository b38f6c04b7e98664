"""Plain-text tables (hub/text_table.py): within the terminal's width where the short columns allow,
the wrapping columns narrowed widest first, every character kept (words wrapped, long words folded,
wide characters counted as two cells), markup printed as it is."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from hub.text_table import Column, cell_width, render, widths, wrap

COLUMNS = [Column("Invoice"), Column("State", wrap=False), Column("Portal said / rule"), Column("What to do")]
LONG = "The portal already has this number: check whether it was sent before; if not, reissue it."


def _cells(text: str, index: int) -> str:
    """Column `index` (0-based) of every body line, joined without whitespace."""
    return "".join(
        re.sub(r"\s+", "", line.split("│")[index + 1]) for line in text.splitlines() if line.startswith("│")
    )


def test_a_table_that_fits_keeps_its_natural_widths() -> None:
    rows = [["INV-1", "REJECTED", "[po-format] PO-1 is not a PO", "Fix the PO"]]
    text = render(COLUMNS, rows, width=200, title="C-1 - po: 1 invoice(s)")
    lines = text.splitlines()
    assert lines[0] == "C-1 - po: 1 invoice(s)"
    assert lines[2] == "┃ Invoice ┃ State    ┃ Portal said / rule           ┃ What to do ┃"
    assert lines[4] == "│ INV-1   │ REJECTED │ [po-format] PO-1 is not a PO │ Fix the PO │"
    assert lines[1].startswith("┏━") and lines[3].startswith("┡━") and lines[-1].startswith("└─")
    assert {len(line) for line in lines[1:]} == {len(lines[2])}


def test_at_80_columns_the_wide_columns_wrap_and_nothing_is_cut() -> None:
    rows = [["INV-24016 (as INV-24016-R1)", "REJECTED", LONG, LONG + " (collector)"] for _ in range(3)]
    text = render(COLUMNS, rows, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    assert _cells(text, 1) == "REJECTED" * 3  # the short column keeps its width: never wrapped
    assert _cells(text, 2) == re.sub(r"\s+", "", LONG) * 3
    assert _cells(text, 3) == re.sub(r"\s+", "", LONG + " (collector)") * 3
    # The widest columns gave up width first, down to the others' width: all three about as wide.
    sizes = widths(COLUMNS, rows, 80)
    assert sizes[1] == len("REJECTED") and sum(sizes) == 80 - (3 * 4 + 1)
    assert max(sizes[0], sizes[2], sizes[3]) - min(sizes[0], sizes[2], sizes[3]) <= 2


def test_a_word_longer_than_its_column_is_folded() -> None:
    assert wrap("see https://portal.example/a/very/long/path now", 10) == [
        "see",
        "https://po",
        "rtal.examp",
        "le/a/very/",
        "long/path",
        "now",
    ]


def test_wide_characters_take_two_cells() -> None:
    assert cell_width("請求書") == 6 and cell_width("é") == 1 and cell_width("e\u0301") == 1
    lines = wrap("請求書番号が重複しています", 8)
    assert all(cell_width(line) <= 8 for line in lines) and "".join(lines) == "請求書番号が重複しています"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=200), st.integers(1, 40))
def test_wrapping_keeps_every_character_but_the_breaks(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert re.sub(r"\s+", "", "".join(lines)) == re.sub(r"\s+", "", text)
    assert all(cell_width(line) <= max(width, 2) for line in lines)


def test_a_right_aligned_column_pads_on_the_left_header_included() -> None:
    text = render(
        [Column("Profile"), Column("PAID", wrap=False, right=True)], [["acme", "7"], ["b", "14"]], width=80
    )
    lines = text.splitlines()
    assert lines[1] == "┃ Profile ┃ PAID ┃"
    assert lines[3] == "│ acme    │    7 │"
    assert lines[4] == "│ b       │   14 │"


@given(st.text(alphabet=st.characters(max_codepoint=127, blacklist_characters="\n"), max_size=60))
def test_a_cell_that_fits_is_its_words_on_one_line(text: str) -> None:
    """What the quick path for fitting cells gives is what the word loop gives: the words, one space
    between them."""
    assert wrap(text, max(len(text), 1)) == [" ".join(text.split())]
