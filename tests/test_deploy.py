"""The deployment files in deploy/ are checked by the tools that run them: systemd's own verifier for
the unit, hadolint for the container file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
VENV_BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(VENV_BIN))
    if found is None:
        message = f"{name} is not installed"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must check the deployment files)")
        pytest.skip(message)
    return found


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    verify = _tool("systemd-analyze")
    unit = (DEPLOY / "portalhub.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/portalhub/venv/bin/portalhub run" in unit
    assert "ExecStartPre=/opt/portalhub/venv/bin/portalhub config check" in unit
    # The verifier checks that ExecStart exists: point it at this checkout's installed command.
    installed = tmp_path / "portalhub.service"
    installed.write_text(unit.replace("/opt/portalhub/venv/bin/portalhub", str(VENV_BIN / "portalhub")))
    result = subprocess.run([verify, "verify", str(installed)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "portalhub.service" not in result.stderr, result.stderr  # no warning about the unit itself


def test_a_broken_unit_is_refused_by_the_verifier(tmp_path: Path) -> None:
    verify = _tool("systemd-analyze")
    broken = tmp_path / "portalhub.service"
    broken.write_text("[Service]\nExecStart=relative/portalhub run\n")
    result = subprocess.run([verify, "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 or "portalhub.service" in result.stderr


def test_the_container_file_passes_hadolint() -> None:
    hadolint = _tool("hadolint")
    result = subprocess.run(
        [hadolint, str(DEPLOY / "Containerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    assert "/healthz" in text and "portalhub" in text


def test_hadolint_would_catch_a_bad_container_file(tmp_path: Path) -> None:
    hadolint = _tool("hadolint")
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install chromium\n")
    result = subprocess.run([hadolint, str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout
