"""The JSON Schema of a rules file for editors: every key described with an example, field paths as an
enum of the canonical model's paths (derived from hub/model.py, `[*]` over lists).

`portalhub rules schema` prints it; the hub adds the per-connector `connection:` models on top
(hub.rules_tools.rules_schema), because rules/ does not import connectors.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel

from hub.model import Invoice
from rules.paths import _field_annotation
from rules.schema import RuleSet, RulesFile

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"

#: (model, key) -> (what it means, an example value). A test requires one for every key of the schema.
KEYS: dict[tuple[str, str], tuple[str, Any]] = {
    # the file
    ("RuleSet", "id"): ("The file's id; must equal the file name without .yaml.", "acme-coupa"),
    ("RuleSet", "description"): ("What this file is for, in a sentence.", "ACME Manufacturing on Coupa"),
    ("RuleSet", "version"): ("The file's version, recorded with every invoice it validated.", "3"),
    ("RuleSet", "effective_from"): ("The file applies to invoices dated on or after this day.", "2026-01-01"),
    ("RuleSet", "extends"): (
        "Baselines or rules files whose rules this file inherits (by name or relative path), in order.",
        ["coupa-baseline"],
    ),
    ("RuleSet", "reference"): (
        "Named lists of allowed values for `one_of_ref`, from a CSV/YAML file beside this one or inline.",
        {"cost_centers": {"file": "acme-cost-centers.csv", "column": "code"}},
    ),
    ("RuleSet", "rules"): (
        "The rules: each checks one field, XPath, arithmetic check, attachments or the document schema.",
        [{"id": "acme-po-required", "field": "po_number", "required": True}],
    ),
    ("RuleSet", "examples"): (
        "Invoices run through the whole profile by `portalhub rules test`, with the rules they must break.",
        [{"name": "a PO invoice passes", "invoice": "examples/acme-invoice.json"}],
    ),
    ("RulesFile", "buyer"): ("The buyer's name, as AR operations know it.", "ACME Manufacturing"),
    ("RulesFile", "connector"): ("The connector that reaches this customer's portal.", "coupa"),
    ("RulesFile", "match"): ("Which AR invoices this profile takes.", {"customer_id": ["C-1001"]}),
    ("RulesFile", "connection"): (
        "How to reach the portal; its keys depend on `connector`. Secrets only by reference (env:, file:, secret:).",
        {"invoice_url": "https://acme.coupahost.com/cxml/invoices", "shared_secret": "secret:acme_coupa"},
    ),
    ("RulesFile", "limits"): ("How fast the hub may send to this portal.", {"per_minute": 30}),
    ("Match", "customer_id"): (
        "AR customer ids routed to this portal (each to exactly one profile).",
        ["C-1001"],
    ),
    ("Limits", "per_minute"): ("At most this many submissions a minute (1-6000).", 30),
    ("ReferenceList", "file"): (
        "A CSV or YAML file of values, relative to the rules file.",
        "acme-po-numbers.csv",
    ),
    ("ReferenceList", "column"): ("The CSV column holding the values (the first one when absent).", "code"),
    ("ReferenceList", "values"): ("The values written inline instead of a file.", ["CC-100", "CC-200"]),
    ("Example", "name"): ("What the example shows, in words.", "a short PO number fails"),
    ("Example", "invoice"): (
        "A canonical invoice JSON file (relative to the rules file), or {from: file, set: {path: value}}.",
        {"from": "examples/acme-invoice.json", "set": {"po_number": "PO-1"}},
    ),
    ("Example", "today"): (
        "The day the example runs on (for within_days); the invoice date when absent.",
        "2026-11-20",
    ),
    ("Example", "passes"): ("Rule ids this invoice must not break.", ["acme-po-format"]),
    ("Example", "fails"): (
        "Rule ids this invoice must break; breaking any other rule of the profile fails the example.",
        ["acme-po-format"],
    ),
    ("Example", "connector"): (
        "Renders the document for document rules (a baseline's examples need it).",
        "coupa",
    ),
    ("ExampleInvoice", "from"): (
        "The canonical invoice JSON file to start from.",
        "examples/acme-invoice.json",
    ),
    ("ExampleInvoice", "set"): (
        "Fields overridden by path (lists by index); null removes a value.",
        {"lines[0].unit_of_measure": "bx"},
    ),
    # a rule
    ("Rule", "id"): ("Unique in the file; an inherited rule with this id is replaced.", "acme-po-format"),
    ("Rule", "description"): (
        "Why the rule exists (the buyer's words, a ticket).",
        "ACME AP pays only against a PO",
    ),
    ("Rule", "field"): (
        "The canonical invoice field the rule checks; `[*]` checks every element.",
        "po_number",
    ),
    ("Rule", "document"): (
        "An XPath on the rendered document (cXML; PIDX with the pidx: prefix).",
        "//InvoiceDetailRequestHeader/Extrinsic[@name='CostCenter']",
    ),
    ("Rule", "check"): ("An arithmetic check of the invoice.", "summary_totals"),
    ("Rule", "attachments"): (
        "Demands on the attached files.",
        {"count": {"min": 1}, "content_types": ["application/pdf"]},
    ),
    ("Rule", "document_schema"): (
        "The rendered document must validate against this DTD or XSD.",
        {"dtd": "refs:cxml/1.2.069/InvoiceDetail.dtd"},
    ),
    ("Rule", "required"): ("The value must be present (not empty).", True),
    ("Rule", "forbidden"): ("The value must be absent.", True),
    ("Rule", "pattern"): (
        "A regular expression the value must match (searched; anchor with ^ and $).",
        r"^PO-\d{6}$",
    ),
    ("Rule", "one_of"): ("The value must be one of these.", ["EA", "HUR"]),
    ("Rule", "one_of_ref"): (
        "The value must be in this reference list of the file (`reference:`).",
        "cost_centers",
    ),
    ("Rule", "length"): ("The value's length in characters.", {"min": 1, "max": 50}),
    ("Rule", "min"): ("The smallest number allowed.", 0),
    ("Rule", "max"): ("The largest number allowed.", 100000),
    ("Rule", "equals"): ("The value must equal this (12.5 equals 12.50 for amounts).", "USD"),
    ("Rule", "within_days"): (
        "A date at most `past` days before and `future` days after today (or the date in `of`).",
        {"past": 30, "future": 0},
    ),
    ("Rule", "unique"): ("No two elements reached by `[*]` may have the same value.", True),
    ("Rule", "matches"): ("Another field whose value this one must equal.", "purchase_order.currency"),
    ("Rule", "tolerance"): ("For `check`: the largest difference still accepted.", "0.01"),
    ("Rule", "when"): (
        "The rule applies only to invoices (or lines) meeting this condition.",
        {"field": "purpose", "equals": "credit_memo"},
    ),
    ("Rule", "effective_from"): ("The rule applies to invoices dated on or after this day.", "2026-03-01"),
    ("Rule", "message"): (
        "What the collector reads; may use {field}, {value} and {expected}.",
        "ACME PO numbers look like PO-123456, found '{value}'",
    ),
    ("Rule", "hint"): (
        "What to change in the AR system.",
        "Copy the PO number exactly from the ACME purchase order.",
    ),
    ("Rule", "severity"): ("error blocks the invoice; warning is shown and recorded.", "error"),
    ("Rule", "category"): ("The rejection category the violation counts under in reports.", "po"),
    ("Rule", "disabled"): ("Switches off the inherited rule of the same id.", True),
    ("LengthRange", "min"): ("At least this many characters.", 1),
    ("LengthRange", "max"): ("At most this many characters.", 50),
    ("WithinDays", "past"): ("At most this many days before.", 30),
    ("WithinDays", "future"): ("At most this many days after.", 0),
    ("WithinDays", "of"): ("Measure from the date in this field instead of today.", "invoice_date"),
    ("Count", "min"): ("At least this many attachments.", 1),
    ("Count", "max"): ("At most this many attachments.", 5),
    ("AttachmentRule", "count"): ("How many files.", {"min": 1}),
    ("AttachmentRule", "content_types"): ("The media types allowed.", ["application/pdf"]),
    ("AttachmentRule", "max_bytes"): ("The largest file allowed, in bytes.", 10000000),
    ("AttachmentRule", "filename_pattern"): ("A regular expression every file name must match.", r"\.pdf$"),
    ("DocumentSchemaRule", "dtd"): (
        "A DTD (relative path, or refs: in the shared references).",
        "refs:cxml/1.2.069/InvoiceDetail.dtd",
    ),
    ("DocumentSchemaRule", "xsd"): (
        "An XSD (relative path, or refs: in the shared references).",
        "refs:pidx/1.61/Invoice.xsd",
    ),
    # conditions
    ("FieldCondition", "field"): ("The field the condition tests.", "purpose"),
    ("FieldCondition", "equals"): ("True when the field equals this.", "credit_memo"),
    ("FieldCondition", "in"): ("True when the field is one of these.", ["USD", "CAD"]),
    ("FieldCondition", "present"): ("True when the field has a value (false: when it has none).", True),
    ("FieldCondition", "pattern"): ("True when the field matches this regular expression.", "^PO-"),
    ("AllOf", "all"): ("True when every condition is.", [{"field": "currency", "equals": "USD"}]),
    ("AnyOf", "any"): ("True when one condition is.", [{"field": "po_number", "present": True}]),
    ("NotOf", "not"): ("True when the condition is not.", {"field": "po_number", "present": True}),
}
#: Keys where the schema expects a field path of the canonical invoice.
FIELD_KEYS = {("Rule", "field"), ("Rule", "matches"), ("WithinDays", "of"), ("FieldCondition", "field")}


def model_paths(model: type[BaseModel] = Invoice, prefix: str = "", depth: int = 0) -> list[str]:
    """Every path of the canonical model, records included, `[*]` over lists, `name.*` over mappings."""
    found: list[str] = []
    if depth > 6:
        return found
    for name, info in model.model_fields.items():
        annotation = _field_annotation(info.annotation)
        path = f"{prefix}{name}"
        if typing.get_origin(annotation) is list:
            path += "[*]"
            annotation = _field_annotation(typing.get_args(annotation)[0])
        elif typing.get_origin(annotation) is dict:
            found.append(path)
            found.append(f"{path}.*")
            continue
        found.append(path)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(model_paths(annotation, f"{path}.", depth + 1))
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            for option in typing.get_args(annotation):
                if isinstance(option, type) and issubclass(option, BaseModel):
                    found.extend(model_paths(option, f"{path}.", depth + 1))
    return list(dict.fromkeys(found))


def field_path_schema() -> dict[str, Any]:
    """Completion from the enum; the pattern also accepts fixed indices (lines[0]) and mapping keys."""
    paths = model_paths()
    enum = [p for p in paths if not p.endswith(".*")]
    pieces = []
    for path in paths:
        text = re.escape(path).replace(r"\[\*\]", r"\[(\*|\d+)\]")
        pieces.append(text.replace(r"\.\*", r"\.[A-Za-z_][A-Za-z0-9_-]*"))
    return {
        "anyOf": [{"enum": enum}, {"type": "string", "pattern": f"^({'|'.join(pieces)})$"}],
        "description": "A field of the canonical invoice (hub/model.py); `[*]` means every element.",
    }


def editor_schema(baseline: bool = False) -> dict[str, Any]:
    """The JSON Schema of a rules file (or of a baseline), every key described with an example."""
    model = RuleSet if baseline else RulesFile
    schema = model.model_json_schema(by_alias=True)
    paths = field_path_schema()
    definitions = schema.setdefault("$defs", {})
    for name, definition in [(model.__name__, schema), *definitions.items()]:
        owners = [name, "RuleSet"] if name == "RulesFile" else [name]
        for key, prop in definition.get("properties", {}).items():
            doc = next((KEYS[(owner, key)] for owner in owners if (owner, key) in KEYS), None)
            if doc is not None:
                prop["description"], prop["examples"] = doc[0], [doc[1]]
            if (name, key) in FIELD_KEYS:
                nullable = {"type": "null"}
                described = {k: prop[k] for k in ("description", "examples", "default") if k in prop}
                prop.clear()
                prop.update(described)
                prop["anyOf"] = [*paths["anyOf"], nullable] if name != "FieldCondition" else paths["anyOf"]
    schema["$schema"] = JSON_SCHEMA
    schema["title"] = "portalhub baseline" if baseline else "portalhub rules file (customer portal profile)"
    return schema


def undescribed(schema: dict[str, Any]) -> list[str]:
    """Keys of a schema without a description or an example (for tests and `rules schema --check`)."""
    missing = []
    for name, definition in [("(root)", schema), *schema.get("$defs", {}).items()]:
        for key, prop in definition.get("properties", {}).items():
            if "description" not in prop or "examples" not in prop:
                missing.append(f"{name}.{key}")
    return missing
