"""Recipes: everything that differs between web portals, in a YAML file beside the rules files.

A recipe says where a portal's pages are, how to find each element (by label or by role and name,
as a person or a screen reader would; CSS only as a last resort), which canonical form field goes
into which input, how a line is added, where the confirmation, the errors, the status and the reason
are shown, and what the portal's status words mean. The connector's code is the same for every portal:
adding a portal of this kind is writing a recipe. Validated with `extra="forbid"`; every problem is
reported with the file, the line and the field.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.errors import ConfigError
from hub.model import InvoiceState
from rules.loader import RulesFileError, read_yaml

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
_WAYS = ("label", "role", "text", "test_id", "term", "css")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """How to find one element. Exactly one of: `label` (the input's label), `role` (+ `name`, its
    accessible name), `text`, `test_id`, `term` (the value beside a `<dt>` term) or `css`.
    `{n}` in any text is replaced by the current line's position (1, 2, ...)."""

    label: str | None = None
    role: str | None = None
    name: str | None = None
    text: str | None = None
    test_id: str | None = None
    term: str | None = None
    css: str | None = None
    exact: bool = True
    #: Look only inside this element (e.g. the list items of the alert: `{role: listitem, within: {role: alert}}`).
    within: Target | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Target:
        ways = [way for way in _WAYS if getattr(self, way) is not None]
        if len(ways) != 1:
            raise ValueError(f"give exactly one of {', '.join(_WAYS)} (found {', '.join(ways) or 'none'})")
        if self.name is not None and self.role is None:
            raise ValueError("`name` goes with `role` (the accessible name of an element with that role)")
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"unknown ARIA role {self.role!r}; one of: {', '.join(sorted(ROLES))}")
        return self

    def describe(self) -> str:
        if self.role is not None:
            what = f"{self.role} {self.name!r}" if self.name else f"a {self.role}"
        else:
            way = next(way for way in _WAYS if getattr(self, way) is not None)
            what = f"{way.replace('_', ' ')} {getattr(self, way)!r}"
        return f"{what} in {self.within.describe()}" if self.within is not None else what

    def for_line(self, n: int) -> Self:
        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace("{n}", str(n))
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            return value

        return type(self).model_validate(fill(self.model_dump(exclude_none=True)))


def _label_shorthand(value: Any) -> Any:
    # `invoice_number: Invoice number` is short for `invoice_number: {label: Invoice number}`.
    return {"label": value} if isinstance(value, str) else value


class FormField(Target):
    """An input the connector fills. `select` picks the option with that value or label; `date` writes
    the date with `format` (strftime, default ISO 8601, what `<input type=date>` takes); `file` uploads."""

    kind: Literal["text", "select", "date"] = "text"
    format: str = "%Y-%m-%d"


Field_ = Annotated[FormField, BeforeValidator(_label_shorthand)]


class HeaderFields(_Strict):
    """Canonical header field -> the portal's input. Fields the portal does not have are left out."""

    invoice_number: Field_
    invoice_date: Field_ | None = None
    due_date: Field_ | None = None
    currency: Field_ | None = None
    po_number: Field_ | None = None
    contract_number: Field_ | None = None
    payment_terms: Field_ | None = None
    subtotal: Field_ | None = None
    tax_total: Field_ | None = None
    charges_total: Field_ | None = None
    total: Field_ | None = None
    comments: Field_ | None = None


class LineFields(_Strict):
    """Canonical line field -> the portal's input for the line being added."""

    po_line: Field_ | None = None
    part_number: Field_ | None = None
    buyer_part: Field_ | None = None
    description: Field_ | None = None
    quantity: Field_ | None = None
    unit: Field_ | None = None
    unit_price: Field_ | None = None
    amount: Field_ | None = None
    tax_amount: Field_ | None = None
    afe_number: Field_ | None = None
    well_id: Field_ | None = None
    cost_center: Field_ | None = None
    field_ticket: Field_ | None = None
    service_start: Field_ | None = None
    service_end: Field_ | None = None


class Mfa(_Strict):
    code: Field_
    submit: Target
    error: Target | None = None  # defaults to the login error


class Login(_Strict):
    page: str = "/login"
    username: Field_
    password: Field_
    submit: Target
    error: Target  # where a refused sign-in shows the portal's words
    mfa: Mfa | None = None
    signed_in: Target  # on every page once signed in (a sign-out link, say)


class PoLookup(_Strict):
    button: Target
    found: Target  # shows once the portal knows the PO


