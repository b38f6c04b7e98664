"""What the read-only commands need of portalhub.yaml, kept while the file does not change.

Four settings: where the store is, where the rules folder is, when an unanswered send joins the
worklist, and after how long a silent portal counts as down. They are read by loading the
configuration as every command does (`hub.config.load_config`: every problem of the file reported,
with its line) and kept (hub/readonly/kept.py) under the file's content and `PORTALHUB_STORE_URL`, so
the next command reads them without importing the configuration's models. A changed file is checked
in full again. A store URL with a password in it is never kept: that file is read every time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hub.readonly.kept import kept

if TYPE_CHECKING:
    from hub.config import HubConfig


@dataclass(frozen=True)
class DaemonSettings:
    in_doubt_worklist_hours: float


@dataclass(frozen=True)
class NotificationSettings:
    portal_down_minutes: float


@dataclass(frozen=True)
class ViewSettings:
    """The settings a read-only answer reads, under the names `HubConfig` gives them (the answers are
    shared with the full hub, which passes its `HubConfig`)."""

    store_url: str
    rules_dir: Path
    daemon: DaemonSettings
    notifications: NotificationSettings | None


def view_settings(path: Path) -> ViewSettings:
    """The read-only commands' settings from the configuration file `path` (ConfigError when it does
    not load)."""
    path = path.resolve()
    return kept(
        "settings",
        str(path),
        lambda: [path.read_bytes(), os.environ.get("PORTALHUB_STORE_URL", "").encode()],
        lambda: _settings_of(path),
        _settings_json,
        _settings_from_json,
    )


def _settings_of(path: Path) -> ViewSettings:
    from hub.config import load_config

    config: HubConfig = load_config(path)
    notifications = config.notifications
    return ViewSettings(
        store_url=config.store_url,
        rules_dir=Path(config.rules_dir),
        daemon=DaemonSettings(config.daemon.in_doubt_worklist_hours),
        notifications=NotificationSettings(notifications.portal_down_minutes) if notifications else None,
    )


def _settings_json(settings: ViewSettings) -> dict[str, Any] | None:
    if urlsplit(settings.store_url).password:
        return None  # a password is not copied to the cache folder: such a file is read every time
    notifications = settings.notifications
    return {
        "store_url": settings.store_url,
        "rules_dir": str(settings.rules_dir),
        "in_doubt_worklist_hours": settings.daemon.in_doubt_worklist_hours,
        "portal_down_minutes": notifications.portal_down_minutes if notifications else None,
    }


def _settings_from_json(kept: dict[str, Any]) -> ViewSettings:
    minutes = kept["portal_down_minutes"]
    return ViewSettings(
        store_url=str(kept["store_url"]),
        rules_dir=Path(kept["rules_dir"]),
        daemon=DaemonSettings(float(kept["in_doubt_worklist_hours"])),
        notifications=NotificationSettings(float(minutes)) if minutes is not None else None,
    )
