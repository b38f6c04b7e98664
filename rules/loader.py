"""Loading rules files: YAML -> validated models -> `extends` resolved -> `Profile`.

Every problem names the file, the line and the place in the file, and says what is wrong, so AR
operations can fix a rules file from the error alone. All problems of a file are reported at once.

Every rules file (and recipe) is untrusted input, read in bounded time and memory (mappings/yaml_safety.py:
size, depth, aliases and their expansion are limited). A file that breaks a limit, or whose patterns
would not compile in bounded time, is a problem *of that file*.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.errors import ConfigError
from hub.secrets import literal_secrets, secret_message
from mappings.yaml_safety import (
    Problem,
    RulesFileError,
    _Document,
    read_yaml,
)
from rules.engine import check_rule_paths
from rules.reference import ReferenceError, load_reference
from rules.schema import Profile, Rule, RuleSet, RulesFile

BASELINES_DIR = Path(__file__).parent / "baselines"
#: Called with (connector name, connection mapping); raises ValidationError or ConfigError if wrong.
ConnectionCheck = Callable[[str, dict[str, Any]], None]


def read_rules_file(path: Path) -> _Document:
    """The file parsed as YAML, with the node tree kept for line numbers."""
    document = read_yaml(path)
    if not isinstance(document.data, dict):
        raise RulesFileError([Problem(path, 1, "", "a rules file is a YAML mapping (id:, rules:, ...)")])
    return document


def _where(location: Iterable[str | int]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problems_from(doc: _Document, exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    problems = []
    errors = exc.errors()
    # A misspelt required key is also reported missing: that name is the likeliest meant one.
    missing = [str(e["loc"][-1]) for e in errors if e["type"] == "missing" and e["loc"]]
    for error in errors:
        location = prefix + tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see `portalhub rules schema`)"
            close = difflib.get_close_matches(str(location[-1]), [*missing, *_known_keys()], n=1)
            if close:
                message = f"unknown key: did you mean {close[0]!r}? (see `portalhub rules schema`)"
        problems.append(Problem(doc.path, doc.line_of(location), _where(location), message))
    return problems


@lru_cache(maxsize=1)
def _known_keys() -> tuple[str, ...]:
    """Every key a rules file may have, at any depth (for "did you mean")."""
    definitions = RulesFile.model_json_schema(by_alias=True)
    keys = set(definitions.get("properties", {}))
    for definition in definitions.get("$defs", {}).values():
        keys.update(definition.get("properties", {}))
    return tuple(sorted(keys))


def validate_rules_file(doc: _Document) -> RuleSet:
    """The file as a model, or RulesFileError with every problem of the file (not only the first)."""
    model: type[RuleSet] = RulesFile if "connector" in doc.data else RuleSet
    connection = doc.data.get("connection")
    secrets = literal_secrets(connection) if isinstance(connection, dict) else []
    # Checked on the raw data, so the problem points at the very line holding the secret.
    problems = [
        Problem(doc.path, doc.line_of(["connection", *where]), "", secret_message(where))
        for where, _ in secrets
    ]
    parsed: RuleSet | None = None
    try:
        parsed = model.model_validate(doc.data)
    except ValidationError as exc:
        # Not chained: the pydantic error would carry the secret's value as its input.
        problems.extend(p for p in _problems_from(doc, exc) if not (secrets and p.where == "connection"))
    file_id = doc.data.get("id")
    if isinstance(file_id, str) and file_id != doc.path.stem:
        problems.append(
            Problem(
                doc.path,
                doc.line_of(["id"]),
                "id",
                f"id {file_id!r} must equal the file name {doc.path.stem!r}",
            )
        )
    raw_rules = doc.data.get("rules")
    for position, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        try:
            rule = Rule.model_validate(raw)
        except ValidationError:
            continue  # reported above with the rest of the schema problems
        for rule_id, key, what in check_rule_paths([rule]):
            problems.append(
                Problem(
                    doc.path, doc.line_of(["rules", position, key]), f"rules[{position}] ({rule_id})", what
                )
            )
    if problems:
        raise RulesFileError(problems)
    assert parsed is not None
    return parsed


def _find(name: str, near: Path) -> Path:
    if name.endswith((".yaml", ".yml")) or "/" in name:
        candidate = (near.parent / name).resolve()
        if candidate.exists():
            return candidate
    for folder in (near.parent, BASELINES_DIR):
        candidate = folder / f"{name}.yaml"
        if candidate.exists():
            return candidate
    raise FileNotFoundError(name)


@dataclass
class Effective:
    """What a file and everything it extends add up to."""

    rules: dict[str, Rule]
    origins: dict[str, str]  # rule id -> file:line of the version in force
    reference: dict[str, frozenset[str]]
    schema_files: dict[str, str]  # rule id -> absolute DTD/XSD path
    sources: list[str]


def effective_rules(
    doc: _Document, ruleset: RuleSet, chain: tuple[Path, ...], refs_dir: Path | None
) -> Effective:
    """Parent rules first, in `extends` order; a rule with an inherited id replaces it in place."""
    merged = Effective({}, {}, {}, {}, [])
    for position, name in enumerate(ruleset.extends):
        try:
            parent_path = _find(name, doc.path)
        except FileNotFoundError:
            line = doc.line_of(["extends", position])
            raise RulesFileError(
                [Problem(doc.path, line, f"extends[{position}]", f"no rules file or baseline named {name!r}")]
            ) from None
        if parent_path in chain:
            cycle = " -> ".join(p.stem for p in (*chain, parent_path))
            raise RulesFileError(
                [Problem(doc.path, doc.line_of(["extends", position]), "extends", f"cycle: {cycle}")]
            )
        parent_doc = read_rules_file(parent_path)
        parent = effective_rules(parent_doc, validate_rules_file(parent_doc), (*chain, parent_path), refs_dir)
        merged.rules.update(parent.rules)
        merged.origins.update(parent.origins)
        merged.reference.update(parent.reference)
        merged.schema_files.update(parent.schema_files)
        merged.sources.extend(parent.sources)
    problems = []
    for name, spec in ruleset.reference.items():
        try:
            merged.reference[name] = load_reference(spec, doc.path)
        except ReferenceError as exc:
            problems.append(
                Problem(doc.path, doc.line_of(["reference", name]), f"reference.{name}", str(exc))
            )
    for position, rule in enumerate(ruleset.rules):
        where = f"rules[{position}]"
        if rule.disabled and rule.id not in merged.rules:
            # A typo in the id would otherwise switch nothing off, silently.
            problems.append(
                Problem(
                    doc.path,
                    doc.line_of(["rules", position, "id"]),
                    f"{where}.id",
                    f"disables {rule.id!r}, which no extended file defines",
                )
            )
        merged.rules[rule.id] = rule
        merged.origins[rule.id] = f"{doc.path}:{doc.line_of(['rules', position])}"
        if rule.document_schema is not None:
            named = rule.document_schema.dtd or rule.document_schema.xsd or ""
            resolved = _schema_path(named, doc.path, refs_dir)
            if resolved is None:
                problems.append(
                    Problem(
                        doc.path,
                        doc.line_of(["rules", position, "document_schema"]),
                        f"{where} ({rule.id})",
                        f"no schema file {named!r} (paths are relative to the rules file; `refs:` is the "
                        "shared references folder)",
                    )
                )
            else:
                merged.schema_files[rule.id] = str(resolved)
    for position, rule in enumerate(ruleset.rules):
        if rule.one_of_ref is not None and rule.one_of_ref not in merged.reference:
            known = ", ".join(sorted(merged.reference)) or "none"
            problems.append(
                Problem(
                    doc.path,
                    doc.line_of(["rules", position, "one_of_ref"]),
                    f"rules[{position}] ({rule.id})",
                    f"no reference list {rule.one_of_ref!r} (lists: {known})",
                )
            )
    if problems:
        raise RulesFileError(problems)
    merged.sources.insert(0, str(doc.path))
    for rule_id in [r.id for r in merged.rules.values() if r.disabled]:
        del merged.rules[rule_id]
    return merged


def _schema_path(named: str, near: Path, refs_dir: Path | None) -> Path | None:
    if named.startswith("refs:"):
        if refs_dir is None:
            return None
        candidate = refs_dir / named.removeprefix("refs:")
    else:
        candidate = (near.parent / named).resolve()
    return candidate if candidate.is_file() else None


def load_profile(
    path: Path, check_connection: ConnectionCheck | None = None, refs_dir: Path | None = None
) -> Profile:
    """Load one customer-portal rules file and everything it extends."""
    path = Path(path).resolve()
    doc = read_rules_file(path)
    parsed = validate_rules_file(doc)
    if not isinstance(parsed, RulesFile):
        raise RulesFileError(
            [
                Problem(
                    path,
                    1,
                    "",
                    "this is a baseline (no `connector:`); only profiles can be loaded as a portal",
                )
            ]
        )
    if check_connection is not None:
        try:
            check_connection(parsed.connector, parsed.connection)
        except ValidationError as exc:
            raise RulesFileError(_problems_from(doc, exc, ("connection",))) from exc
        except ConfigError as exc:
            raise RulesFileError([Problem(path, doc.line_of(["connector"]), "connector", str(exc))]) from exc
    effective = effective_rules(doc, parsed, (path,), refs_dir)
    rules = list(effective.rules.values())
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "rules": [r.model_dump(mode="json") for r in rules],
                "reference": {k: sorted(v) for k, v in sorted(effective.reference.items())},
                "version": parsed.version,
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    return Profile(
        id=parsed.id,
        buyer=parsed.buyer,
        connector=parsed.connector,
        match=parsed.match,
        connection=parsed.connection,
        limits=parsed.limits,
        rules=rules,
        version=parsed.version,
        effective_from=parsed.effective_from,
        sources=effective.sources,
        fingerprint=fingerprint,
        origins=effective.origins,
        reference=effective.reference,
        schema_files=effective.schema_files,
    )


def load_ruleset(path: Path) -> RuleSet:
    """Load and check a baseline (or any rules file) on its own, without resolving its connection."""
    return validate_rules_file(read_rules_file(Path(path).resolve()))


@dataclass(frozen=True)
class Contest:
    """An AR customer that two or more profiles claim (`match.customer_id`): who claims it, where."""

    customer_id: str
    claims: dict[str, Problem]  # profile id -> where its file names the customer

    def conflict(self) -> str:
        """The problem, naming every claim: what the loader and `portalhub rules check` report."""
        where = "; ".join(f"{pid} ({_at(p)})" for pid, p in sorted(self.claims.items()))
        return f"customer {self.customer_id!r} is matched by several profiles: {where}"

    def problem(self) -> Problem:
        """The conflict as a problem of a rules file: named at the file changed last (most likely the
        newcomer), with every claim in the words."""
        newest = max(self.claims.values(), key=lambda p: _mtime(p.file))
        return Problem(newest.file, newest.line, newest.where, self.conflict())

    def describe(self, newcomer: str | None = None) -> str:
        """A sentence for the hold's reason; `newcomer` is the profile that claimed it last, when known."""
        if newcomer is not None and newcomer in self.claims:
            others = ", ".join(sorted(pid for pid in self.claims if pid != newcomer))
            return (
                f"customer {self.customer_id!r} is already matched by {others}, and now also by {newcomer} "
                f"({_at(self.claims[newcomer])}); its invoices wait until a person edits one of the files "
                "so that exactly one profile matches it"
            )
        return (
            f"{self.conflict()}; its invoices wait until a person edits the files so that exactly one "
            "profile matches it"
        )


