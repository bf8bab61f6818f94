"""Settings: environment parsing and the errors a misconfigured process gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.task_queues import ALL_TASK_QUEUES, APPOINTMENTS, NOTIFICATIONS
from keeptime.settings import DATABASE_URL_FILE, Settings, to_asyncpg_url


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
