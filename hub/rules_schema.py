"""`portalhub rules schema`: the editor schema of rules/editor_schema.py, with `connection:` typed per
connector. rules/ does not import connectors; the hub finds them through the connector registry (entry
points) and takes each one's own settings model (`Connector.connection_model`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.registry import ConnectorRegistry
from hub.secrets import SECRET_KEY, SECRET_REFERENCE
from rules.editor_schema import editor_schema


def rules_schema(registry: ConnectorRegistry, baseline: bool = False) -> dict[str, Any]:
    """`portalhub rules schema`: rules/editor_schema.py plus `connection:` typed per connector, from each
    installed connector's own settings model (`Connector.connection_model`), chosen by `connector:`."""
    schema = editor_schema(baseline)
    if baseline:
        return schema
    definitions = schema["$defs"]
    branches = []
    for name in registry.names:
        model = registry.get(name).connection_model
        prefix = f"{name}.connection"
        part = model.model_json_schema(by_alias=True, ref_template=f"#/$defs/{prefix}.{{model}}")
        for inner_name, inner in part.pop("$defs", {}).items():
            definitions[f"{prefix}.{inner_name}"] = inner
        definitions[prefix] = part
        branches.append(
            {
                "if": {"properties": {"connector": {"const": name}}, "required": ["connector"]},
                "then": {"properties": {"connection": {"$ref": f"#/$defs/{prefix}"}}},
            }
        )
    for key, definition in definitions.items():
        if ".connection" in key:
            name = key.split(".", 1)[0]
            _describe_connection(definition, name, registry.get(name).connection_help)
    properties = schema["properties"]
    properties["connector"]["enum"] = registry.names
    schema["allOf"] = branches
    return schema


def _describe_connection(
    definition: dict[str, Any], connector: str, help: Mapping[str, tuple[str, Any]]
) -> None:
    """Secret-named keys take only references; what the connector's model does not describe, the
    connector's `connection_help` does (a key in neither keeps a plain description and its default)."""
    for key, prop in definition.get("properties", {}).items():
        if SECRET_KEY.search(key):
            prop.setdefault("pattern", SECRET_REFERENCE.pattern)
        described, example = help.get(key, (None, None))
        prop.setdefault("description", described or f"`{key}` of the {connector} connection.")
        if "examples" not in prop and (example is not None or "default" in prop):
            prop["examples"] = [example if example is not None else prop["default"]]
