"""Settings: environment parsing and the errors a misconfigured process gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.task_queues import ALL_TASK_QUEUES, APPOINTMENTS, NOTIFICATIONS
from keeptime.settings import DATABASE_URL_FILE, DEV_SECRETS, Settings, to_asyncpg_url

SECRETS = {name.upper(): name[0] * 40 for name in DEV_SECRETS}  # one distinct value per purpose


def _deployment_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://book.example.com")


def test_defaults_are_local_and_poll_every_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.temporal_address == "localhost:7233"
    assert settings.api_port == 8080
    assert settings.worker_task_queues == list(ALL_TASK_QUEUES)
    assert settings.database_url is None


def test_the_public_url_follows_the_api_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert Settings().public_base_url == "http://localhost:8080"
    monkeypatch.setenv("API_PORT", "9090")
    assert Settings().public_base_url == "http://localhost:9090"  # links and callbacks reach this API
    monkeypatch.setenv("API_HOST", "keeptime.internal")
    assert Settings().public_base_url == "http://keeptime.internal:9090"
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://book.example.com")
    assert Settings().public_base_url == "https://book.example.com"


def test_environment_overrides_and_queue_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    _deployment_secrets(monkeypatch)
    monkeypatch.setenv("WORKER_TASK_QUEUES", f"{APPOINTMENTS}, {NOTIFICATIONS}")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/keeptime")
    settings = Settings()
    assert settings.worker_task_queues == [APPOINTMENTS, NOTIFICATIONS]
    assert settings.temporal_port == 7233
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/keeptime"


def test_short_queue_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_TASK_QUEUES", "appointments,notifications")
    assert Settings().worker_task_queues == [APPOINTMENTS, NOTIFICATIONS]


def test_unknown_queue_is_rejected_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_TASK_QUEUES", "keeptime-appointmnts")
    with pytest.raises(ValidationError, match="keeptime-appointmnts"):
        Settings()


def test_non_postgres_url_is_rejected() -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        to_asyncpg_url("mysql://root@localhost/x")


def test_missing_database_url_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("KEEPTIME_DATA_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="make run"):
        Settings().require_database_url()


def test_management_commands_find_the_running_embedded_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("KEEPTIME_DATA_DIR", str(tmp_path))
    (tmp_path / DATABASE_URL_FILE).write_text("postgresql://postgres@127.0.0.1:5999/keeptime\n")
    assert Settings().require_database_url() == "postgresql+asyncpg://postgres@127.0.0.1:5999/keeptime"


def test_development_mode_is_the_embedded_dev_server_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EMBEDDED_TEMPORAL", "TEMPORAL_ADDRESS", *SECRETS):
        monkeypatch.delenv(name, raising=False)
    assert Settings().development_mode  # the laptop: published dev secrets are fine
    assert Settings(temporal_address="127.0.0.1:7999").development_mode
    _deployment_secrets(monkeypatch)
    assert not Settings(embedded_temporal=False).development_mode
    assert not Settings(temporal_address="temporal.internal:7233").development_mode  # a real cluster


@pytest.mark.parametrize(
    ("change", "blamed"),
    [
        ({"ADMIN_API_KEY": "dev-admin-key"}, "ADMIN_API_KEY is a published"),
        ({"UNSUBSCRIBE_SECRET": "change-me"}, "UNSUBSCRIBE_SECRET is a published"),
        ({"PUSH_RECEIPT_SECRET": "Dev-Webhook-Secret"}, "PUSH_RECEIPT_SECRET is a published"),
        ({"PUSH_RECEIPT_SECRET": "x" * 31}, "PUSH_RECEIPT_SECRET has fewer than 32"),
        ({"UNSUBSCRIBE_SECRET": SECRETS["ADMIN_API_KEY"]}, "UNSUBSCRIBE_SECRET is the same as ADMIN_API_KEY"),
        ({"PUBLIC_BASE_URL": "http://book.example.com"}, "PUBLIC_BASE_URL must be an https"),
        ({"UNSUBSCRIBE_SECRET": None}, "UNSUBSCRIBE_SECRET is a published"),  # left at its default
    ],
)
def test_a_deployment_refuses_to_start_with_a_published_short_shared_or_plain_http_setting(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, str | None], blamed: str
) -> None:
    _deployment_secrets(monkeypatch)
    monkeypatch.setenv("EMBEDDED_TEMPORAL", "false")
    assert not Settings().development_mode  # the good values start
    for name, value in change.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=blamed):
        Settings()
