"""Types that cross the Temporal boundary for the database health check."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CheckDatabaseHealthInput(BaseModel):
    run_id: str = Field(description="Business key of this run; the report row is upserted under it.")
    dead_tuple_ratio_warning: float = 0.2
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
