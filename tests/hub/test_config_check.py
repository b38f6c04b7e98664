"""`portalhub config check / schema / docs`, and the daemon's check before it starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli import app
from hub.config import HubConfig, load_config
from hub.config_docs import config_markdown, config_schema
from hub.demo import DemoWorkspace, prepare
from hub.errors import ConfigError

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
MINIMAL = {"supplier": {"name": "Acme Supply"}, "ar": {"kind": "sql", "url": "sqlite:///ar.db"}}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorkspace]:
    ws = prepare(tmp_path_factory.mktemp("config-check"))
    yield ws
    ws.close()


def check(config: Path, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["--config", str(config), "config", "check", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def messages(report: dict, severity: str) -> list[str]:
    return [f"{f['subject']}: {f['message']}" for f in report["findings"] if f["severity"] == severity]


def test_a_typo_names_the_line_and_the_key_it_meant(tmp_path: Path) -> None:
    path = tmp_path / "portalhub.yaml"
    path.write_text(
        "store_ur: sqlite:///x.db\nsupplier:\n  name: Acme\nar: {kind: sql, url: 'sqlite:///ar.db'}\n"
        "daemon:\n  submit_second: 3\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert f"{path}:1: store_ur: unknown key (did you mean 'store_url'?)" in text
    assert f"{path}:6: daemon.submit_second: unknown key (did you mean 'submit_seconds'?)" in text


def test_a_key_far_from_any_lists_the_keys_of_its_section(tmp_path: Path) -> None:
    path = tmp_path / "portalhub.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "receiver": {"zzz": 1}}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "receiver.zzz: unknown key; the keys here are: enabled, host, port" in str(caught.value)


def test_every_key_of_the_schema_is_described() -> None:
    schema = config_schema()
    definitions = schema["$defs"]
    undescribed: list[str] = []

    def walk(node: dict, where: str) -> None:
        for key, prop in node.get("properties", {}).items():
            if not prop.get("description"):
                undescribed.append(where + key)
            for option in [prop, *prop.get("anyOf", []), prop.get("items", {})]:
                ref = option.get("$ref") or option.get("items", {}).get("$ref")
                if ref:
                    walk(definitions[ref.split("/")[-1]], f"{where}{key}.")

    walk(schema, "")
    assert undescribed == []
    assert len(schema["properties"]) == len(HubConfig.model_fields)


def test_the_configuration_reference_page_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == config_markdown(), (
        "docs/configuration.md is stale: run `portalhub config docs > docs/configuration.md`"
    )


def test_the_demo_configuration_passes_and_no_secret_is_printed(workspace: DemoWorkspace) -> None:
    result = runner.invoke(app, ["--config", str(workspace.config_path), "config", "check"])
    assert result.exit_code == 0, result.output
    for value in workspace.secrets.values():
        assert value not in result.output
    code, report = check(workspace.config_path)
    assert code == 0 and report["ok"] and report["errors"] == 0
    resolved = messages(report, "ok")
    assert any(m.startswith("profile acme-coupa: connection.shared_secret: secret:") for m in resolved)
    assert "AR adapter: sql adapter configured" in resolved


def test_connect_signs_in_to_every_portal_that_can_be_asked(workspace: DemoWorkspace) -> None:
    code, report = check(workspace.config_path, "--connect")
    assert code == 0, report
    resolved = messages(report, "ok")
    assert any(m.startswith("store: opens, schema at revision") for m in resolved)
    assert "AR source: answered" in resolved
    signed_in = {m.split(":")[0] for m in resolved if "signed in" in m}
    assert {"portal acme-coupa", "portal trc-ariba", "portal leog-openinvoice"} <= signed_in


def test_an_unset_secret_and_a_wrong_password_are_errors_of_their_profile(
    workspace: DemoWorkspace, tmp_path: Path
) -> None:
    config = yaml.safe_load(workspace.config_path.read_text())
    secrets = yaml.safe_load((workspace.root / "secrets.yaml").read_text())
    rules = tmp_path / "rules.d"
    rules.mkdir()
    for source in (workspace.root / "rules.d").glob("*.yaml"):
        (rules / source.name).write_text(source.read_text())
    acme = rules / "acme-coupa.yaml"
    acme.write_text(acme.read_text().replace(_reference(acme, "shared_secret"), "env:PORTALHUB_TEST_UNSET"))
    wrong = dict(secrets)
    api_secret = _reference(acme, "client_secret").removeprefix("secret:")
    wrong[api_secret] = "not-the-password"
    (tmp_path / "secrets.yaml").write_text(yaml.safe_dump(wrong))
    (tmp_path / "secrets.yaml").chmod(0o600)
    config.update(
        rules_dir=str(rules),
        secrets_file=str(tmp_path / "secrets.yaml"),
        store_url=f"sqlite:///{workspace.root / 'portalhub.db'}",
        ar={"kind": "sql", "url": f"sqlite:///{workspace.ar_path}"},
    )
    path = tmp_path / "portalhub.yaml"
    path.write_text(yaml.safe_dump(config))
    code, report = check(path, "--connect")
    assert code == 1 and not report["ok"]
    errors = messages(report, "error")
    assert any(
        e.startswith(
            "profile acme-coupa: connection.shared_secret: environment variable PORTALHUB_TEST_UNSET"
        )
        for e in errors
    ), errors
    assert any(e.startswith("portal acme-coupa:") for e in errors), errors
    assert "not-the-password" not in json.dumps(report)
    assert not any(f["fatal"] for f in report["findings"])  # one profile's problem stops only that profile


def _reference(rules_file: Path, key: str) -> str:
    for line in rules_file.read_text().splitlines():
        if line.strip().startswith(f"{key}:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    raise AssertionError(f"{key} not in {rules_file}")


def test_the_daemon_refuses_to_start_on_what_would_stop_every_profile(tmp_path: Path) -> None:
    (tmp_path / "rules.d").mkdir()
    config = {**MINIMAL, "secrets_file": "missing-secrets.yaml", "store_url": "sqlite:///store.db"}
    path = tmp_path / "portalhub.yaml"
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["--config", str(path), "run", "--once"])
    assert result.exit_code == 2
    assert "the daemon does not start" in result.stderr and "secrets file does not exist" in result.stderr
    code, report = check(path)
    assert code == 1 and any(f["fatal"] for f in report["findings"])


def test_queries_never_migrate_the_store_and_migrate_does(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from hub.store.database import HEAD, MIGRATIONS, Store

    (tmp_path / "rules.d").mkdir()
    path = tmp_path / "portalhub.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "store_url": "sqlite:///store.db"}))
    result = runner.invoke(app, ["--config", str(path), "status"])
    assert result.exit_code == 2 and "has no portalhub tables yet: run `portalhub migrate`" in result.stderr

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    alembic = Config()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "0004")  # a store left by an older version
    result = runner.invoke(app, ["--config", str(path), "status"])
    assert (
        result.exit_code == 2 and f"is at schema revision 0004; this portalhub needs {HEAD}" in result.stderr
    )
    assert store.revision() == "0004"  # the query changed nothing

    result = runner.invoke(app, ["--config", str(path), "migrate", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["from"] == "0004"
    assert store.revision() == HEAD
    store.dispose()
    assert runner.invoke(app, ["--config", str(path), "status"]).exit_code == 0
