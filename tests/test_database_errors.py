"""Which database errors are an outage worth retrying (never a message failed as bad data)."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError

from db.engine import is_database_unavailable


def _wrapped(error: Exception) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, error)


def test_too_many_clients_and_a_restarting_server_are_outages_bad_data_is_not() -> None:
    assert is_database_unavailable(_wrapped(asyncpg.exceptions.TooManyConnectionsError("too many clients")))
    assert is_database_unavailable(_wrapped(asyncpg.exceptions.CannotConnectNowError("starting up")))
    assert is_database_unavailable(_wrapped(asyncpg.exceptions.AdminShutdownError("terminating")))
    assert not is_database_unavailable(_wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")))
    assert not is_database_unavailable(ValueError("bad data"))
