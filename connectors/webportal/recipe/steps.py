"""One step of an operation: an action (goto, click, fill, select, upload, wait_for, wait_for_url,
read) with its options. Each step names exactly one action, as a key: `- click: {role: button, name:
Next}`. A step's value is a canonical field (`field: po_number`, mapped and formatted as the recipe's
`fields:` say) or a literal text (`value: "{username}"`)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from connectors.webportal.recipe.targets import Target, label_shorthand, text_shorthand
from hub.profile import Strict

ACTIONS = ("goto", "click", "fill", "select", "upload", "wait_for", "wait_for_url", "read")
#: Placeholders a `value:` may use (besides `{n}`, the line's number).
PLACEHOLDERS = frozenset({"username", "password", "one_time_code", "n"})
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

LabelTarget = Annotated[Target, BeforeValidator(label_shorthand)]
TextTarget = Annotated[Target, BeforeValidator(text_shorthand)]


def _regex(value: str | None, groups: int = 0) -> str | None:
    if value is None:
        return None
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    if compiled.groups < groups:
        raise ValueError("needs a group, e.g. 'Reference: (\\S+)', around the part to keep")
    return value


class Search(Strict):
    """Before choosing from a select: type the value (or `text`) into `fill`, then press `press`; the
    portal narrows the select's options to what matches (in the page, or with a page load)."""

    fill: LabelTarget
    press: TextTarget | None = None  # none: the portal searches as you type
    loads_page: bool = False


class Step(Strict):
    """One thing done on the page. Exactly one action key."""

    #: Open a page of the portal (a path relative to the profile's base_url).
    goto: str | None = None
    #: Press a button or link. `loads_page: true` when that loads a new page (a form post, a link):
    #: the connector then waits for it and looks for the portal's messages.
    click: TextTarget | None = None
    #: Type the value into an input.
    fill: LabelTarget | None = None
    #: Choose an option of a `<select>`: `by: value`, `label` or `label_contains` (an option whose label
    #: contains the value: "4500017001 - Drilling fluids - USD" for 4500017001), after a `search`.
    select: LabelTarget | None = None
    #: Put the invoice's PDF into a file input.
    upload: LabelTarget | None = None
    #: Wait until the element shows (a text: `{text: "Line {n} added."}`).
    wait_for: TextTarget | None = None
    #: Wait until the page's address matches this regular expression (a draft's new address).
    wait_for_url: str | None = None
    #: Read an element's text (or `attribute`) into `into`, keeping `pattern`'s first group.
    read: LabelTarget | None = None

    field: str | None = None  # the canonical field whose value is typed or chosen
    value: str | None = None  # or this text ({username}, {password}, {one_time_code}, {n})
    by: Literal["value", "label", "label_contains"] = "label"
    search: Search | None = None
    loads_page: bool = False
    #: The click opens a pop-up window: the operation's next steps work in it.
    opens_popup: bool = False
    attribute: str | None = None
    pattern: str | None = None
    into: str | None = None
    #: Not a recipe gap when the element is absent: the step is skipped (a read gives nothing).
    optional: bool = False
    #: Only when this element shows (a one-time-code page that some sign-ins skip).
    when_visible: LabelTarget | None = None
    #: Only when the invoice has a value for this canonical field (a PO lookup only with a PO number).
    when_field: str | None = None
    #: Wait at most this long for the element, instead of the profile's step timeout.
    timeout_seconds: float | None = Field(default=None, gt=0, le=300)

    @field_validator("wait_for_url")
    @classmethod
    def _url_pattern(cls, value: str | None) -> str | None:
        return _regex(value)

    @field_validator("pattern")
    @classmethod
    def _read_pattern(cls, value: str | None) -> str | None:
        return _regex(value, groups=1)

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(actions) != 1:
            raise ValueError(
                f"a step has exactly one action of {', '.join(ACTIONS)} (found {', '.join(actions) or 'none'})"
            )
        action = actions[0]
        if action in ("fill", "select") and (self.field is None) == (self.value is None):
            raise ValueError(f"`{action}` takes exactly one of `field` (a canonical field) or `value`")
        if action == "read" and self.into is None:
            raise ValueError(
                "`read` needs `into`: the name of what it reads (portal_invoice_id, reason, ...)"
            )
        if self.search is not None and action != "select":
            raise ValueError("`search` goes with `select`")
        if self.by != "label" and action != "select":
            raise ValueError("`by` goes with `select`")
        if (self.loads_page or self.opens_popup) and action != "click":
            raise ValueError("`loads_page` and `opens_popup` go with `click`")
        if self.value is not None:
            unknown = set(_PLACEHOLDER.findall(self.value)) - PLACEHOLDERS
            if unknown:
                raise ValueError(
                    f"unknown placeholder {{{sorted(unknown)[0]}}}; one of {', '.join(sorted(PLACEHOLDERS))}"
                )
        return self

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) is not None)

    def describe(self) -> str:
        """What the step does, in words (for messages and the `recipe check` listing)."""
        action = self.action
        if action == "goto":
            return f"goto {self.goto}"
        if action == "wait_for_url":
            return f"wait for the address to match {self.wait_for_url!r}"
        target: Target = getattr(self, action)
        what = f"{action.replace('_', ' ')} {target.describe()}"
        if self.field is not None:
            what += f" with {self.field}"
        if action == "read":
            what += f" into {self.into}"
        return what
