"""Processes a test or benchmark kills: a worker is ``python worker.py`` with its own environment, and
``kill`` is SIGKILL, as an OOM killer or a lost node would do it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from keeptime.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def settings_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment that makes a worker process read ``settings`` (the fields that were set)."""
    env = {name.upper(): _env_value(getattr(settings, name)) for name in settings.model_fields_set}
    env.update(overrides)
    return env


def _env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


class ChildProcess:
    """A process with the given environment; ``kill`` is SIGKILL, as an OOM killer would."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path, *, cwd: Path = ROOT) -> None:
        self._argv = argv
        self._cwd = cwd
        self._env = {**os.environ, **env}
        self._log = log_path.open("ab")
        self._process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self._process = subprocess.Popen(
            self._argv,
            env=self._env,
            cwd=self._cwd,
            stdout=self._log,
            stderr=self._log,
        )

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
            self.kills += 1

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self.alive():
            assert self._process is not None
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class WorkerProcess(ChildProcess):
    """``python worker.py``: Keeptime's worker (``root``: another checkout's, e.g. a benchmark's baseline)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, root: Path = ROOT) -> None:
        super().__init__([sys.executable, str(root / "worker.py")], env, log_path, cwd=root)
