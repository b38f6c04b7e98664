"""How a recipe names one element of a page: by label, by role and accessible name, by text, as a
person (or a screen reader) finds it; CSS only as a last resort. An element inside an iframe names
the frame with `frame` (a CSS selector of the `<iframe>` element)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import model_validator

from hub.profile import Strict

#: ARIA roles a recipe may name (the ones supplier portals' forms, tables and messages use).
ROLES = frozenset(
    [
        "alert",
        "button",
        "cell",
        "checkbox",
        "columnheader",
        "combobox",
        "definition",
        "dialog",
        "form",
        "group",
        "heading",
        "img",
        "link",
        "list",
        "listbox",
        "listitem",
        "main",
        "navigation",
        "option",
        "paragraph",
        "radio",
        "region",
        "row",
        "rowgroup",
        "search",
        "searchbox",
        "spinbutton",
        "status",
        "tab",
        "table",
        "term",
        "textbox",
    ]
)
WAYS = ("label", "role", "text", "placeholder", "test_id", "term", "css")


class Target(Strict):
    """How to find one element. Exactly one of: `label` (the input's label), `role` (+ `name`, its
    accessible name), `text`, `placeholder`, `test_id`, `term` (the value beside a `<dt>` term) or
    `css`. `{n}` in any text is replaced by the current line's position (1, 2, ...)."""

    label: str | None = None
    role: str | None = None
    name: str | None = None
    text: str | None = None
    placeholder: str | None = None
    test_id: str | None = None
    term: str | None = None
    css: str | None = None
    #: Whole-text match (the default) or "contains".
    exact: bool = True
    #: Look only inside this element (e.g. the list items of the alert: `{role: listitem, within: {role: alert}}`).
    within: Target | None = None
    #: The element is in this iframe (a CSS selector of the `<iframe>` element of the page).
    frame: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Target:
        ways = [way for way in WAYS if getattr(self, way) is not None]
        if len(ways) != 1:
            raise ValueError(f"give exactly one of {', '.join(WAYS)} (found {', '.join(ways) or 'none'})")
        if self.name is not None and self.role is None:
            raise ValueError("`name` goes with `role` (the accessible name of an element with that role)")
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"unknown ARIA role {self.role!r}; one of: {', '.join(sorted(ROLES))}")
        return self

    def describe(self) -> str:
        """In words, for messages: `button 'Sign in'`, `label 'PO number'`."""
        if self.role is not None:
            what = f"{self.role} {self.name!r}" if self.name else f"a {self.role}"
        else:
            way = next(way for way in WAYS if getattr(self, way) is not None)
            what = f"{way.replace('_', ' ')} {getattr(self, way)!r}"
        if self.within is not None:
            what = f"{what} in {self.within.describe()}"
        return f"{what} (in frame {self.frame!r})" if self.frame else what

    def for_line(self, n: int) -> Self:
        """The target with `{n}` replaced by a line's number."""

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace("{n}", str(n))
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            return value

        return type(self).model_validate(fill(self.model_dump(exclude_none=True)))


def label_shorthand(value: Any) -> Any:
    """`fill: PO number` is short for `fill: {label: PO number}`."""
    return {"label": value} if isinstance(value, str) else value


def text_shorthand(value: Any) -> Any:
    """`click: Create Invoice` is short for `click: {text: Create Invoice}`."""
    return {"text": value} if isinstance(value, str) else value
