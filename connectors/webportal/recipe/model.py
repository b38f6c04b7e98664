"""A recipe: per operation, the steps a person takes in the portal, and per canonical field, how the
portal wants its value written (value maps such as HUR -> HR, date and number formats)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from connectors.settings import TimeZoneName
from connectors.webportal.recipe.steps import LabelTarget, Step, TextTarget
from connectors.webportal.recipe.targets import Target
from hub.model import InvoiceState
from hub.profile import Strict

#: Canonical fields of the web form (connectors/webportal/form.py) a step may name.
HEADER_FIELDS = frozenset(
    [
        "invoice_number",
        "invoice_date",
        "due_date",
        "currency",
        "po_number",
        "contract_number",
        "payment_terms",
        "subtotal",
        "tax_total",
        "charges_total",
        "total",
        "comments",
    ]
)
LINE_FIELDS = frozenset(
    [
        "po_line",
        "part_number",
        "buyer_part",
        "description",
        "quantity",
        "unit",
        "unit_price",
        "amount",
        "tax_amount",
        "afe_number",
        "well_id",
        "cost_center",
        "field_ticket",
        "service_start",
        "service_end",
    ]
)
#: What the invoice list's steps may type: the number looked up, the instant of the last poll.
LIST_FIELDS = frozenset(["invoice_number", "updated_since"])
DATE_FIELDS = frozenset(["invoice_date", "due_date", "service_start", "service_end"])


class NumberFormat(Strict):
    """How the portal writes a number: `1.234,50` is `{decimal_separator: ",", thousands_separator: "."}`."""

    decimal_separator: str = Field(default=".", min_length=1, max_length=1)
    thousands_separator: str = Field(default="", max_length=1)
    places: int | None = Field(default=None, ge=0, le=6)  # fixed decimal places (rounded half-up)


class FieldFormat(Strict):
    """How one canonical field's value is written into the portal."""

    #: AR value -> the portal's value (units: HUR -> HR). A value not in the map cannot be keyed: the
    #: invoice is blocked before sending, naming the value and the map to extend.
    map: dict[str, str] | None = None
    date: str | None = None  # strftime: "%m/%d/%Y"
    number: NumberFormat | None = None
    #: For `updated_since`: strftime of the instant, written in `timezone`.
    datetime: str | None = None
    timezone: TimeZoneName = "UTC"


class SignIn(Strict):
    """Signing in. Steps may type `{username}`, `{password}` and `{one_time_code}` (from the profile's
    TOTP seed); after each `loads_page` click, `refused` showing is the portal refusing the sign-in."""

    page: str  # where the portal sends a signed-out user (a session that ended is recognised by it)
    steps: list[Step] = Field(min_length=1)
    refused: TextTarget
    signed_in: TextTarget  # on every page once signed in (a sign-out link, say)


class Lines(Strict):
    """The lines, one after another: `each` runs once per line, `{n}` being its number. Adding a line
    is a step like any other: a `click` that loads a page or one that grows a table in the page."""

    each: list[Step] = Field(min_length=1)


class SubmitInvoice(Strict):
    """Keying one invoice. The first step of `submit` is the point of no return: a page that does not
    match the recipe before it is a recipe gap (nothing was sent); after it, the outcome is in doubt.
    `errors` showing after any page load, or instead of an element waited for, is the portal's refusal."""

    open_form: list[Step] = Field(min_length=1)
    fill_header: list[Step] = Field(min_length=1)
    fill_lines: Lines
    attach: list[Step] = Field(default_factory=list)
    submit: list[Step] = Field(min_length=1)
    #: Reads `portal_invoice_id` (and waits for the confirmation).
    read_confirmation: list[Step] = Field(min_length=1)
    errors: TextTarget

    @model_validator(mode="after")
    def _reads_the_id(self) -> SubmitInvoice:
        if not any(s.action == "read" and s.into == "portal_invoice_id" for s in self.read_confirmation):
            raise ValueError("read_confirmation needs a `read` step `into: portal_invoice_id`")
        return self


