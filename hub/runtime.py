"""The assembled hub: configuration, store, profiles, connectors, AR adapter, clock, worker identity.

Everything a pipeline step needs, built once per process from `portalhub.yaml` (or by tests, which
swap any part: a manual clock, an httpx transport, another AR source).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from connectors.base import Connector, ConnectorContext, SchemaFiles, SharedBrowsers
from connectors.http import DEFAULT_TIMEOUT
from hub.ar import ArSink, ArSource
from hub.clock import Clock, SystemClock
from hub.config import HubConfig
from hub.errors import ConfigError
from hub.preflight import PlaceholderSecrets
from hub.profile import PortalProfile
from hub.refs import cxml_refs_dir
from hub.registry import ConnectorRegistry
from hub.secrets import SecretsResolver
from hub.store import work
from hub.store.database import Store, open_store
from rules.loader import Contest, load_profile_set
from rules.schema import Profile

if TYPE_CHECKING:
    from hub.ar.registry import ArAdapterRegistry

log = logging.getLogger(__name__)


def refs_root() -> Path | None:
    """The shared references folder (`refs:` paths in rules files), when this machine has it."""
    folder = cxml_refs_dir()
    return folder.parent if folder is not None else None


def _folder_stamp(folder: Path) -> tuple[tuple[str, float, int], ...]:
    # Every file in the folder (rules, reference lists, schemas): name, mtime and size.
    return tuple(
        sorted((str(p), p.stat().st_mtime, p.stat().st_size) for p in Path(folder).rglob("*") if p.is_file())
    )


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class StoreLeases:
    """`ConnectorContext.leases` on the hub's store: every daemon sharing the store sees them."""

    store: Store
    owner: str
    clock: Clock

    def acquire(self, name: str, seconds: float) -> bool:
        with self.store.session() as session:
            return work.acquire_lease(session, name, self.owner, self.clock.now(), seconds)

    def release(self, name: str) -> None:
        with self.store.session() as session:
            work.release_lease(session, name, self.owner)


