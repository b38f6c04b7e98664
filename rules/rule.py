"""One rule of a rules file: what it looks at, what it demands, and when it applies.

A rule has exactly one target:
- `field`: a canonical invoice field (`[*]` over lists): required, forbidden, pattern, one_of,
  one_of_ref (a reference list), length, min/max, equals, within_days, unique, matches;
- `document`: an XPath on the rendered document (cXML, or PIDX with the `pidx:` prefix);
- `check`: an arithmetic check (line_amounts, summary_totals, tax_rates, po_remaining) with a tolerance;
- `attachments`: count, content types, size, file-name pattern;
- `document_schema`: the rendered document must validate against a DTD or XSD.
`when:` narrows any rule to invoices (or lines) meeting a condition; `effective_from` to invoices dated
from that day. The reference for every construct, with examples, is docs/rules.md.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import regex
from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from hub.model import RejectionCategory
from hub.profile import Strict

RULE_ID = r"^[a-z0-9][a-z0-9._-]*$"


#: Patterns in rules files are untrusted input: longer ones are refused unread...
MAX_PATTERN_LENGTH = 1000
#: ...and so are those whose counted repeats multiply past this (`regex` expands `{n}` as it compiles:
#: `(?:(?:a{1000}){1000}){1000}` would take hours and all memory; 100,000 compiles in about 0.1 s).
MAX_PATTERN_SIZE = 100_000


def compile_pattern(value: str) -> str:
    """The pattern, checked to compile in bounded time and memory; ValueError says what is wrong."""
    shown = value if len(value) <= 80 else value[:77] + "..."
    if len(value) > MAX_PATTERN_LENGTH:
        raise ValueError(
            f"pattern {shown!r} is {len(value)} characters long; the limit is {MAX_PATTERN_LENGTH}"
        )
    size = pattern_size(value)
    if size > MAX_PATTERN_SIZE:
        raise ValueError(
            f"pattern {shown!r} is too large once its counted repeats are multiplied out (more than "
            f"{MAX_PATTERN_SIZE:,} steps); nest fewer `{{n}}` repeats or use `+`/`*`"
        )
    try:
        regex.compile(value)
    except regex.error as exc:
        raise ValueError(f"pattern {shown!r} is not a valid regular expression: {exc}") from exc
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise ValueError(
            f"pattern {shown!r} is too complex to compile ({type(exc).__name__}); simplify it"
        ) from None
    return value


_COUNTED = regex.compile(r"\{(\d+)(?:,(\d*))?\}")


def pattern_size(pattern: str) -> int:
    """About how many steps the pattern compiles to, counted repeats multiplied out (nested ones
    multiply), without compiling it. Read with the standard library's own parser; a pattern only
    `regex` understands is estimated from its `{n}` counts, all multiplied (an over-estimate)."""
    import re._parser as sre

    try:
        return _size(sre.parse(pattern), sre.MAXREPEAT)
    except RecursionError:
        return MAX_PATTERN_SIZE + 1  # nested deeper than Python's own parser goes: refuse it
    except Exception:
        total = 1
        for low, high in _COUNTED.findall(pattern):
            total *= max(int(high or low or 1), 1)
            if total > MAX_PATTERN_SIZE:
                break
        return total


def _size(items: Any, unbounded: int) -> int:
    total = 0
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            count = low if high == unbounded else high
            total += max(count, 1) * _size(sub, unbounded)
        elif name == "SUBPATTERN":
            total += _size(arg[-1], unbounded)
        elif name == "BRANCH":
            total += sum(_size(branch, unbounded) for branch in arg[1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            total += _size(arg[1], unbounded)
        elif name == "ATOMIC_GROUP":
            total += _size(arg, unbounded)
        elif name == "GROUPREF_EXISTS":
            total += sum(_size(branch, unbounded) for branch in arg[1:] if branch is not None)
        else:
            total += 1
        if total > MAX_PATTERN_SIZE:
            break
    return total


# --- conditions --------------------------------------------------------------------------------------------
class FieldCondition(Strict):
    """True when the field's value meets the one test given. On a rule over `lines[*]`, a condition on
    `lines[*].x` looks at the same line; elsewhere `[*]` means "any element"."""

    field: str
    equals: str | int | float | bool | None = None
    in_: list[str | int | float | bool] | None = Field(default=None, alias="in")
    present: bool | None = None
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return compile_pattern(value) if value is not None else None

    @model_validator(mode="after")
    def _one_test(self) -> FieldCondition:
        given = [name for name in ("equals", "in_", "present", "pattern") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a condition on a field takes exactly one of: equals, in, present, pattern")
        return self


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1)


class NotOf(Strict):
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not", "field"):
            if key in value:
                return key
        return None
    kinds: dict[type, str] = {AllOf: "all", AnyOf: "any", NotOf: "not", FieldCondition: "field"}
    return kinds.get(type(value))


Condition = Annotated[
    Annotated[FieldCondition, Tag("field")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message="a condition is {field: ..., equals|in|present|pattern: ...} or all:/any:/not:",
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


# --- constraint parts --------------------------------------------------------------------------------------
class LengthRange(Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> LengthRange:
        if self.min is None and self.max is None:
            raise ValueError("length needs min, max or both")
        return self


class WithinDays(Strict):
    """A date may lie at most `past` days before and `future` days after today, or after the date in
    the field named by `of` (e.g. a due date within 90 days of the invoice date)."""

    past: int | None = Field(default=None, ge=0)
    future: int | None = Field(default=None, ge=0)
    of: str | None = None

    @model_validator(mode="after")
    def _bounded(self) -> WithinDays:
        if self.past is None and self.future is None:
            raise ValueError("within_days needs past, future or both")
        return self


class Count(Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class AttachmentRule(Strict):
    count: Count | None = None
    content_types: list[str] | None = None
    max_bytes: int | None = Field(default=None, gt=0)
    filename_pattern: str | None = None

    @field_validator("filename_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return compile_pattern(value) if value is not None else None

    @model_validator(mode="after")
    def _something(self) -> AttachmentRule:
        if all(getattr(self, n) is None for n in ("count", "content_types", "max_bytes", "filename_pattern")):
            raise ValueError("attachments needs count, content_types, max_bytes or filename_pattern")
        return self


class DocumentSchemaRule(Strict):
    """The rendered document must validate against this DTD or XSD (a path relative to the rules file,
    or `refs:<path>` inside the shared references folder)."""

    dtd: str | None = None
    xsd: str | None = None

    @model_validator(mode="after")
    def _one(self) -> DocumentSchemaRule:
        if (self.dtd is None) == (self.xsd is None):
            raise ValueError("document_schema takes exactly one of dtd or xsd")
        return self


CheckName = Literal["line_amounts", "summary_totals", "tax_rates", "po_remaining"]
TARGETS = ("field", "document", "check", "attachments", "document_schema")
FIELD_CONSTRAINTS = (
    "required",
    "forbidden",
    "pattern",
    "one_of",
    "one_of_ref",
    "length",
    "min",
    "max",
    "equals",
    "within_days",
    "unique",
    "matches",
)
DOCUMENT_CONSTRAINTS = (
    "required",
    "forbidden",
    "pattern",
    "one_of",
    "one_of_ref",
    "length",
    "min",
    "max",
    "equals",
)


class Rule(Strict):
    """One check (see the module docstring); ids are unique across a file and what `extends` overrides."""

    id: str = Field(pattern=RULE_ID)
    description: str | None = None
    # targets (exactly one)
    field: str | None = None
    document: str | None = None
    check: CheckName | None = None
    attachments: AttachmentRule | None = None
    document_schema: DocumentSchemaRule | None = None
    # constraints on a field or document value
    required: bool | None = None
    forbidden: bool | None = None
    pattern: str | None = None
    one_of: list[str] | None = None
    one_of_ref: str | None = None  # the name of a reference list of the file
    length: LengthRange | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    equals: str | None = None
    within_days: WithinDays | None = None
    unique: bool | None = None  # across the elements `[*]` reaches
    matches: str | None = None  # another field path whose value this one must equal
    tolerance: Decimal | None = Field(default=None, ge=0)  # for `check`
    # scope
    when: Condition | None = None
    effective_from: date | None = None  # applies to invoices dated on or after this day
    # what the collector reads
    message: str | None = None  # may use {field}, {value} and {expected}
    hint: str | None = None  # what to change in the AR system
    severity: Literal["error", "warning"] = "error"
    category: RejectionCategory | None = None
    disabled: bool = False  # switches off an inherited rule of the same id

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return compile_pattern(value) if value is not None else None

    @property
    def target(self) -> str | None:
        return next((name for name in TARGETS if getattr(self, name) is not None), None)

    def given(self, names: tuple[str, ...]) -> list[str]:
        # `is not`, not `not in`: min: 0 is a constraint, and Decimal(0) == False.
        return [n for n in names if getattr(self, n) is not None and getattr(self, n) is not False]

    @model_validator(mode="after")
    def _well_formed(self) -> Rule:
        if self.disabled:
            return self
        targets = [name for name in TARGETS if getattr(self, name) is not None]
        if len(targets) != 1:
            raise ValueError(
                f"a rule has exactly one target: {', '.join(TARGETS)} (found {targets or 'none'})"
            )
        target = targets[0]
        if target == "field":
            if not self.given(FIELD_CONSTRAINTS):
                raise ValueError(f"a field rule needs at least one of: {', '.join(FIELD_CONSTRAINTS)}")
        elif target == "document":
            extra = set(self.given(FIELD_CONSTRAINTS)) - set(DOCUMENT_CONSTRAINTS)
            if extra:
                raise ValueError(
                    f"{', '.join(sorted(extra))} apply to invoice fields, not to document XPaths"
                )
            if not self.given(DOCUMENT_CONSTRAINTS):
                raise ValueError(f"a document rule needs at least one of: {', '.join(DOCUMENT_CONSTRAINTS)}")
        else:
            stray = self.given(FIELD_CONSTRAINTS)
            if stray:
                raise ValueError(f"a `{target}` rule takes no {', '.join(stray)}")
        if self.tolerance is not None and target != "check":
            raise ValueError("tolerance applies to `check` rules")
        if self.required and self.forbidden:
            raise ValueError("a rule cannot both require and forbid a value")
        return self
