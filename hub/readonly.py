"""The read-only hub: what `status`, `show`, `rejections`, `audit`, `quarantine` and `report` need.

A collector's question is answered from the store and the configuration alone. The full hub
(hub/runtime.py) builds the AR adapters (resolving their secrets: a webhook's signing key), an HTTP
client, every connector class (zeep, Playwright, lxml mappings) and compiles every rules file: a
second or more of work, and deployment secrets, for a question that sends nothing. This one opens the
store and reads the rules folder as plain YAML (profile ids and the customers each one matches, for
typo checks and `status`); nothing here imports connectors, mappings or the rules engine.

It offers the attributes of `Hub` that reading code uses (`config`, `store`, `clock`,
`broken_profiles`), so the same service functions serve both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from hub.clock import Clock, SystemClock
from hub.config import HubConfig
from hub.store.database import Store
from mappings.yaml_safety import RulesFileError, read_yaml


@dataclass(frozen=True)
class ProfileOutline:
    """A rules file as far as routing goes: its id, connector and the AR customers it matches."""

    file: str
    id: str
    connector: str
    customers: tuple[str, ...]


@dataclass
class ReadOnlyHub:
    """Store, configuration and clock; profiles only in outline (see the module docstring)."""

    config: HubConfig
    store: Store
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def _scan(self) -> tuple[dict[str, ProfileOutline], dict[str, list[str]]]:
        outlines: dict[str, ProfileOutline] = {}
        broken: dict[str, list[str]] = {}
        folder = Path(self.config.rules_dir)
        if not folder.is_dir():
            return outlines, broken
        for path in sorted(folder.glob("*.yaml")):
            try:  # bounded: a hostile file (an alias bomb, deep nesting) is refused, never expanded
                data = read_yaml(path).data
            except RulesFileError as exc:
                broken[str(path)] = [str(p) for p in exc.problems]
                continue
            if not isinstance(data, dict):
                broken[str(path)] = [f"{path}:1: a rules file is a YAML mapping (id:, rules:, ...)"]
                continue
            if "connector" not in data:
                continue  # a baseline, not a portal
            problems = _schema_problems(path, data)
            if problems:
                broken[str(path)] = problems
                continue
            match = data.get("match") or {}
            customers = match.get("customer_id") if isinstance(match, dict) else None
            profile_id = str(data.get("id") or path.stem)
            outlines[profile_id] = ProfileOutline(
                str(path),
                profile_id,
                str(data.get("connector")),
                tuple(str(c) for c in customers) if isinstance(customers, list) else (),
            )
        return outlines, broken

    @property
    def profile_outlines(self) -> dict[str, ProfileOutline]:
        """Profile id -> outline, for every rules file with a `connector:` in the rules folder."""
        return self._scan[0]

    @property
    def broken_profiles(self) -> dict[str, list[str]]:
        """Rules files that do not parse or do not fit the rules-file schema. The deeper checks (field
        paths, XPaths, reference lists, the connector's connection settings) are `portalhub rules check`
        and `config check`; the daemon logs what it cannot load."""
        return self._scan[1]

    @property
    def contested(self) -> dict[str, str]:
        """AR customers two rules files claim, with both files named (the daemon holds them)."""
        claims: dict[str, list[str]] = {}
        for outline in self.profile_outlines.values():
            for customer in outline.customers:
                claims.setdefault(customer, []).append(outline.file)
        return {
            customer: f"claimed by {' and '.join(sorted(files))}: a person decides (edit one of the files)"
            for customer, files in sorted(claims.items())
            if len(files) > 1
        }

    def close(self) -> None:
        self.store.dispose()


def _schema_problems(path: Path, data: dict[str, object]) -> list[str]:
    """The rules-file schema's complaints (pydantic, already loaded with the configuration's models),
    without the values: a misplaced secret must not be echoed."""
    from pydantic import ValidationError

    from rules.schema import RulesFile

    try:
        RulesFile.model_validate(data)
    except ValidationError as exc:
        return [
            f"{path}: {'.'.join(str(part) for part in error['loc']) or '(file)'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
    return []