@dataclass
class Hub:
    config: HubConfig
    store: Store
    profiles: dict[str, Profile]
    registry: ConnectorRegistry
    ar_source: ArSource
    ar_sink: ArSink
    http: httpx.Client
    clock: Clock = field(default_factory=SystemClock)
    worker_id: str = field(default_factory=default_worker_id)
    secrets: SecretsResolver = field(default_factory=SecretsResolver)
    #: The schema files pre-flight hands to each family's `check_document` (HubConfig.schema_files()).
    schemas: SchemaFiles = field(default_factory=dict)
    #: The browsers web-portal connectors share (None: the process's own pool); set before first use.
    browser_pool: SharedBrowsers | None = None
    #: Set on SIGTERM: no new request starts, and retry waits inside connectors end at once.
    stopping: threading.Event = field(default_factory=threading.Event)
    broken_profiles: dict[str, list[str]] = field(default_factory=dict)  # file -> problems
    claimed_by_broken: dict[str, str] = field(default_factory=dict)  # customer id -> broken file
    #: Customers two profiles claim: routed to neither until a person decides (customer id -> reason).
    contested: dict[str, str] = field(default_factory=dict)
    _rules_stamp: tuple[tuple[str, float, int], ...] = ()
    _connectors: dict[str, Connector] = field(default_factory=dict)
    _preflight_connectors: dict[str, Connector] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"daemon:{self.worker_id}"

    def connector(self, profile: PortalProfile) -> Connector:
        """The live connector for a profile (one instance per connector family)."""
        if profile.connector not in self._connectors:
            cls = self.registry.get(profile.connector)
            context = ConnectorContext(
                http=self.http,
                secrets=self.secrets,
                now=self.clock.now,
                sleep=self._interruptible_sleep,
                evidence_dir=self.config.evidence_dir,
                browser_pool=self.browser_pool,
                leases=StoreLeases(self.store, self.worker_id, self.clock),
            )
            self._connectors[profile.connector] = cls(context)
        return self._connectors[profile.connector]

    def _interruptible_sleep(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    def preflight_connector(self, profile: PortalProfile) -> Connector:
        """A connector that renders with placeholder secrets, for checks only."""
        if profile.connector not in self._preflight_connectors:
            cls = self.registry.get(profile.connector)
            context = ConnectorContext(
                http=self.http,
                secrets=PlaceholderSecrets(),
                now=self.clock.now,
                browser_pool=self.browser_pool,
            )
            self._preflight_connectors[profile.connector] = cls(context)
        return self._preflight_connectors[profile.connector]

    def route(self, customer_id: str) -> Profile | None:
        if customer_id in self.contested:
            return None  # never to the newcomer, nor on to the old one, until a person decides
        for profile in self.profiles.values():
            if customer_id in profile.match.customer_id:
                return profile
        return None

    def profile(self, profile_id: str) -> Profile:
        try:
            return self.profiles[profile_id]
        except KeyError:
            raise ConfigError(
                f"no profile {profile_id!r} (profiles: {', '.join(sorted(self.profiles))})"
            ) from None

    def reload_profiles(self) -> bool:
        """Load the rules folder again if any file in it changed; True when it did. A broken file does
        not stop the others (see `broken_profiles`)."""
        if not Path(self.config.rules_dir).is_dir():
            raise ConfigError(
                f"the rules folder {self.config.rules_dir} does not exist (rules_dir in the hub config)"
            )
        stamp = _folder_stamp(self.config.rules_dir)
        if stamp == self._rules_stamp:
            return False
        loaded = load_profile_set(self.config.rules_dir, self.registry.check_connection, refs_root())
        previous = self.profiles
        self.profiles = loaded.profiles
        self.broken_profiles = {file: [str(p) for p in problems] for file, problems in loaded.broken.items()}
        self.claimed_by_broken = loaded.claimed_by_broken
        self._rules_stamp = stamp
        held = self._contests(loaded.contested, previous)
        self._record_health(held)
        return True

    def _contests(self, contests: dict[str, Contest], previous: dict[str, Profile]) -> dict[str, str]:
        """Customers two profiles claim; returns the profiles to hold for it (profile id -> reason).

        The claim that was there first keeps its file blameless: the one that appeared later (not in
        the previous load; at start-up, the one with no invoices of that customer in the store) is held."""
        from hub import profile_health

        self.contested = {}
        held: dict[str, str] = {}
        newcomers_before: set[str] = set()
        if contests:
            with self.store.session() as session:
                # Held as newcomers by an earlier load: still the newcomers (not "there before" now).
                newcomers_before = {
                    pid
                    for pid, health in profile_health.troubled(session).items()
                    if health.state == profile_health.HELD and health.kind == "contested"
                }
        for customer, contest in sorted(contests.items()):
            existing = {
                pid
                for pid in contest.claims
                if pid in previous and customer in previous[pid].match.customer_id
            } - newcomers_before or self._owners_in_store(customer, set(contest.claims) - newcomers_before)
            newcomers = sorted(set(contest.claims) - existing) if existing else []
            reason = contest.describe(newcomers[0] if len(newcomers) == 1 else None)
            self.contested[customer] = reason
            for pid in newcomers:
                held[pid] = reason if pid not in held else f"{held[pid]}; {reason}"
        return held

    def _owners_in_store(self, customer: str, claimants: set[str]) -> set[str]:
        from sqlmodel import col, select

        from hub.store.tables import InvoiceRow

        with self.store.session() as session:
            found = session.exec(
                select(InvoiceRow.profile_id)
                .where(col(InvoiceRow.customer_id) == customer, col(InvoiceRow.profile_id).in_(claimants))
                .distinct()
            ).all()
        return {pid for pid in found if pid}

    def _record_health(self, contested: dict[str, str]) -> None:
        """Broken rules files and contested claims hold their profiles (reason in `status`); a profile
        held for those reasons that now loads cleanly is released. Logged once per change."""
        from hub import profile_health

        now = self.clock.now()
        broken_ids = {Path(file).stem: problems for file, problems in self.broken_profiles.items()}
        with self.store.session() as session:
            for profile_id, problems in sorted(broken_ids.items()):
                file = next(f for f in self.broken_profiles if Path(f).stem == profile_id)
                reason = f"rules file {file} does not load: " + "; ".join(problems[:3])
                fingerprint = profile_health.files_fingerprint([Path(file)])
                before = profile_health.health_of(session, profile_id)
                newly = profile_health.hold(
                    session, profile_id, kind="rules", reason=reason, now=now, fingerprint=fingerprint
                )
                after = profile_health.health_of(session, profile_id)
                if newly or before.reason != after.reason:  # once per problem, not once per reload
                    log.error(
                        "rules file %s is broken; profile %s stops, its customers' invoices wait:\n  %s",
                        file,
                        profile_id,
                        "\n  ".join(problems),
                    )
            for profile_id, reason in sorted(contested.items()):
                fingerprint = profile_health.profile_fingerprint(self.profiles[profile_id])
                if profile_health.hold(
                    session, profile_id, kind="contested", reason=reason, now=now, fingerprint=fingerprint
                ):
                    log.warning("profile %s is on hold (contested): %s", profile_id, reason)
            for profile_id, health in profile_health.troubled(session).items():
                if health.state != profile_health.HELD or health.kind not in ("rules", "contested"):
                    continue
                if profile_id in broken_ids or profile_id in contested:
                    continue
                profile_health.release(session, profile_id, "rules files changed", now)
                log.info(
                    "profile %s works again: its rules files changed (%s resolved)", profile_id, health.kind
                )

    def broken_profile_for(self, customer_id: str) -> tuple[str, list[str]] | None:
        """(file, problems) when the customer belongs to a rules file that does not load, or is claimed
        by two profiles (then the file is the profiles' folder and the problem names both claims)."""
        if customer_id in self.contested:
            return str(self.config.rules_dir), [self.contested[customer_id]]
        file = self.claimed_by_broken.get(customer_id)
        return (file, self.broken_profiles.get(file, [])) if file else None

    def close(self) -> None:
        self.http.close()
        self.store.dispose()


def build_hub(
    config: HubConfig,
    *,
    clock: Clock | None = None,
    http: httpx.Client | None = None,
    ar: Any = None,
    migrate: bool = True,
    worker_id: str | None = None,
    ar_adapters: ArAdapterRegistry | None = None,
) -> Hub:
    """Assemble a hub from its configuration; `ar` overrides the configured AR adapter (source and sink),
    `ar_adapters` the installed AR adapters (the `portalhub.ar_adapters` entry points)."""
    from hub.ar.registry import ArAdapterRegistry, build_ar

    registry = ConnectorRegistry()
    secrets = SecretsResolver(config.secrets_file)
    client = http or httpx.Client(
        timeout=DEFAULT_TIMEOUT, limits=httpx.Limits(max_connections=20, max_keepalive_connections=10)
    )
    if ar is not None:
        source, sink = ar, ar
    else:
        try:  # before the store opens: a wrong `ar:` block leaves nothing half-built behind
            source, sink = build_ar(
                config.ar,
                config.feedback,
                registry=ar_adapters or ArAdapterRegistry(),
                supplier=config.supplier,
                secrets=secrets,
                http=client,
            )
        except ConfigError:
            if http is None:
                client.close()
            raise
    store = open_store(config.store_url, migrate=migrate)
    hub = Hub(
        config=config,
        store=store,
        profiles={},
        registry=registry,
        ar_source=source,
        ar_sink=sink,
        http=client,
        clock=clock or SystemClock(),
        worker_id=worker_id or config.worker_id or default_worker_id(),
        secrets=secrets,
        schemas=config.schema_files(),
    )
    hub.reload_profiles()
    return hub


def as_the_only_daemon(hub: Hub) -> AbstractContextManager[None]:
    """Hold the store's single-daemon lock while the block runs (SQLite; several daemons share PostgreSQL)."""
    from hub.store.single_daemon import only_daemon

    return only_daemon(hub.store)
