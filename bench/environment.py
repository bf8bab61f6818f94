"""What every delivery benchmark runs on: a PostgreSQL database (a database of its own on DATABASE_URL's
server, else an embedded server in a temporary directory), migrated; the SMTP and provider peers; a Temporal
dev server on a file; and a session factory. Everything is stopped and removed on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bench.stack_processes import TemporalServer
from db.embedded import EmbeddedPostgres, ensure_database
from db.engine import SessionFactory, create_engine, create_session_factory
from db.migrate import upgrade_async
from keeptime.settings import to_asyncpg_url
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import database_url_named


@dataclass
class BenchEnvironment:
    root: Path
    url: str
    postgres: EmbeddedPostgres | None  # None on an external DATABASE_URL
    temporal: TemporalServer
    sessions: SessionFactory
    smtp: SmtpPeer
    peer: ProviderPeer


@contextlib.asynccontextmanager
async def bench_environment(name: str, smtp: SmtpPeer, peer: ProviderPeer) -> AsyncIterator[BenchEnvironment]:
    root = Path(tempfile.mkdtemp(prefix=f"kt-{name}-", dir="/tmp"))
    postgres: EmbeddedPostgres | None = None
    if os.environ.get("DATABASE_URL"):
        url = database_url_named(to_asyncpg_url(os.environ["DATABASE_URL"]), f"keeptime_{name}_{os.getpid()}")
    else:
        postgres = await asyncio.to_thread(EmbeddedPostgres, root / "pgdata", delete_on_stop=True)
        url = postgres.url(f"keeptime_{name}")
    await ensure_database(url)
    await upgrade_async(url)
    smtp.start()
    await peer.start()
    temporal = TemporalServer(root)
    engine = create_engine(url, pool_size=10)
    try:
        await temporal.start()
        yield BenchEnvironment(root, url, postgres, temporal, create_session_factory(engine), smtp, peer)
    finally:
        temporal.stop()
        await peer.stop()
        smtp.stop()
        await engine.dispose()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
