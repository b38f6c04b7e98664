"""`portalhub config check`: is this deployment's configuration good, before the daemon runs on it?

It reads `portalhub.yaml` and every rules file, resolves every secret reference (never printing a
value), builds the AR adapters, and with `connect=True` opens the store, reads from the AR source and
signs in to each portal that can be asked something without sending an invoice. Each finding names
what it is about (file and line, profile, key) and what to do. The daemon refuses to start on a
*fatal* finding: one that would stop every profile (the configuration itself, the AR adapter, the
rules folder, the store). A problem of one profile stops only that profile, so it is an error here
but not a reason to keep the others from working.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from hub.config import HubConfig, load_config
from hub.errors import ConfigError, PortalAuthError, PortalError, PortalhubError
from hub.secrets import SECRET_REFERENCE

Severity = Literal["error", "warning", "ok"]

# The same shape rules files are held to (rules/schema.py): env:NAME, file:/path, secret:name.
#: Asked of portals that can look an invoice up: a number no supplier uses, so the answer is "none".
PROBE_NUMBER = "PORTALHUB-CONNECTION-CHECK"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    subject: str  # what it is about: a file, `profile X`, `secret env:X`, `AR source`, `store`
    message: str
    fatal: bool = False  # would stop every profile: the daemon refuses to start

    def as_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "fatal": self.fatal,
        }


@dataclass
class ConfigCheck:
    config_file: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def fatal(self) -> list[Finding]:
        return [f for f in self.findings if f.fatal]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, severity: Severity, subject: str, message: str, *, fatal: bool = False) -> None:
        self.findings.append(Finding(severity, subject, message, fatal))

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "config_file": self.config_file,
            "errors": len(self.errors),
            "warnings": sum(1 for f in self.findings if f.severity == "warning"),
            "findings": [f.as_json() for f in self.findings],
        }


def check_configuration(path: Path, *, connect: bool = False, today: date | None = None) -> ConfigCheck:
    """Every finding about the configuration in `path` (see the module docstring)."""
    report = ConfigCheck(str(path))
    try:
        config = load_config(path)
    except ConfigError as exc:
        report.add("error", str(path), str(exc), fatal=True)
        return report
    report.add("ok", str(path), "a valid hub configuration")
    _check_secrets_file(config, report)
    profiles = _check_rules(config, report, today or date.today())
    _check_secret_references(config, profiles, report)
    _check_ar(config, report, connect)
    if connect:
        _check_store_and_portals(config, profiles, report)
    return report


def fatal_problems(config: HubConfig) -> list[str]:
    """What would stop every profile, checked by the daemon before it starts (no network)."""
    report = ConfigCheck("")
    _check_secrets_file(config, report)
    if not Path(config.rules_dir).is_dir():
        report.add("error", str(config.rules_dir), "the rules folder does not exist (rules_dir)", fatal=True)
    _check_ar(config, report, connect=False)
    return [f"{f.subject}: {f.message}" for f in report.fatal]


def _check_secrets_file(config: HubConfig, report: ConfigCheck) -> None:
    file = config.secrets_file
    if file is None:
        return
    if not file.is_file():
        report.add("error", str(file), "the secrets file does not exist (secrets_file)", fatal=True)
    elif file.stat().st_mode & 0o077:
        report.add("warning", str(file), "the secrets file can be read by other users: chmod 600 it")


def _check_rules(config: HubConfig, report: ConfigCheck, today: date) -> dict[str, Any]:
    from hub.registry import ConnectorRegistry
    from hub.rules_tools import check
    from hub.runtime import refs_root
    from rules.loader import load_profile_set

    folder = Path(config.rules_dir)
    if not folder.is_dir():
        report.add("error", str(folder), "the rules folder does not exist (rules_dir)", fatal=True)
        return {}
    registry = ConnectorRegistry()
    rules = check([folder], registry, today)
    for problem in rules.problems:
        report.add("error", str(problem.file), str(problem))
    for warning in rules.warnings:
        report.add("warning", str(warning.file), str(warning))
    loaded = load_profile_set(folder, registry.check_connection, refs_root())
    for profile_id in sorted(loaded.profiles):
        report.add("ok", f"profile {profile_id}", "rules file loads")
    if not loaded.profiles and not loaded.broken:
        report.add("warning", str(folder), "no rules files: no invoice can be routed to a portal")
    return dict(loaded.profiles)


def _references(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(place, reference) for every secret reference in a settings tree."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _references(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _references(item, f"{where}[{index}]")
    elif isinstance(value, str) and SECRET_REFERENCE.match(value) and not value.startswith("file:/dev"):
        yield where, value


def _check_secret_references(config: HubConfig, profiles: dict[str, Any], report: ConfigCheck) -> None:
    from hub.secrets import SecretsResolver

    resolver = SecretsResolver(config.secrets_file)
    places: list[tuple[str, str, str]] = []  # (subject, place, reference)
    for profile_id, profile in sorted(profiles.items()):
        places += [(f"profile {profile_id}", p, r) for p, r in _references(profile.connection, "connection")]
    own = config.model_dump(mode="json", include={"ar", "feedback", "notifications", "audit", "web"})
    places += [("portalhub.yaml", p, r) for p, r in _references(own, "")]
    for subject, place, reference in places:
        try:
            resolver.resolve(reference)
        except ConfigError as exc:
            report.add("error", subject, f"{place}: {exc}")
        else:
            report.add("ok", subject, f"{place}: {reference} resolves")


def _check_ar(config: HubConfig, report: ConfigCheck, connect: bool) -> None:
    import httpx

    from hub.ar.registry import ArAdapterRegistry, build_ar
    from hub.secrets import SecretsResolver

    with httpx.Client(timeout=10) as client:
        try:
            source, _sink = build_ar(
                config.ar,
                config.feedback,
                registry=ArAdapterRegistry(),
                supplier=config.supplier,
                secrets=SecretsResolver(config.secrets_file),
                http=client,
            )
        except ConfigError as exc:
            report.add("error", "AR adapter", str(exc), fatal=True)
            return
        report.add("ok", "AR adapter", f"{config.ar.kind} adapter configured")
        if connect:
            try:  # a key no AR system uses: proves the source answers without reading every invoice
                sum(1 for _ in source.pull(keys=[PROBE_NUMBER]))
            except PortalhubError as exc:
                report.add("error", "AR source", f"cannot read from the AR system: {exc}")
            else:
                report.add("ok", "AR source", "answered")


def _check_store_and_portals(config: HubConfig, profiles: dict[str, Any], report: ConfigCheck) -> None:
    from hub.runtime import build_hub

    try:
        hub = build_hub(config, migrate=False)
    except (ConfigError, OSError) as exc:
        report.add("error", "store", str(exc), fatal=True)
        return
    except Exception as exc:  # the database driver's own errors: unreachable host, refused login
        report.add("error", "store", f"cannot open {type(exc).__name__}: {exc}", fatal=True)
        return
    from hub.store.database import HEAD

    revision = hub.store.revision()
    if revision == HEAD:
        report.add("ok", "store", f"opens, schema at revision {HEAD}")
    else:
        report.add(
            "error",
            "store",
            f"schema at revision {revision or '(none: a new store)'}, this version needs {HEAD}: "
            "run `portalhub migrate`",
            fatal=revision is not None,
        )
        hub.close()
        return
    try:
        for profile_id, profile in sorted(profiles.items()):
            subject = f"portal {profile_id}"
            connector = hub.connector(profile)
            if not connector.supports_lookup:
                report.add(
                    "warning",
                    subject,
                    "cannot be checked without sending an invoice (no way to ask the portal for a status)",
                )
                continue
            try:
                connector.lookup(profile, PROBE_NUMBER)
            except PortalAuthError as exc:
                report.add("error", subject, f"credentials refused: {exc}")
            except (PortalError, ConfigError) as exc:
                report.add("error", subject, str(exc))
            except NotImplementedError:
                report.add("warning", subject, "this profile cannot be asked for a status")
            except Exception as exc:  # a connector bug must not hide the other portals' findings
                report.add("error", subject, f"the check failed: {type(exc).__name__}: {exc}")
            else:
                report.add("ok", subject, "signed in and answered a look-up")
    finally:
        hub.close()
