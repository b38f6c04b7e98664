"""`portalhub.yaml`, documented from the models that read it: the JSON Schema for editors and the
reference page `docs/configuration.md` (a test fails when the page is stale: `portalhub config docs >
docs/configuration.md` writes it again)."""

from __future__ import annotations

import json
from typing import Any

from hub.config import HubConfig
from hub.field_docs import documented

INTRO = """\
# portalhub.yaml — the hub's configuration

This page is generated from the models that read the file (`portalhub config docs > docs/configuration.md`);
`portalhub config schema` prints the same as a JSON Schema for editors (e.g. the YAML language server:
`# yaml-language-server: $schema=portalhub.schema.json` on the file's first line), and
`portalhub config check [--connect]` checks a file, its rules folder, every secret reference and (with
`--connect`) the store, the AR source and each portal's credentials. Relative paths are relative to the
configuration file. Secrets are never written here: `env:NAME`, `file:/path` or `secret:name` (a key of
`secrets_file`).

Environment variables: `PORTALHUB_CONFIG` (the file, when `--config` is not given), `PORTALHUB_STORE_URL`
(overrides `store_url`), `PORTALHUB_WORKER_ID` (overrides `worker_id`).
"""


def config_schema() -> dict[str, Any]:
    """The JSON Schema of `portalhub.yaml`, every key with its description."""
    schema = documented(HubConfig).model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "portalhub.yaml"
    return schema


def config_markdown() -> str:
    """The reference page: one table per section, in the order of the file."""
    schema = config_schema()
    definitions = schema.get("$defs", {})
    sections: list[str] = [INTRO]
    seen: set[str] = set()

    def section(title: str, node: dict[str, Any]) -> None:
        rows = ["| key | type | default | what it is |", "| --- | --- | --- | --- |"]
        nested: list[tuple[str, dict[str, Any]]] = []
        required = set(node.get("required", []))
        for key, prop in node.get("properties", {}).items():
            kind, target = _type_of(prop)
            default = "required" if key in required else _default(prop)
            description = (prop.get("description") or "").replace("\n", " ").replace("|", "\\|")
            rows.append(f"| `{key}` | {kind} | {default} | {description} |")
            if target and target not in seen:
                seen.add(target)
                nested.append((f"{title}.{key}" if title else key, definitions[target]))
        heading = f"## `{title}`" if title else "## Top level"
        about = (node.get("description") or "").replace("\n", " ")
        sections.append("\n".join([heading, "", *([about, ""] if about else []), *rows, ""]))
        for name, child in nested:
            section(name, child)

    section("", schema)
    return "\n".join(sections)


_TYPES = {"string": "text", "number": "number", "integer": "integer", "boolean": "true/false", "null": "null"}


def _type_of(prop: dict[str, Any]) -> tuple[str, str | None]:
    """(a short type, the definition it refers to if it is a section of its own)."""
    options = prop.get("anyOf", [prop])
    names, target = [], None
    for option in options:
        if "$ref" in option:
            target = option["$ref"].split("/")[-1]
            names.append("section")
        elif option.get("type") == "array":
            item = option.get("items", {})
            if "$ref" in item:
                target = item["$ref"].split("/")[-1]
                names.append("list of sections")
            else:
                names.append(f"list of {_TYPES.get(item.get('type', ''), 'values')}")
        elif "type" in option:
            names.append(_TYPES.get(option["type"], option["type"]))
    return " or ".join(dict.fromkeys(names)) or "any", target


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    return f"`{json.dumps(prop['default'])}`"