class Lines(_Strict):
    """How lines are keyed, one at a time; `{n}` in any of these targets is the line's number.

    `round_trip` (the default): fill `fields`, press `add`; the portal answers with its form again,
    showing `added` or its own messages. `in_page`: press `add`, which adds an empty row in the page
    itself (no request), wait for `added` (the new row's first input, say), fill that row's `fields`
    (labels such as `Line {n} quantity`); the portal checks the lines when the invoice is submitted."""

    mode: Literal["round_trip", "in_page"] = "round_trip"
    fields: LineFields
    add: Target
    added: Target


class Confirmation(_Strict):
    target: Target
    pattern: str  # a regular expression whose first group is the portal's invoice id

    @field_validator("pattern")
    @classmethod
    def _one_group(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if compiled.groups < 1:
            raise ValueError("needs a group, e.g. 'Reference: (\\S+)', that captures the portal's invoice id")
        return value


class InvoiceForm(_Strict):
    page: str
    header: HeaderFields
    po_lookup: PoLookup | None = None
    lines: Lines
    #: Fill the header again before submitting, for portals whose round trips (PO lookup, adding a line)
    #: come back without the header values typed before.
    refill_header: bool = False
    attachment: Target | None = None  # the file input for the PDF
    submit: Target
    errors: Target  # where the portal lists what is wrong with the form
    confirmation: Confirmation


class Columns(_Strict):
    """Column headers of the invoice list, as shown."""

    invoice_number: str
    status: str
    updated: str
    portal_invoice_id: str | None = None
    #: The invoice's total as listed ("125.00" or "125.00 USD"): lets the hub tell its own invoice from
    #: another one under the same number when it reconciles an unanswered send.
    total: str | None = None


class InvoiceList(_Strict):
    page: str
    number_filter: Field_
    updated_since: Field_ | None = None  # its `format` is how the portal wants the instant written
    search: Target
    table: Target
    columns: Columns
    updated_format: str = "%Y-%m-%d %H:%M:%S"
    timezone: str = "UTC"  # of list timestamps without an offset
    next_page: Target | None = None
    errors: Target | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as America/Chicago"
            ) from None
        return value


class InvoiceDetail(_Strict):
    """The invoice's own page (reached from the invoice number in the list)."""

    reason: Target | None = None
    reason_code: Target | None = None


def _state(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class Recipe(_Strict):
    name: str
    description: str | None = None
    login: Login
    invoice_form: InvoiceForm
    invoice_list: InvoiceList
    invoice_detail: InvoiceDetail = Field(default_factory=InvoiceDetail)
    #: The portal's status words -> canonical states (matched ignoring case); unknown words are kept raw.
    statuses: dict[str, Annotated[InvoiceState, BeforeValidator(_state)]] = Field(min_length=1)
    #: Statuses whose reason is read from the invoice's detail page.
    reason_states: list[Annotated[InvoiceState, BeforeValidator(_state)]] = Field(
        default_factory=lambda: [InvoiceState.REJECTED, InvoiceState.DISPUTED]
    )

    def state_of(self, word: str) -> InvoiceState | None:
        wanted = word.strip().casefold()
        return next((state for key, state in self.statuses.items() if key.casefold() == wanted), None)


class RecipeError(ConfigError):
    """A recipe that does not load; the message has one `file:line: field: problem` per problem."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"recipe {path} is not valid:\n  " + "\n  ".join(problems))


def parse_recipe(path: Path) -> Recipe:
    """Read and validate one recipe file."""
    try:
        document = read_yaml(path)
    except RulesFileError as exc:
        raise RecipeError(path, [str(problem) for problem in exc.problems]) from exc
    try:
        return Recipe.model_validate(document.data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = tuple(error["loc"])
            # Unions and shorthands add pydantic's own steps ("function-before[...]"): not the file's.
            shown = [str(p) for p in location if not str(p).startswith(("function-", "FormField"))]
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (check the spelling)"
            line = document.line_of(location) or 1
            problems.append(f"{path}:{line}: {'.'.join(shown) or 'recipe'}: {message}")
        raise RecipeError(path, problems) from exc


class RecipeCache:
    """Parsed recipes, read again when their file changes (AR operations edit them like rules files)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], Recipe]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> Recipe:
        try:
            stat = path.stat()
        except OSError as exc:
            raise RecipeError(path, [f"{path}: the recipe file does not exist ({exc.strerror})"]) from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        recipe = parse_recipe(path)
        with self._lock:
            self._cache[path] = (stamp, recipe)
        return recipe
