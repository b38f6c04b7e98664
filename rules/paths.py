"""Field paths into the canonical invoice: `po_number`, `supplier.tax_id`, `lines[*].unit_of_measure`,
`lines[0].taxes[*].amount`, `extrinsics.CostCenter`.

Paths are checked against the model when a rules file loads (a typo is a load error, not a silent
rule that never fires) and resolved by attribute access at evaluation time (no model dump: the
engine runs on every invoice, and getattr is what makes it cheap).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from pydantic import BaseModel

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_-]*)(?:\[(?P<index>\*|\d+)\])?$")


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    index: int | None = None  # a fixed list position
    each: bool = False  # `[*]`: every element


@dataclass(frozen=True, slots=True)
class FieldPath:
    text: str
    steps: tuple[Step, ...]
    leaf_type: Any  # the annotation at the end of the path, e.g. datetime.date
    #: The name path of each `[*]` list, in order (`lines`, `lines.taxes`): what bindings are keyed by.
    wildcard_keys: tuple[str, ...] = ()

    def concrete(self, indices: tuple[int, ...]) -> str:
        """The path with each `[*]` replaced by the element it stands on: `lines[2].unit_of_measure`."""
        parts, positions = [], iter(indices)
        for step in self.steps:
            if step.each:
                parts.append(f"{step.name}[{next(positions, '*')}]")
            elif step.index is not None:
                parts.append(f"{step.name}[{step.index}]")
            else:
                parts.append(step.name)
        return ".".join(parts)

    def bare_values(self, root: Any) -> list[Any]:
        """The values alone, in the order `values` gives them; `name` and `list[*].name` (most rule
        paths) without the general walk."""
        steps = self.steps
        if len(steps) == 1 and not steps[0].each and steps[0].index is None:
            return [_child(root, steps[0].name)]
        if len(steps) == 2 and steps[0].each and not steps[1].each and steps[1].index is None:
            name = steps[1].name
            items = _child(root, steps[0].name) or ()
            try:  # records (the model's lines, taxes): one attribute each, read in C
                return list(map(attrgetter(name), items))
            except AttributeError:  # a dict or a None among them: as `values` reads them
                return [
                    None
                    if item is None
                    else item.get(name)
                    if type(item) is dict
                    else getattr(item, name, None)
                    for item in items
                ]
        return [value for value, _ in self.values(root)]

    def values(self, root: Any, fixed: Mapping[str, int] | None = None) -> list[tuple[Any, tuple[int, ...]]]:
        """Every value the path reaches, with the index each `[*]` stood on. A `[*]` whose list is in
        `fixed` stays on that element (a condition bound to the line its rule is checking)."""
        frontier: list[tuple[Any, tuple[int, ...]]] = [(root, ())]
        key = ""
        for step in self.steps:
            key = f"{key}.{step.name}" if key else step.name
            reached: list[tuple[Any, tuple[int, ...]]] = []
            for node, indices in frontier:
                if node is None:
                    child = None
                elif type(node) is dict:
                    child = node.get(step.name)
                else:
                    child = getattr(node, step.name, None)
                if step.each:
                    items = child or ()
                    if fixed is not None and key in fixed:
                        position = fixed[key]
                        reached.append(
                            (items[position] if position < len(items) else None, (*indices, position))
                        )
                    else:
                        reached.extend((item, (*indices, position)) for position, item in enumerate(items))
                elif step.index is not None:
                    items = child or ()
                    reached.append((items[step.index] if step.index < len(items) else None, indices))
                else:
                    reached.append((child, indices))
            frontier = reached
        return frontier


def _child(node: Any, name: str) -> Any:
    if node is None:
        return None
    return node.get(name) if type(node) is dict else getattr(node, name, None)


class PathError(ValueError):
    pass


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _field_annotation(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the type a value will have."""
    annotation = _unwrap_optional(annotation)
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
        annotation = _unwrap_optional(annotation)
    return annotation


def parse(text: str, model: type[BaseModel]) -> FieldPath:
    """Parse `text` and check every step exists on `model`; raise PathError saying which step is wrong."""
    steps: list[Step] = []
    current: Any = model
    for raw in text.split("."):
        match = _SEGMENT.match(raw)
        if not match:
            raise PathError(f"{text!r}: {raw!r} is not a field name (optionally followed by [*] or [n])")
        name, index = match["name"], match["index"]
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = current.model_fields
            if name not in fields:
                known = ", ".join(sorted(fields))
                close = difflib.get_close_matches(name, list(fields), n=1)
                guess = f"did you mean {close[0]!r}? " if close else ""
                raise PathError(
                    f"{text!r}: {current.__name__} has no field {name!r}; {guess}fields are: {known}"
                )
            current = _field_annotation(fields[name].annotation)
        elif typing.get_origin(current) is dict:
            current = _field_annotation(typing.get_args(current)[1])
        else:
            raise PathError(f"{text!r}: cannot go into {name!r}, the value before it is not a record")
        step = Step(name=name)
        if index is not None:
            if typing.get_origin(current) is not list:
                raise PathError(f"{text!r}: {name!r} is not a list, so [{index}] does not apply")
            current = _field_annotation(typing.get_args(current)[0])
            step = Step(name=name, each=index == "*", index=None if index == "*" else int(index))
        steps.append(step)
    keys, key = [], ""
    for step in steps:
        key = f"{key}.{step.name}" if key else step.name
        if step.each:
            keys.append(key)
    return FieldPath(text=text, steps=tuple(steps), leaf_type=current, wildcard_keys=tuple(keys))


#: Which element each `[*]` of a path stands on, keyed by the list's name path (`lines`, `lines.taxes`).
Bindings = dict[str, int]


def resolve(path: FieldPath, root: Any) -> list[tuple[str, Any]]:
    """Every (concrete path, value) the path reaches; a missing record on the way yields (path, None)."""
    return [(path.concrete(indices), value) for value, indices in path.values(root)]


def resolve_bound(path: FieldPath, root: Any, bindings: Bindings) -> list[tuple[str, Any, Bindings]]:
    """Like `resolve`, also returning where each `[*]` stood (see FieldPath.values)."""
    keys = path.wildcard_keys
    return [
        (path.concrete(indices), value, dict(zip(keys, indices, strict=False)))
        for value, indices in path.values(root, bindings)
    ]
