"""docker-compose.yml stays valid (Compose's own schema check, no engine needed) and in step with the code:
the services of the production path, every provider setting passed through, the search attributes, the
scripts it mounts, and a connection budget that holds when the workers are scaled out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from domain.search_attributes import cli_declarations
from keeptime.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {
    "KEEPTIME_ADMIN_API_KEY": "a" * 32,
    "KEEPTIME_PUSH_RECEIPT_SECRET": "p" * 32,
    "KEEPTIME_UNSUBSCRIBE_SECRET": "u" * 32,
    "KEEPTIME_CURSOR_SECRET": "c" * 32,
    "KEEPTIME_PUBLIC_BASE_URL": "https://keeptime.example.com",
}
# Settings a deployment must be able to set: every provider's, the rates and the ambiguity window.
PROVIDER_PREFIXES = ("smtp_", "twilio_", "telnyx_", "fcm_", "voice_agent_", "sms_", "email_", "push_")


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


def _resolved(*options: str) -> dict[str, Any]:
    env = {**os.environ, **REQUIRED}
    result = _compose(*options, "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_compose_file_is_valid_and_has_every_service() -> None:
    services = _resolved()["services"]
    assert set(services) == {
        "temporal-db",
        "temporal-schema",
        "temporal",
        "temporal-namespace",
        "temporal-ui",
        "app-db",
        "migrate",
        "schedules-sync",
        "api",
        "worker",
    }
    observability = _resolved("--profile", "observability")["services"]
    assert set(observability) - set(services) == {"prometheus", "grafana"}
    for name in ("temporal-db", "temporal", "app-db", "api", "worker"):
        assert "healthcheck" in services[name], name
    # the server image and its admin tools, of one version (auto-setup is deprecated upstream)
    assert services["temporal"]["image"].startswith("temporalio/server:")
    version = services["temporal"]["image"].split(":")[1]
    for job in ("temporal-schema", "temporal-namespace"):
        assert services[job]["image"] == f"temporalio/admin-tools:{version}"
        assert services[job]["restart"].startswith("on-failure")  # retried until it succeeds
    assert (
        services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    )
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert services["schedules-sync"]["command"] == ["python", "-m", "starter", "schedules:sync"]
    for app in ("api", "worker", "schedules-sync"):
        assert services[app]["environment"]["EMBEDDED_TEMPORAL"] == "false"
    for app in ("api", "worker"):  # they start only once the namespace and its attributes exist
        condition = services[app]["depends_on"]["temporal-namespace"]["condition"]
        assert condition == "service_completed_successfully"
    assert services["worker"]["environment"]["WORKER_METRICS_PORT"] == "9464"


def test_every_provider_setting_reaches_the_api_and_the_workers() -> None:
    services = _resolved()["services"]
    needed = {
        name.upper()
        for name in Settings.model_fields
        if name.startswith(PROVIDER_PREFIXES) and not name.endswith("_base_url")
    } | {
        "AMBIGUOUS_WAIT_S",
        "PROVIDER_TIMEOUT_S",
        "PUSH_RECEIPT_SECRET",
        "UNSUBSCRIBE_SECRET",
        "CURSOR_SECRET",
        "PUBLIC_BASE_URL",
        "JOB_OVERRIDES",
    }
    for app in ("api", "worker"):
        missing = needed - set(services[app]["environment"])
        assert not missing, f"{app}: {sorted(missing)}"
    known = {name.upper() for name in Settings.model_fields} | {"OTEL_EXPORTER_OTLP_ENDPOINT"}
    assert set(services["worker"]["environment"]) <= known  # no misspelled setting, silently ignored


def test_empty_provider_variables_mean_not_configured() -> None:
    """Compose passes `${TWILIO_AUTH_TOKEN:-}` as an empty string; the settings must read it as unset."""
    environment = _resolved()["services"]["worker"]["environment"]
    settings = _settings_from(environment)
    assert settings.twilio_auth_token is None and settings.smtp_host is None and settings.smtp_port == 587


def _settings_from(environment: dict[str, str]) -> Settings:
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in environment.items() if v is not None})
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_compose_registers_the_same_search_attributes_as_the_code() -> None:
    environment = _resolved()["services"]["temporal-namespace"]["environment"]
    assert set(environment["KEEPTIME_SEARCH_ATTRIBUTES"].split()) == set(cli_declarations())


def test_every_mounted_file_is_in_the_repository() -> None:
    for name, service in _resolved("--profile", "observability")["services"].items():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name}: {volume['source']}"


def test_the_connection_budget_holds_with_seven_workers() -> None:
    services = _resolved()["services"]
    command = services["app-db"]["command"]
    max_connections = int(next(part.split("=")[1] for part in command if part.startswith("max_connections=")))
    api = int(services["api"]["environment"]["API_DB_POOL_SIZE"])
    worker = int(services["worker"]["environment"]["WORKER_DB_POOL_SIZE"])
    superuser_reserved, jobs = 3, 2
    assert api + 7 * worker + jobs <= max_connections - superuser_reserved


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_compose_refuses_to_start_without_its_secrets(missing: str) -> None:
    env = {k: v for k, v in {**os.environ, **REQUIRED}.items() if k != missing}
    result = _compose("config", "-q", env=env)
    assert result.returncode != 0
    assert missing in result.stderr
