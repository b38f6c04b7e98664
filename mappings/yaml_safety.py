"""Reading a YAML file kept by AR operations (a rules file, a web portal's recipe) as untrusted input,
like `xml_safety` for XML from outside.

In bounded time and memory: at most `MAX_FILE_BYTES`, nested at most `MAX_DEPTH` deep, at most
`MAX_ALIASES` aliases, and at most `MAX_VALUES` values once aliases are expanded (a 1 KB alias bomb
expands to billions). The node tree is kept, so every problem names its line. Light on purpose (PyYAML
and the error tree only): read-only commands use it without loading the rules engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hub.errors import ConfigError

#: Limits on a YAML file kept by AR operations (a real rules file is a few KB, a few levels deep).
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 40
MAX_ALIASES = 500
MAX_VALUES = 100_000


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int | None
    where: str
    what: str

    def __str__(self) -> str:
        at = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{at}: {self.where}: {self.what}" if self.where else f"{at}: {self.what}"


class RulesFileError(ConfigError):
    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class _Document:
    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, location: Iterable[str | int]) -> int | None:
        """The line of the deepest node the location reaches (pydantic error locations work as-is)."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in location:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == part), None)
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line


def read_yaml(path: Path) -> _Document:
    """A YAML file kept by AR operations (a rules file, a web portal's recipe), parsed with its node tree
    for line numbers; a key given twice is refused."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise RulesFileError(
                [Problem(path, None, "", f"the file is larger than {MAX_FILE_BYTES:,} bytes; not read")]
            )
        text = raw.decode("utf-8")
    except OSError as exc:
        raise RulesFileError([Problem(path, None, "", f"cannot read the file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise RulesFileError([Problem(path, None, "", "the file is not UTF-8 text")]) from exc
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        _check_expansion(path, root)
        _reject_duplicate_keys(path, root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RulesFileError([Problem(path, line, "", f"not valid YAML: {exc.problem}")]) from exc
    except (RecursionError, MemoryError):
        raise RulesFileError(
            [Problem(path, None, "", "the YAML is too deeply nested or too large to read")]
        ) from None
    finally:
        loader.dispose()
    return _Document(path, data, root)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing while it composes a document nested deeper than `MAX_DEPTH` or
    with more than `MAX_ALIASES` aliases (its composer recurses per level: 10,000 levels would be a
    RecursionError with no line)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    # The scanner looks ahead to the end of an open flow collection (`[[[[...`) before the composer sees
    # its first level, at a cost growing with the square of the depth: refused while scanning too.
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        super().fetch_flow_collection_start(TokenClass)
        if self.flow_level > MAX_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", self.get_mark()
            )

    def add_indent(self, column: int) -> bool:
        if len(self.indents) > MAX_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", self.get_mark()
            )
        return super().add_indent(column)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} aliases (*name); a rules file needs few", mark
                )
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(path: Path, root: yaml.Node | None) -> None:
    """Refuse a node graph whose aliases expand past `MAX_VALUES` values or `MAX_DEPTH` levels, or
    refer to themselves. Walked once per distinct node (no recursion, no expansion), so an alias bomb
    is measured in microseconds instead of expanded for hours by whatever reads the data next."""
    if root is None:
        return
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            kids = _children(node)
            size[key] = min(1 + sum(size[id(k)] for k in kids), MAX_VALUES + 1)
            height[key] = 1 + max((height[id(k)] for k in kids), default=0)
            if size[key] > MAX_VALUES or height[key] > MAX_DEPTH:
                what = (
                    f"expands to more than {MAX_VALUES:,} values through aliases"
                    if size[key] > MAX_VALUES
                    else f"is nested more than {MAX_DEPTH} levels deep through aliases"
                )
                line = node.start_mark.line + 1
                raise RulesFileError([Problem(path, line, "", f"not accepted: the YAML here {what}")])
            continue
        if key in size:
            continue
        if key in height:  # met again before it was finished: it contains itself
            line = node.start_mark.line + 1
            raise RulesFileError([Problem(path, line, "", "not accepted: an alias here refers to itself")])
        height[key] = 0  # started
        stack.append((node, True))
        stack.extend((kid, False) for kid in _children(node) if id(kid) not in size)


def _reject_duplicate_keys(path: Path, node: yaml.Node | None) -> None:
    # YAML lets a later key silently replace an earlier one; in a reviewed rules file that hides mistakes.
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            if key.value in seen:
                line = key.start_mark.line + 1
                raise RulesFileError(
                    [Problem(path, line, str(key.value), f"key repeated (first on line {seen[key.value]})")]
                )
            seen[key.value] = key.start_mark.line + 1
            _reject_duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(path, item)
