"""Types that cross the Temporal boundary for the database health check."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CheckDatabaseHealthInput(BaseModel):
    run_id: str = Field(description="Business key of this run; the report row is upserted under it.")
    dead_tuple_ratio_warning: float = 0.2
    # A few dead rows in a small table are normal: PostgreSQL's autovacuum waits for 50 + 20% of the rows
    # (autovacuum_vacuum_threshold, _scale_factor) before it even starts. Warn from this many dead rows on.
    dead_rows_floor: int = Field(default=1_000, ge=1)
    seq_scan_rows_hint: int = 10_000


class TableHealth(BaseModel):
    table: str
    total_bytes: int
    live_rows: int
    dead_rows: int
    seq_scans: int
    index_scans: int


class DatabaseHealthReport(BaseModel):
    report_id: int
    ok: bool
    server_version: str
    database_bytes: int
    tables: list[TableHealth]
    warnings: list[str]


def table_warnings(tables: list[TableHealth], request: CheckDatabaseHealthInput) -> list[str]:
    """What an operator should look at: tables where VACUUM is behind, big tables read without an index."""
    found: list[str] = []
    for t in tables:
        total = t.live_rows + t.dead_rows
        if t.dead_rows >= request.dead_rows_floor and t.dead_rows / total > request.dead_tuple_ratio_warning:
            found.append(f"{t.table}: {t.dead_rows} dead rows of {total}; VACUUM is behind")
        if t.live_rows >= request.seq_scan_rows_hint and t.seq_scans > t.index_scans:
            found.append(
                f"{t.table}: {t.seq_scans} sequential vs {t.index_scans} index scans; missing index?"
            )
    return found
