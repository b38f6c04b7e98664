"""Field descriptions from attribute docstrings, applied when a reference is generated.

The hub configuration's and the invoice's field docstrings are their reference documentation
(`portalhub config docs`, `portalhub rules schema`, `portalhub schema invoice`). Pydantic can read them
itself (`use_attribute_docstrings`), but it does so for every class when its module is imported, by
reading and parsing the class's source: about 30 ms of CPU at every start of every command, for
descriptions only those three commands print. `documented(model)` reads them when asked instead.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=type[BaseModel])


def documented(model: M) -> M:
    """`model`, every model its fields hold, and their fields' descriptions from the docstrings under
    them (a description given with `Field(description=...)` wins); models are rebuilt inner first, so
    the JSON Schema of `model` carries every description."""
    for cls in _models_inside(model):
        docs: dict[str, str] = {}
        for base in reversed(cls.__mro__):  # a field inherited from a base has its docstring there
            if isinstance(base, type) and issubclass(base, BaseModel) and base is not BaseModel:
                docs.update(_attribute_docstrings(base))
        for name, field in cls.model_fields.items():
            if field.description is None and name in docs:
                field.description = docs[name]
        cls.model_rebuild(force=True)
    return model


def _models_inside(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The models reachable from `model`'s fields, each once, inner ones before the models holding them."""
    order: list[type[BaseModel]] = []
    seen: set[type[BaseModel]] = set()

    def visit(cls: type[BaseModel]) -> None:
        if cls in seen:  # a model that holds itself, or one reached twice
            return
        seen.add(cls)
        for field in cls.model_fields.values():
            for inner in _model_types(field.annotation):
                visit(inner)
        order.append(cls)

    visit(model)
    return order


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return [found for arg in typing.get_args(annotation) for found in _model_types(arg)]
    return []


def _attribute_docstrings(cls: type) -> dict[str, str]:
    """`name: type = ...` followed by a string in the class body: that string, for that name."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (a class made at run time): no docstrings
        return {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for statement, after in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[statement.target.id] = inspect.cleandoc(after.value.value)
    return docs
