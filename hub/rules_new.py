"""`portalhub rules new`: a commented rules file for a new customer, which passes `rules check` as written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from connectors.base import Connector
from hub.errors import ConfigError
from hub.model import Invoice
from hub.registry import ConnectorRegistry
from hub.runtime import Hub, refs_root
from hub.secrets import SECRET_KEY
from rules.engine import compile_rules
from rules.loader import BASELINES_DIR, effective_rules, read_rules_file, validate_rules_file


@dataclass
class NewRulesFile:
    path: Path
    text: str
    example: tuple[Path, str] | None = None  # (file, JSON) of the example invoice, when AR had one


def new_rules_file(
    registry: ConnectorRegistry,
    connector: str,
    customer: str,
    folder: Path,
    ar_invoice: Invoice | None = None,
) -> NewRulesFile:
    """A commented rules file for a new customer: extends the family's baseline, the connection keys the
    connector requires with placeholders (secrets as `secret:` references), and one example invoice
    (from AR when given). Written so that `portalhub rules check` passes on it as it is."""
    cls = registry.get(connector)  # a clear error for an unknown connector
    profile_id = _slug(f"{customer}-{connector}")
    baseline = family_baseline(registry, connector)
    connection, optional = _placeholder_connection(cls, profile_id, registry, connector)
    buyer = ar_invoice.buyer.name if ar_invoice is not None else "TODO the buyer's name"
    out: list[str] = [
        f"# {buyer} ({customer}) on {connector}. Maintained by AR operations; reviewed like code.",
        "# Written by `portalhub rules new`: replace every placeholder, then run",
        f"#   portalhub rules check {profile_id}.yaml && portalhub rules test {profile_id}.yaml",
        "# Every key is explained by `portalhub rules schema` (point your editor at it) and docs/rules.md.",
        f"id: {profile_id}  # must equal the file name",
        f"buyer: {_flow(buyer)}",
        f"connector: {connector}",
        'version: "1"',
    ]
    if baseline:
        out += [
            f"# What {connector} itself demands of every invoice; override a rule by its id, or switch it off",
            "# with {id: ..., disabled: true}.",
            f"extends: [{baseline}]",
        ]
    out += [
        "match:",
        "  # AR customer ids whose invoices go to this portal (each id to exactly one profile)",
        f"  customer_id: [{_flow(customer)}]",
        "# How to reach the portal. Secrets only by reference: secret:NAME (the secrets file), env:NAME or",
        "# file:/path - never the secret itself.",
        "connection:",
    ]
    for key, value in connection.items():
        out.append(f"  # {_describe_key(cls, key)} TODO: replace the placeholder")
        out.append(f"  {key}: {_flow(value)}")
    for key, (text, shown) in optional.items():
        out.append(f"  # {text} (optional)")
        out.append(f"  # {key}: {_flow(shown)}")
    out += [
        "limits: {per_minute: 30}  # submissions a minute at most",
        "# The buyer's own rules, beyond the baseline. For example:",
        "#  - id: " + profile_id + "-po-required",
        "#    field: po_number",
        "#    required: true",
        "#    message: this buyer pays only against a purchase order",
        "#    hint: Enter the customer's PO number on the invoice in AR.",
        "rules: []",
    ]
    example: tuple[Path, str] | None = None
    if ar_invoice is not None:
        example_file = Path("examples") / f"{profile_id}-invoice.json"
        example = (folder / example_file, ar_invoice.model_dump_json(indent=2) + "\n")
        out += [
            "# Whole invoices `portalhub rules test` runs through every rule above and inherited; list in",
            "# `fails:` the rules an example must break (none: it must pass them all).",
            "examples:",
            f"  - name: {_flow(f'{ar_invoice.invoice_number} from AR passes')}",
            f"    invoice: {example_file.as_posix()}",
        ]
    else:
        out += [
            "# Add whole invoices (canonical JSON beside this file) that `portalhub rules test` runs through",
            "# every rule; `fails:` lists the rules one must break:",
            "# examples:",
            "#   - name: a PO invoice passes",
            f"#     invoice: examples/{profile_id}-invoice.json",
        ]
    return NewRulesFile(folder / f"{profile_id}.yaml", "\n".join(out) + "\n", example)


def family_baseline(registry: ConnectorRegistry, connector: str) -> str | None:
    """The shipped baseline of a connector's portal family (by its name, else its document format)."""
    cls = registry.get(connector)
    names = (f"{connector}-baseline", f"{cls.document_format}-baseline")
    return next((name for name in names if (BASELINES_DIR / f"{name}.yaml").exists()), None)


def ar_example(hub: Hub, customer: str, baseline: str | None) -> Invoice | None:
    """An invoice of the customer that the AR system offers now, for a new file's example: the first
    one the baseline's field rules accept (an example that passes), else the first one."""
    rules = []
    if baseline is not None:
        doc = read_rules_file(BASELINES_DIR / f"{baseline}.yaml")
        effective = effective_rules(doc, validate_rules_file(doc), (doc.path,), refs_root())
        rules = list(effective.rules.values())
    compiled_rules = compile_rules(rules, {}, {}, {})
    first = None
    for record in hub.ar_source.pull():
        invoice = record.invoice
        if invoice is None or invoice.customer_id != customer:
            continue
        if not compiled_rules.evaluate(invoice, invoice.invoice_date):
            return invoice
        first = first or invoice
    return first


def _slug(text: str) -> str:
    return "-".join(
        part for part in "".join(c if c.isalnum() else "-" for c in text.lower()).split("-") if part
    )


def _flow(value: Any) -> str:
    """A value on one line of YAML (flow style for mappings and lists)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("...").strip()


def _describe_key(cls: type[Connector], key: str) -> str:
    """The settings model's own description of a key, else the connector's `connection_help`."""
    fields = cls.connection_model.model_fields
    info = next((f for name, f in fields.items() if (f.alias or name) == key), None)
    return (info.description if info is not None else None) or cls.connection_help.get(key, (key, None))[0]


def _placeholder_connection(
    cls: type[Connector], profile_id: str, registry: ConnectorRegistry, connector: str
) -> tuple[dict[str, Any], dict[str, tuple[str, Any]]]:
    """The keys the model requires with placeholder values (and, when those alone do not validate,
    the optional sections without a default), plus the rest of the optional keys to show commented."""
    secret_name = profile_id.replace("-", "_")

    def placeholder(key: str) -> Any:
        example = cls.connection_help.get(key, (None, "TODO"))[1]
        return _secrets_referenced(key, example, secret_name)

    fields = {(info.alias or name): info for name, info in cls.connection_model.model_fields.items()}
    chosen = {key: placeholder(key) for key, info in fields.items() if info.is_required()}
    try:
        registry.check_connection(connector, chosen)
    except (ValidationError, ConfigError):
        extra = {k: placeholder(k) for k, info in fields.items() if k not in chosen and info.default is None}
        extra = {k: v for k, v in extra.items() if v != "TODO"}
        with_extra = {**chosen, **extra}
        try:
            registry.check_connection(connector, with_extra)
            chosen = with_extra
        except (ValidationError, ConfigError):
            pass  # `rules check` says what is still missing
    optional = {
        key: (_describe_key(cls, key), placeholder(key) if key in cls.connection_help else info.default)
        for key, info in fields.items()
        if key not in chosen
    }
    return chosen, optional


def _secrets_referenced(key: str, value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return {k: _secrets_referenced(k, v, name) for k, v in value.items()}
    if SECRET_KEY.search(key):
        return f"secret:{name}_{key}"
    return value
