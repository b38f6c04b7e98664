"""The read-only hubs: configuration, clock, the rules folder in outline, and the store (the ORM's, or
read through its driver). See the package docstring."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.clock import Clock, SystemClock
from hub.readonly.kept import kept
from hub.store_reader import StoreReader

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.readonly.settings import ViewSettings
    from hub.store.database import Store


@dataclass(frozen=True)
class ProfileOutline:
    """A rules file as far as routing goes: its id, connector and the AR customers it matches."""

    file: str
    id: str
    connector: str
    customers: tuple[str, ...]


@dataclass(frozen=True)
class FolderOutline:
    """What the read-only commands know of the rules folder: the profiles that fit the schema, the
    files that do not (with their problems), and where each portal's rules file is (even a broken one:
    it is still where its rules are written)."""

    profiles: dict[str, ProfileOutline]
    broken: dict[str, list[str]]
    files: dict[str, str]  # profile id -> rules file


def read_outline(folder: Path) -> FolderOutline:
    """The rules folder read as YAML (bounded: a hostile file, an alias bomb or deep nesting, is refused,
    never expanded) and checked against the rules-file schema; a baseline has no `connector:`."""
    from mappings.yaml_safety import RulesFileError, read_yaml

    profiles: dict[str, ProfileOutline] = {}
    broken: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    if not folder.is_dir():
        return FolderOutline(profiles, broken, files)
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = read_yaml(path).data
        except RulesFileError as exc:
            broken[str(path)] = [str(p) for p in exc.problems]
            continue
        if not isinstance(data, dict):
            broken[str(path)] = [f"{path}:1: a rules file is a YAML mapping (id:, rules:, ...)"]
            continue
        if "connector" not in data:
            continue
        profile_id = str(data.get("id") or path.stem)
        files[profile_id] = str(path)
        problems = _schema_problems(path, data)
        if problems:
            broken[str(path)] = problems
            continue
        match = data.get("match") or {}
        customers = match.get("customer_id") if isinstance(match, dict) else None
        profiles[profile_id] = ProfileOutline(
            str(path),
            profile_id,
            str(data.get("connector")),
            tuple(str(c) for c in customers) if isinstance(customers, list) else (),
        )
    return FolderOutline(profiles, dict(sorted(broken.items())), files)


def _folder_content(folder: Path) -> list[bytes]:
    """What the outline is worked out from: each YAML file's name and content (content, not times: an
    edit within the same second counts)."""
    if not folder.is_dir():
        return [b"(no folder)"]
    return [
        part for path in sorted(folder.glob("*.yaml")) for part in (path.name.encode(), path.read_bytes())
    ]


def _outline_json(outline: FolderOutline) -> dict[str, Any]:
    return {
        "profiles": [[p.file, p.id, p.connector, list(p.customers)] for p in outline.profiles.values()],
        "broken": outline.broken,
        "files": outline.files,
    }


def _outline_from_json(kept: dict[str, Any]) -> FolderOutline:
    return FolderOutline(
        profiles={p[1]: ProfileOutline(p[0], p[1], p[2], tuple(p[3])) for p in kept["profiles"]},
        broken={file: list(problems) for file, problems in kept["broken"].items()},
        files=dict(kept["files"]),
    )


class Outlines:
    """The rules folder in outline (profile ids, connectors, customers) and the files that do not load."""

    config: HubConfig | ViewSettings

    @cached_property
    def _outline(self) -> FolderOutline:
        folder = Path(self.config.rules_dir).resolve()
        return kept(
            "outline",
            str(folder),
            lambda: _folder_content(folder),
            lambda: read_outline(folder),
            _outline_json,
            _outline_from_json,
        )

    def rules_file(self, profile_id: str) -> str | None:
        """The rules file of a profile (`show`'s next step names where a rule goes): a file that does not
        fit the schema is still where its rules are written."""
        return self._outline.files.get(profile_id)

    @property
    def profile_outlines(self) -> dict[str, ProfileOutline]:
        """Profile id -> outline, for every rules file with a `connector:` in the rules folder."""
        return self._outline.profiles

    @property
    def broken_profiles(self) -> dict[str, list[str]]:
        """Rules files that do not parse or do not fit the rules-file schema. The deeper checks (field
        paths, XPaths, reference lists, the connector's connection settings) are `portalhub rules check`
        and `config check`; the daemon logs what it cannot load."""
        return self._outline.broken

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


@dataclass
class ReadOnlyHub(Outlines):
    """Store (the ORM's), configuration and clock; profiles only in outline (see the module docstring)."""

    config: HubConfig
    store: Store
    clock: Clock = field(default_factory=SystemClock)

    def close(self) -> None:
        self.store.dispose()


@dataclass
class StoreView(Outlines):
    """Configuration, clock, profiles in outline, and the store read through its driver: what the
    read-only commands answer from (hub/store_schema.py `open_view`)."""

    config: HubConfig | ViewSettings
    reader: StoreReader
    clock: Clock = field(default_factory=SystemClock)

    def close(self) -> None:
        self.reader.close()


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
