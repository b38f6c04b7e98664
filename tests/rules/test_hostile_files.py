"""Every rules file is untrusted input: read in bounded time and memory, and a file that breaks a limit
is a problem of that file (its name and line), never a hang, a crash or another file's fault."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mappings.yaml_safety import MAX_FILE_BYTES
from rules.loader import RulesFileError, load_profile, load_profile_set
from rules.rule import compile_pattern
from tests.rules.test_loader import profile_text

ROOT = Path(__file__).resolve().parents[2]

#: The classic "billion laughs" in YAML: under 1 KB, nine levels of ten aliases each (10^9 values).
ALIAS_BOMB = textwrap.dedent(
    """\
    id: bomb
    connector: coupa
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    match: {customer_id: *i}
    """
)


def _refused(path: Path, within: float = 2.0) -> RulesFileError:
    started = time.monotonic()
    with pytest.raises(RulesFileError) as caught:
        load_profile(path)
    assert time.monotonic() - started < within, "a hostile file must be refused in bounded time"
    assert all(p.file == path.resolve() or p.file == path for p in caught.value.problems)
    return caught.value


def test_an_alias_bomb_is_refused_at_once_with_its_file_and_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    assert bomb.stat().st_size < 1024
    problem = _refused(bomb).problems[0]
    assert "expands to more than" in problem.what and "aliases" in problem.what
    assert problem.line is not None and 4 <= problem.line <= 12  # the anchor where it blows past the limit


def test_deep_nesting_is_a_problem_of_the_file_not_a_recursion_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("id: deep\nconnector: coupa\nx: " + "[" * 20000 + "]" * 20000 + "\n", encoding="utf-8")
    problem = _refused(deep).problems[0]
    assert "nested more than" in problem.what and problem.line == 3


def test_a_self_referring_alias_is_refused(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.write_text("id: loop\nconnector: coupa\nx: &x [1, *x]\n", encoding="utf-8")
    assert "refers to itself" in _refused(loop).problems[0].what


def test_an_oversized_file_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("id: big\n# " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    assert "larger than" in _refused(big).problems[0].what


def test_many_aliases_are_refused_even_when_small(tmp_path: Path) -> None:
    many = tmp_path / "many.yaml"
    many.write_text("id: many\nconnector: coupa\na: &a 1\nx: [" + ", ".join(["*a"] * 2000) + "]\n")
    assert "aliases" in _refused(many).problems[0].what


@pytest.mark.parametrize(
    "pattern, words",
    [
        (r"(?:(?:a{1000}){1000}){1000}", "too large once its counted repeats are multiplied out"),
        ("(" * 400 + "a" + ")" * 400, "too complex to compile"),
        ("a" * 5000, "characters long"),
    ],
)
def test_a_pattern_that_would_not_compile_in_bounded_time_is_an_error_of_its_file(
    tmp_path: Path, pattern: str, words: str
) -> None:
    text = profile_text(rules=f"  - id: acme-po\n    field: po_number\n    pattern: '{pattern}'\n")
    path = tmp_path / "acme-coupa.yaml"
    path.write_text(text, encoding="utf-8")
    problems = _refused(path).problems
    assert len(problems) == 1 and words in problems[0].what
    assert problems[0].line == text.splitlines().index(f"    pattern: '{pattern}'") + 1


def test_ordinary_patterns_still_compile() -> None:
    for pattern in (r"^PO-\d{6}$", r"^[A-Z]{2}\d{2}(?:[- ]?\d{4}){3}$", r"\p{Lu}{3}", r"(?:a{100}){100}"):
        assert compile_pattern(pattern) == pattern


def test_one_hostile_file_stops_only_itself(tmp_path: Path) -> None:
    (tmp_path / "acme-coupa.yaml").write_text(profile_text(), encoding="utf-8")
    (tmp_path / "bomb.yaml").write_text(ALIAS_BOMB, encoding="utf-8")
    (tmp_path / "deep.yaml").write_text("id: deep\nconnector: coupa\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    started = time.monotonic()
    loaded = load_profile_set(tmp_path)
    assert time.monotonic() - started < 5
    assert set(loaded.profiles) == {"acme-coupa"}
    assert {Path(f).name for f in loaded.broken} == {"bomb.yaml", "deep.yaml"}
    assert loaded.contested == {}


def test_rules_check_on_an_alias_bomb_answers_quickly_and_clearly(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "rules", "check", str(bomb)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert elapsed < 15, f"rules check took {elapsed:.1f} s"
    assert "bomb.yaml:" in done.stderr and "expands to more than" in done.stderr
    assert "Traceback" not in done.stderr
