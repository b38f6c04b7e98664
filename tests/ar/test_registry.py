"""AR adapters are found by entry point like connectors, chosen by `kind` in portalhub.yaml; a source and
a sink may be different adapters; today's `ar: {url: ...}` keeps working."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from hub.ar.files import FilesArAdapter
from hub.ar.registry import GROUP, ArAdapterRegistry
from hub.ar.sql import SqlArAdapter
from hub.ar.webhook import WebhookSink
from hub.clock import ManualClock
from hub.config import load_config
from hub.errors import ConfigError
from hub.runtime import build_hub
from tests.ar.support import hub_config
from tests.factories import T0


def point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


def test_the_built_ins_are_registered_by_entry_point_like_any_package() -> None:
    installed = {p.name: p.value for p in entry_points(group=GROUP)}
    assert installed == {
        "sql": "hub.ar.sql:SqlArAdapter",
        "files": "hub.ar.files:FilesArAdapter",
        "webhook": "hub.ar.webhook:WebhookSink",
    }
    registry = ArAdapterRegistry()
    assert [registry.get(kind) for kind in ("sql", "files", "webhook")] == [
        SqlArAdapter,
        FilesArAdapter,
        WebhookSink,
    ]


def test_two_packages_with_one_name_stop_the_hub_at_start_up() -> None:
    with pytest.raises(ConfigError, match=r"AR adapter name 'files' is registered twice: by hub\.ar\.files:"):
        ArAdapterRegistry([*entry_points(group=GROUP), point("files", "other_pkg:Files")])
    # The same distribution seen twice (an editable install beside its metadata) is not a conflict.
    ArAdapterRegistry([point("sql", "hub.ar.sql:SqlArAdapter"), point("sql", "hub.ar.sql:SqlArAdapter")])


def test_wrong_entry_points_are_explained() -> None:
    registry = ArAdapterRegistry(
        [point("model", "hub.model:Invoice"), point("other", "hub.ar.sql:SqlArAdapter")]
    )
    with pytest.raises(
        ConfigError, match=r"no AR adapter of kind 'nope' is installed \(installed: model, other\)"
    ):
        registry.get("nope")
    with pytest.raises(
        ConfigError, match=r"entry point hub\.model:Invoice for AR adapter 'model' is not an ArAdapter"
    ):
        registry.get("model")
    with pytest.raises(ConfigError, match="entry point 'other' loads SqlArAdapter, whose kind is 'sql'"):
        registry.get("other")


def test_todays_sql_block_still_works(tmp_path: Path) -> None:
    path = hub_config(tmp_path, {"url": "sqlite:///ar.db"})  # no kind: the SQL adapter, as before
    config = load_config(path)
    assert config.ar.kind == "sql" and config.ar.url == f"sqlite:///{tmp_path / 'ar.db'}"
    hub = build_hub(config, clock=ManualClock(T0))
    try:
        assert isinstance(hub.ar_source, SqlArAdapter) and hub.ar_sink is hub.ar_source
        assert hub.ar_source.name == "ar-sql"  # invoices already in stores keep their source
    finally:
        hub.close()


def test_a_sql_source_with_a_webhook_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AR_HOOK_SECRET", "whsec-0123456789")
    feedback = {"kind": "webhook", "url": "https://erp.example.com/hook", "secret": "env:AR_HOOK_SECRET"}
    hub = build_hub(load_config(hub_config(tmp_path, {"kind": "sql", "url": "sqlite:///ar.db"}, feedback)))
    try:
        assert isinstance(hub.ar_source, SqlArAdapter) and isinstance(hub.ar_sink, WebhookSink)
    finally:
        hub.close()


def test_files_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    path = hub_config(tmp_path, {"kind": "files", "folder": "exports"})
    elsewhere = Path.cwd()
    hub = build_hub(load_config(path), clock=ManualClock(T0))
    try:
        assert isinstance(hub.ar_source, FilesArAdapter) and hub.ar_sink is hub.ar_source
        assert hub.ar_source.folder == tmp_path / "exports" and Path.cwd() == elsewhere
    finally:
        hub.close()


@pytest.mark.parametrize(
    ("ar", "feedback", "message"),
    [
        (
            {"kind": "files", "folderr": "x"},
            None,
            "the 'files' AR adapter's settings in `ar:` are not valid:\n  ar.folder: Field required\n"
            "  ar.folderr: Extra inputs are not permitted",
        ),
        ({"kind": "files", "folder": "missing"}, None, "the AR folder .*missing does not exist"),
        (
            {"kind": "files", "folder": ".", "status_folder": "."},
            None,
            "the files adapter's status_folder cannot be the watched folder itself",
        ),
        (
            {"kind": "webhook", "url": "https://x.example/h", "secret": "env:X"},
            None,
            "the 'webhook' AR adapter cannot be `ar:`: it sends status events but reads no invoices",
        ),
        (
            {"kind": "sql", "url": "sqlite:///ar.db", "tables": {"invoices_table": "a b"}},
            None,
            "AR table name 'a b' is not a plain SQL identifier",
        ),
        (
            {"kind": "sql", "url": "sqlite:///ar.db"},
            {"kind": "sql", "url": "sqlite:///ar.db", "tables": {"status_tabel": "x"}},
            r"settings in `feedback:` are not valid:\n  feedback.tables.status_tabel: Extra inputs",
        ),
    ],
)
def test_wrong_ar_blocks_stop_the_hub_with_the_key_to_fix(
    tmp_path: Path, ar: dict[str, object], feedback: dict[str, object] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_hub(load_config(hub_config(tmp_path, ar, feedback)))
    assert not (tmp_path / "hub.db").exists()  # nothing was opened before the AR block was checked


def test_a_source_that_cannot_take_events_needs_a_feedback_block(tmp_path: Path) -> None:
    registry = ArAdapterRegistry(
        [*entry_points(group=GROUP), point("example-source", "tests.ar.example_adapter:ExampleSourceOnly")]
    )
    block = {"kind": "example-source", "records_file": "r.json", "events_file": "e.json"}
    with pytest.raises(
        ConfigError, match="reads invoices but cannot take status events back; add a `feedback:`"
    ):
        build_hub(load_config(hub_config(tmp_path, block)), ar_adapters=registry)
    (tmp_path / "status").mkdir()
    hub = build_hub(
        load_config(hub_config(tmp_path, block, {"kind": "files", "folder": "status"})), ar_adapters=registry
    )
    try:
        assert isinstance(hub.ar_sink, FilesArAdapter)
    finally:
        hub.close()