class Columns(Strict):
    """Column headers of the invoice list, as shown."""

    invoice_number: str
    status: str
    updated: str
    portal_invoice_id: str | None = None
    #: The column whose link opens the invoice's detail page (default: the invoice number's).
    detail_link: str | None = None
    #: The invoice's total as listed ("125.00" or "125.00 USD"): lets the hub tell its own invoice from
    #: another under the same number when a send went unanswered (hub/pipeline/evidence.py).
    total: str | None = None


class InvoiceList(Strict):
    """The invoice list: `steps` open and filter it (typing `invoice_number` when looking one up,
    `updated_since` when polling; a step whose field has no value is skipped), then the table is read
    page after page."""

    steps: list[Step] = Field(min_length=1)
    table: TextTarget
    columns: Columns
    updated_format: str = "%Y-%m-%d %H:%M:%S"
    timezone: TimeZoneName = "UTC"  # of list times without an offset
    #: Rows whose text matches one of these regular expressions are the portal's "nothing found".
    empty: list[str] = Field(default_factory=list)
    next_page: TextTarget | None = None
    errors: TextTarget | None = None


class InvoiceDetail(Strict):
    """The invoice's own page (reached from the list's `detail_link` column): steps that `read` into
    `reason` and `reason_code` (usually `optional: true`: only some invoices have one)."""

    steps: list[Step] = Field(default_factory=list)


def _state(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


State = Annotated[InvoiceState, BeforeValidator(_state)]


class Recipe(Strict):
    name: str
    description: str | None = None
    fields: dict[str, FieldFormat] = Field(default_factory=dict)
    sign_in: SignIn
    submit_invoice: SubmitInvoice
    invoice_list: InvoiceList
    invoice_detail: InvoiceDetail = Field(default_factory=InvoiceDetail)
    #: The portal's status words -> canonical states (matched ignoring case); unknown words are kept raw.
    statuses: dict[str, State] = Field(min_length=1)
    #: Statuses whose reason is read from the invoice's detail page.
    reason_states: list[State] = Field(default_factory=lambda: [InvoiceState.REJECTED, InvoiceState.DISPUTED])

    @model_validator(mode="after")
    def _fields_known(self) -> Recipe:
        known = HEADER_FIELDS | LINE_FIELDS | LIST_FIELDS
        unknown = sorted(set(self.fields) - known)
        if unknown:
            raise ValueError(
                f"fields: unknown canonical field {unknown[0]!r}; one of {', '.join(sorted(known))}"
            )
        groups: list[tuple[str, list[Step], frozenset[str]]] = [
            ("submit_invoice.open_form", self.submit_invoice.open_form, HEADER_FIELDS),
            ("submit_invoice.fill_header", self.submit_invoice.fill_header, HEADER_FIELDS),
            ("submit_invoice.attach", self.submit_invoice.attach, HEADER_FIELDS),
            ("submit_invoice.fill_lines.each", self.submit_invoice.fill_lines.each, LINE_FIELDS),
            ("invoice_list.steps", self.invoice_list.steps, LIST_FIELDS),
        ]
        for where, steps, allowed in groups:
            for n, step in enumerate(steps):
                if step.field is not None and step.field not in allowed:
                    raise ValueError(
                        f"{where}.{n}.field: {step.field!r} is not a field there; one of {', '.join(sorted(allowed))}"
                    )
        return self

    def state_of(self, word: str) -> InvoiceState | None:
        wanted = word.strip().casefold()
        return next((state for key, state in self.statuses.items() if key.casefold() == wanted), None)

    def format_of(self, field: str) -> FieldFormat | None:
        return self.fields.get(field)


__all__ = [
    "Columns",
    "FieldFormat",
    "InvoiceDetail",
    "InvoiceList",
    "LabelTarget",
    "Lines",
    "NumberFormat",
    "Recipe",
    "SignIn",
    "Step",
    "SubmitInvoice",
    "Target",
]
