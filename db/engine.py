"""Engine and session factory: one engine per event loop, sized to the worker's activity slots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine with optimistic disconnect handling, not ``pool_pre_ping``.

    A pre-ping is one more round trip on every checkout (7% of the worker's profile samples in a bench/load.py
    burst). Without it, the first statement on a connection a restarted PostgreSQL dropped fails as a
    disconnect; SQLAlchemy then invalidates that connection and recreates the pool, so every connection
    checked out later is new ("Disconnect Handling - Optimistic",
    https://docs.sqlalchemy.org/en/20/core/pooling.html#disconnect-handling-optimistic). That one failure
    is ``is_database_unavailable``: an activity is retried by Temporal, an API request answers 503.
    """
    return create_async_engine(database_url, pool_size=pool_size, max_overflow=0)


def count_database_work(engine: AsyncEngine, count: Callable[[str], None]) -> None:
    """Call ``count(kind)`` for every SQL statement (``statement``), transaction begun (``transaction``)
    and pool checkout (``checkout``) on ``engine``: what one request costs the database, as metrics."""
    sync_engine = engine.sync_engine

    def on_statement(*_: Any) -> None:
        count("statement")

    def on_begin(*_: Any) -> None:
        count("transaction")

    def on_checkout(*_: Any) -> None:
        count("checkout")

    event.listen(sync_engine, "before_cursor_execute", on_statement)
    event.listen(sync_engine, "begin", on_begin)
    event.listen(sync_engine.pool, "checkout", on_checkout)


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


def statement_session_factory(sessions: SessionFactory) -> SessionFactory:
    """Sessions on the same pool whose every statement is its own transaction (DBAPI autocommit).

    For code that commits after each single statement anyway (the notification log: one claim, one
    outcome): without it, each such statement costs three round trips (BEGIN, the statement, COMMIT), with
    it one; ``commit()`` is then a no-op. An ``Engine.execution_options(isolation_level=...)`` copy shares
    the original's pool, and the level is reverted when a connection goes back to it (SQLAlchemy 2.0,
    "Setting Transaction Isolation Levels including DBAPI Autocommit",
    https://docs.sqlalchemy.org/en/20/core/connections.html#setting-isolation-level-or-dbapi-autocommit-for-an-engine).
    Never for several statements that must commit together."""
    engine = sessions.kw.get("bind")  # what create_session_factory was given
    if not isinstance(engine, AsyncEngine):
        raise TypeError("statement_session_factory needs a session factory bound to one AsyncEngine")
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


def pool_size(sessions: SessionFactory) -> int:
    """The connections the factory's pool may hold at once (its size plus overflow)."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("pool_size needs a session factory bound to one AsyncEngine")
    pool = engine.sync_engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if not callable(size) or int(overflow) < 0:  # NullPool, or overflow without a limit
        return 1_000
    return int(size()) + int(overflow)


def is_database_unavailable(exc: BaseException) -> bool:
    """PostgreSQL cannot be reached right now (refused, dropped, restarting, or the pool timed out): worth a
    retry, unlike an error in the data itself that no retry will fix."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # SQLSTATE class 08 (connection exception), 53 (insufficient resources: "too many clients already") and
    # 57P (the server shutting down or restarting) pass once the server has room again: a retry, never a
    # message failed as bad data (PostgreSQL docs, Appendix A "PostgreSQL Error Codes").
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(("08", "53", "57P")):
        return True
    return isinstance(
        exc, OperationalError | InterfaceError | PoolTimeoutError | OSError | ConnectionError | TimeoutError
    )
