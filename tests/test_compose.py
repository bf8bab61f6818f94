"""docker-compose.yml stays valid (Compose's own schema check, no engine needed) and in step with the code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from domain.search_attributes import cli_declarations

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "docker-compose"
    found = str(binary) if binary.exists() else shutil.which("docker-compose")
    if not found:
        pytest.fail("docker-compose is missing: pip install -e '.[dev]' (make test does it)")
    return subprocess.run(
        [found, "-f", str(PROJECT_ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def _resolved() -> dict[str, Any]:
    env = {**os.environ, "KEEPTIME_ADMIN_API_KEY": "test-key"}
    result = _compose("config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_compose_file_is_valid_and_has_every_service() -> None:
    services = _resolved()["services"]
    assert set(services) == {
        "temporal-db",
        "temporal",
        "temporal-search-attributes",
        "temporal-ui",
        "app-db",
        "migrate",
        "api",
        "worker",
    }
    for name in ("temporal-db", "temporal", "app-db", "api"):
        assert "healthcheck" in services[name], name
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert services["api"]["environment"]["EMBEDDED_TEMPORAL"] == "false"


def test_compose_registers_the_same_search_attributes_as_the_code() -> None:
    command = " ".join(_resolved()["services"]["temporal-search-attributes"]["command"])
    registered = {f"{name}={kind}" for name, kind in re.findall(r"--name (\w+) --type (\w+)", command)}
    assert registered == set(cli_declarations())


def test_compose_refuses_to_start_without_an_admin_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KEEPTIME_ADMIN_API_KEY"}
    result = _compose("config", "-q", env=env)
    assert result.returncode != 0
    assert "KEEPTIME_ADMIN_API_KEY" in result.stderr