def contests(profiles: Iterable[Profile]) -> dict[str, Contest]:
    """The one-customer-per-profile check: every AR customer that two or more profiles claim
    (`match.customer_id`), with where each file names it."""
    claims: dict[str, dict[str, Problem]] = {}
    for profile in profiles:
        path = Path(profile.sources[0])
        doc: _Document | None = None
        for position, customer in enumerate(profile.match.customer_id):
            if doc is None:
                doc = read_rules_file(path)
            where = f"match.customer_id[{position}]"
            line = doc.line_of(["match", "customer_id", position])
            claims.setdefault(customer, {})[profile.id] = Problem(path, line, where, "")
    return {customer: Contest(customer, by) for customer, by in claims.items() if len(by) > 1}


def _at(problem: Problem) -> str:
    return f"{problem.file}:{problem.line}" if problem.line else str(problem.file)


@dataclass
class ProfileSet:
    """The profiles of a folder that loaded, and the files that did not, with their problems.

    The daemon keeps serving the good profiles; invoices of customers a broken file claims are held with
    its problems as the reason, until the file is fixed. A customer two profiles claim is `contested`:
    routed to neither, until a person decides (the caller knows which claim is new)."""

    profiles: dict[str, Profile]
    broken: dict[str, list[Problem]]  # file -> problems
    claimed_by_broken: dict[str, str]  # customer id -> broken file (read from its `match:` when possible)
    contested: dict[str, Contest] = field(default_factory=dict)  # customer id -> its claims

    def raise_if_broken(self) -> None:
        problems = [p for found in self.broken.values() for p in found]
        problems.extend(contest.problem() for contest in self.contested.values())
        if problems:
            raise RulesFileError(problems)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def load_profile_set(
    folder: Path, check_connection: ConnectionCheck | None = None, refs_dir: Path | None = None
) -> ProfileSet:
    """Every profile in a folder (files with `connector:`), checked together: no AR customer routed to
    two portals. Broken files are reported, not fatal."""
    result = ProfileSet({}, {}, {})
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            if "connector" not in (read_rules_file(path).data or {}):
                load_ruleset(path)
                continue
            profile = load_profile(path, check_connection, refs_dir)
        except (RulesFileError, RecursionError, MemoryError) as exc:
            result.broken[str(path)] = (
                exc.problems
                if isinstance(exc, RulesFileError)
                else [
                    Problem(path, None, "", f"too deeply nested or too large to load ({type(exc).__name__})")
                ]
            )
            for customer in _claimed_customers(path):
                result.claimed_by_broken[customer] = str(path)
            continue
        result.profiles[profile.id] = profile
    result.contested = contests(result.profiles.values())
    return result


def _claimed_customers(path: Path) -> list[str]:
    try:
        data = read_yaml(path).data
        customers = data["match"]["customer_id"]
        return [str(c) for c in customers] if isinstance(customers, list) else []
    except Exception:  # the file is broken; claiming nobody is the best we can do
        return []


def load_profiles(
    folder: Path, check_connection: ConnectionCheck | None = None, refs_dir: Path | None = None
) -> dict[str, Profile]:
    """Every profile in a folder, or RulesFileError with every problem of every file."""
    loaded = load_profile_set(folder, check_connection, refs_dir)
    loaded.raise_if_broken()
    return loaded.profiles
